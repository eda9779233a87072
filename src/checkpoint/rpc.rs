//! The messages of CRIU's RPC (criu's rpc.proto, proto2), only the fields
//! strata sends or reads. Field numbers are rpc.proto's; unknown fields in
//! CRIU's answers are skipped by the decoder.

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum ReqType {
    Empty = 0,
    Dump = 1,
    Restore = 2,
    Check = 3,
    PreDump = 4,
    PageServer = 5,
    Notify = 6,
    CpuinfoDump = 7,
    CpuinfoCheck = 8,
    FeatureCheck = 9,
    Version = 10,
}

/// criu_cg_mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CgMode {
    Ignore = 0,
    CgNone = 1,
    Props = 2,
    Soft = 3,
    Full = 4,
    Strict = 5,
    Default = 6,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtMountMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub val: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InheritFd {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(int32, required, tag = "2")]
    pub fd: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CgroupRoot {
    #[prost(string, optional, tag = "1")]
    pub ctrl: Option<String>,
    #[prost(string, required, tag = "2")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Opts {
    #[prost(int32, required, tag = "1")]
    pub images_dir_fd: i32,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    #[prost(bool, optional, tag = "3")]
    pub leave_running: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub ext_unix_sk: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub tcp_established: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub evasive_devices: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub shell_job: Option<bool>,
    #[prost(bool, optional, tag = "8")]
    pub file_locks: Option<bool>,
    #[prost(int32, optional, tag = "9")]
    pub log_level: Option<i32>,
    #[prost(string, optional, tag = "10")]
    pub log_file: Option<String>,
    #[prost(bool, optional, tag = "12")]
    pub notify_scripts: Option<bool>,
    #[prost(string, optional, tag = "13")]
    pub root: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub parent_img: Option<String>,
    #[prost(bool, optional, tag = "15")]
    pub track_mem: Option<bool>,
    #[prost(bool, optional, tag = "16")]
    pub auto_dedup: Option<bool>,
    #[prost(int32, optional, tag = "17")]
    pub work_dir_fd: Option<i32>,
    #[prost(message, repeated, tag = "23")]
    pub ext_mnt: Vec<ExtMountMap>,
    #[prost(bool, optional, tag = "24")]
    pub manage_cgroups: Option<bool>,
    #[prost(message, repeated, tag = "25")]
    pub cg_root: Vec<CgroupRoot>,
    #[prost(bool, optional, tag = "26")]
    pub rst_sibling: Option<bool>,
    #[prost(message, repeated, tag = "27")]
    pub inherit_fd: Vec<InheritFd>,
    #[prost(enumeration = "CgMode", optional, tag = "34")]
    pub manage_cgroups_mode: Option<i32>,
    #[prost(string, repeated, tag = "37")]
    pub external: Vec<String>,
    #[prost(uint32, optional, tag = "38")]
    pub empty_ns: Option<u32>,
    #[prost(string, optional, tag = "44")]
    pub freeze_cgroup: Option<String>,
    #[prost(bool, optional, tag = "50")]
    pub orphan_pts_master: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Req {
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(message, optional, tag = "2")]
    pub opts: Option<Opts>,
    #[prost(bool, optional, tag = "3")]
    pub notify_success: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RestoreResp {
    #[prost(int32, required, tag = "1")]
    pub pid: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Notify {
    #[prost(string, optional, tag = "1")]
    pub script: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Version {
    #[prost(int32, required, tag = "1")]
    pub major_number: i32,
    #[prost(int32, required, tag = "2")]
    pub minor_number: i32,
    #[prost(string, optional, tag = "3")]
    pub gitid: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub sublevel: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Resp {
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(bool, required, tag = "2")]
    pub success: bool,
    #[prost(message, optional, tag = "4")]
    pub restore: Option<RestoreResp>,
    #[prost(message, optional, tag = "5")]
    pub notify: Option<Notify>,
    #[prost(int32, optional, tag = "7")]
    pub cr_errno: Option<i32>,
    #[prost(string, optional, tag = "9")]
    pub cr_errmsg: Option<String>,
    #[prost(message, optional, tag = "10")]
    pub version: Option<Version>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn request_bytes_match_protoc() {
        // A DUMP request with images_dir_fd 5, pid 42 and one ext mount, as
        // protoc's encoder lays it out (field order, varints, lengths).
        let req = Req {
            r#type: ReqType::Dump as i32,
            opts: Some(Opts {
                images_dir_fd: 5,
                pid: Some(42),
                ext_mnt: vec![ExtMountMap {
                    key: "/a".into(),
                    val: "/a".into(),
                }],
                ..Default::default()
            }),
            notify_success: None,
        };
        let want = [
            0x08, 0x01, 0x12, 0x0f, 0x08, 0x05, 0x10, 0x2a, 0xba, 0x01, 0x08, 0x0a, 0x02, b'/',
            b'a', 0x12, 0x02, b'/', b'a',
        ];
        assert_eq!(req.encode_to_vec(), want);
    }

    #[test]
    fn response_with_unknown_fields_decodes() {
        // type RESTORE, success, restore{pid 7}, plus field 11 (status) that
        // strata does not declare.
        let bytes = [0x08, 0x02, 0x10, 0x01, 0x22, 0x02, 0x08, 0x07, 0x58, 0x00];
        let r = Resp::decode(&bytes[..]).expect("decode");
        assert_eq!(r.r#type, ReqType::Restore as i32);
        assert!(r.success);
        assert_eq!(r.restore.map(|x| x.pid), Some(7));
    }
}
