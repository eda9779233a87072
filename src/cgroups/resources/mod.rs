//! One translation of spec resources into (controller, file, value)
//! writes, for v1 and v2 alike: the two differ only in file names and
//! value formats. This file is the core (the `Host` a plan is made for,
//! the write list, checks over several controllers); each controller's
//! fields are translated in its own file.

mod blkio;
mod cpu;
mod devices;
mod hugetlb;
mod memory;
mod network;
mod pids;
mod rdma;
mod unified;
mod validate;

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

pub use devices::{defaults_at, DEFAULT_ALLOW};
pub use hugetlb::hugepage_sizes;
pub use pids::drop_unset_pids;
pub use validate::validate;

pub struct Write {
    pub controller: &'static str,
    /// Written in the cgroup2 directory (else the v1 hierarchy of
    /// `controller`): chosen per controller, as a hybrid host mixes both.
    pub v2: bool,
    pub file: String,
    pub value: String,
    /// The spec field, for the error line ("blockIO.weight").
    pub field: &'static str,
}

/// What the translation needs to know about the host.
pub trait Host {
    /// Where `controller` (its v1 name: "blkio", not "io") lives:
    /// Some(false) a v1 hierarchy, Some(true) cgroup2, None nowhere.
    fn v2(&self, controller: &str) -> Option<bool>;
    /// Whether the kernel offers `file` in the container's cgroup.
    fn has(&self, controller: &str, v2: bool, file: &str) -> bool;
    /// A file's content (for usage checks), trimmed.
    fn read(&self, controller: &str, v2: bool, file: &str) -> Option<String>;
    /// Huge page sizes the kernel offers, as the spec names them ("2MB").
    fn hugepage_sizes(&self) -> Vec<String>;
    /// No v1 hierarchy at all (messages and v1-only fields).
    fn pure_v2(&self) -> bool;
    /// The controllers of the container's cgroup2 directory, or None
    /// without cgroup2 (for `unified`).
    fn unified(&self) -> Option<Vec<String>>;
}

pub(super) fn w(
    controller: &'static str,
    v2: bool,
    field: &'static str,
    file: impl Into<String>,
    value: impl ToString,
) -> Write {
    Write {
        controller,
        v2,
        file: file.into(),
        value: value.to_string(),
        field,
    }
}

/// The version holding `controller`, or the error naming the field.
pub(super) fn need(host: &dyn Host, controller: &str, field: &str) -> Result<bool> {
    host.v2(controller).ok_or_else(|| {
        Error::invalid(format!(
            "linux.resources.{field}: no {controller} controller on this host"
        ))
    })
}

pub(super) fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Every write for `r` on `host`, in the order they must happen, or the
/// first field the host cannot apply.
pub fn writes(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if r.devices().is_some() && !host.pure_v2() {
        need(host, "devices", "devices")?;
        devices::writes(r, &mut out);
    }
    if let Some(p) = r.pids() {
        let v2 = need(host, "pids", "pids")?;
        // runtime-spec 1.3: 0 is a real limit and -1 means max. An absent
        // limit never gets here: `drop_unset_pids` removed the object.
        let v = if p.limit() >= 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        out.push(w("pids", v2, "pids.limit", "pids.max", v));
    }
    memory::writes(r, host, &mut out)?;
    cpu::writes(r, host, &mut out)?;
    blkio::writes(r, host, &mut out)?;
    hugetlb::writes(r, host, &mut out)?;
    network::writes(r, host, &mut out)?;
    rdma::writes(r, host, &mut out)?;
    unified::writes(r, host, &mut out)?;
    Ok(out)
}

/// Fields accepted but not applied, each as a warning line. Kernel memory
/// limits are deprecated and ignored exactly as runc 1.1 and 1.2 do
/// ("Kernel memory settings are ignored and will be removed"): gone from
/// v2 and broken on new v1 kernels. v2 has no swappiness or OOM-killer
/// switch; runc ignores those there too.
#[allow(deprecated)]
pub fn warnings(r: &LinuxResources, host: &dyn Host) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(m) = r.memory().as_ref() else {
        return out;
    };
    if m.kernel().is_some() || m.kernel_tcp().is_some() {
        out.push(
            "linux.resources.memory.kernel/kernelTCP: ignored (deprecated; runc ignores them too)",
        );
    }
    if host.v2("memory") == Some(true) {
        if m.swappiness().is_some() {
            out.push("linux.resources.memory.swappiness: ignored (cgroup v2 has no per-cgroup swappiness)");
        }
        if m.disable_oom_killer() == Some(true) {
            out.push("linux.resources.memory.disableOOMKiller: ignored (cgroup v2 cannot disable the OOM killer)");
        }
    }
    out
}

/// checkBeforeUpdate: refuse a limit below what the cgroup already uses
/// (v1 refuses it itself, v2 would OOM-kill instead).
pub fn check_before_update(r: &LinuxResources, host: &dyn Host) -> Result<()> {
    let Some(m) = r
        .memory()
        .as_ref()
        .filter(|m| m.check_before_update() == Some(true))
    else {
        return Ok(());
    };
    let Some(limit) = m.limit().filter(|&l| l > 0) else {
        return Ok(());
    };
    let Some(v2) = host.v2("memory") else {
        return Ok(());
    };
    let file = if v2 {
        "memory.current"
    } else {
        "memory.usage_in_bytes"
    };
    let usage: i64 = host
        .read("memory", v2, file)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if usage > limit {
        return Err(Error::invalid(format!(
            "linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::devices::defaults_after;
    use super::*;

    fn rules(v: serde_json::Value) -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
        serde_json::from_value(v).expect("device rules")
    }

    #[test]
    fn default_devices_follow_the_config_rules() {
        let r = rules(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rw"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
        ]));
        let after = defaults_after(&r[defaults_at(&r)..]);
        assert_eq!(after[0], "c *:* m");
        assert!(after.contains(&"c 1:5 m".to_string()));
        assert!(after.contains(&"c 1:3 r".to_string()));
        assert!(after.contains(&"c 136:* rwm".to_string()));
        assert_eq!(after.len(), DEFAULT_ALLOW.len());
        // After an allow-all the defaults would remove exceptions.
        let r = rules(serde_json::json!([{"allow": true, "access": "rwm"}]));
        assert!(defaults_after(&r).is_empty());
        // A deny of a whole default drops it.
        let r = rules(serde_json::json!([{"allow": false, "type": "b", "access": "m"}]));
        assert!(!defaults_after(&r).contains(&"b *:* m".to_string()));
    }

    #[test]
    fn unset_pids_limit_is_dropped_but_zero_is_kept() {
        let mut r = serde_json::json!({"pids": {}, "memory": {"limit": 1}});
        drop_unset_pids(&mut r);
        assert_eq!(r, serde_json::json!({"memory": {"limit": 1}}));
        let mut r = serde_json::json!({"pids": {"limit": 0}});
        drop_unset_pids(&mut r);
        assert_eq!(r, serde_json::json!({"pids": {"limit": 0}}));
    }

    /// A host: `v1` controllers in v1 hierarchies, `v2` ones in cgroup2,
    /// and the files that exist.
    struct Fake {
        v1: &'static [&'static str],
        v2: &'static [&'static str],
        files: &'static [&'static str],
    }

    impl Host for Fake {
        fn v2(&self, c: &str) -> Option<bool> {
            let n = if c == "blkio" { "io" } else { c };
            if self.v1.contains(&c) {
                Some(false)
            } else {
                self.v2.contains(&n).then_some(true)
            }
        }
        fn has(&self, _: &str, _: bool, f: &str) -> bool {
            self.files.contains(&f)
        }
        fn read(&self, _: &str, _: bool, _: &str) -> Option<String> {
            Some("1000000".into())
        }
        fn hugepage_sizes(&self) -> Vec<String> {
            vec!["2MB".into(), "1GB".into()]
        }
        fn pure_v2(&self) -> bool {
            self.v1.is_empty()
        }
        fn unified(&self) -> Option<Vec<String>> {
            Some(self.v2.iter().map(|s| s.to_string()).collect())
        }
    }

    const HYBRID: Fake = Fake {
        v1: &["cpu", "memory", "blkio", "pids", "devices", "cpuset"],
        v2: &["hugetlb"],
        files: &[
            "blkio.bfq.weight",
            "hugetlb.2MB.rsvd.max",
            "hugetlb.2MB.max",
        ],
    };
    const V2: Fake = Fake {
        v1: &[],
        v2: &["cpu", "memory", "io", "pids", "cpuset", "hugetlb"],
        files: &["io.weight", "cpu.idle", "pids.max"],
    };

    fn plan(host: &Fake, r: serde_json::Value) -> Result<Vec<(bool, String, String)>> {
        let r: LinuxResources = serde_json::from_value(r).expect("resources");
        validate(&r)?;
        Ok(writes(&r, host)?
            .into_iter()
            .map(|w| (w.v2, w.file, w.value))
            .collect())
    }

    #[test]
    fn hybrid_hugetlb_goes_to_cgroup2_with_rsvd() {
        let r = serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
        let got = plan(&HYBRID, r).expect("plan");
        assert_eq!(
            got,
            vec![
                (true, "hugetlb.2MB.max".into(), "4194304".into()),
                (true, "hugetlb.2MB.rsvd.max".into(), "4194304".into()),
            ]
        );
        let bad = serde_json::json!({"hugepageLimits": [{"pageSize": "4MB", "limit": 1}]});
        assert!(plan(&HYBRID, bad).is_err());
    }

    #[test]
    fn blkio_weight_per_version() {
        let r = serde_json::json!({"blockIO": {"weight": 500}});
        let v1 = plan(&HYBRID, r.clone()).expect("v1");
        assert_eq!(v1, vec![(false, "blkio.bfq.weight".into(), "500".into())]);
        let v2 = plan(&V2, r).expect("v2");
        assert_eq!(v2, vec![(true, "io.weight".into(), "4950".into())]);
        let leaf = serde_json::json!({"blockIO": {"leafWeight": 500}});
        assert!(plan(&V2, leaf).is_err());
    }

    #[test]
    fn refusals_by_layout() {
        let rt = serde_json::json!({"cpu": {"realtimeRuntime": 1000}});
        assert!(plan(&V2, rt).is_err());
        let net = serde_json::json!({"network": {"classID": 5}});
        assert!(plan(&V2, net.clone()).is_err());
        assert!(plan(&HYBRID, net).is_err());
        let uni = serde_json::json!({"unified": {"pids.max": "3"}});
        assert!(plan(&HYBRID, uni.clone()).is_err());
        assert_eq!(
            plan(&V2, uni).expect("v2 unified"),
            vec![(true, "pids.max".into(), "3".into())]
        );
        let bad = serde_json::json!({"unified": {"../cgroup.procs": "1"}});
        assert!(plan(&V2, bad).is_err());
    }

    #[test]
    fn idle_after_weight_and_burst() {
        let r =
            serde_json::json!({"cpu": {"shares": 1024, "idle": 1, "quota": 50000, "burst": 1000}});
        let files: Vec<String> = plan(&V2, r).expect("v2").into_iter().map(|w| w.1).collect();
        assert_eq!(
            files,
            ["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle"]
        );
        let big = serde_json::json!({"cpu": {"quota": 1000, "burst": 5000}});
        assert!(plan(&V2, big).is_err());
    }
}
