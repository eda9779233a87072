//! config.md / config-linux.md fields no other group covers: linux.timeOffsets,
//! linux.rootfsPropagation, linux.seccomp.listenerPath/listenerMetadata, and the fields a
//! runtime may refuse (intelRdt, netDevices; mountLabel and selinuxLabel on a host without
//! SELinux; an apparmorProfile that is not loaded, or on a host without AppArmor): refused
//! means one error line naming the field, nothing left. The lsm group applies them.
use super::{refused, rep_mount};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// How a refusal case edits the otherwise valid bundle.
type Edit = fn(&mut Bundle);

/// (test name, config field named in the error, how the bundle asks for it)
const REFUSED: &[(&str, &str, Edit)] = &[
    ("refuses_intel_rdt", "intelRdt", |b| {
        b.config["linux"]["intelRdt"] = json!({"closID": "strata-test", "l3CacheSchema": "L3:0=f"});
    }),
    ("refuses_net_devices", "netDevices", |b| {
        b.config["ociVersion"] = json!("1.3.0");
        b.config["linux"]["netDevices"] = json!({"strata-nodev0": {"name": "eth9"}});
    }),
    ("mount_label_without_selinux", "mountLabel", |b| {
        b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    }),
    // No such profile is loaded (or there is no AppArmor): refused on any host.
    ("apparmor_profile_not_loaded", "apparmorProfile", |b| {
        b.config["process"]["apparmorProfile"] = json!("strata-test-not-loaded");
    }),
    ("selinux_label_without_selinux", "selinuxLabel", |b| {
        b.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    }),
    // Offsets are a property of a new time namespace; without one they cannot be applied.
    ("time_offsets_without_time_ns", "timeOffsets", |b| {
        b.config["ociVersion"] = json!("1.1.0");
        b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400}});
    }),
    ("rootfs_propagation_unknown", "rootfsPropagation", |b| {
        b.config["linux"]["rootfsPropagation"] = json!("bogus");
    }),
    // config-linux.md: "When the action doesn't support an errno, the runtime MUST print and
    // error and fail."
    (
        "seccomp_default_errno_ret_without_errno_action",
        "defaultErrnoRet",
        |b| {
            b.config["linux"]["seccomp"] =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5});
        },
    ),
];

/// runc 1.1.5, checked by hand: it fails on all of these but the two 1.3/1.1 fields it
/// predates, each in one line, but names no field for AppArmor, SELinux or mountLabel
/// (nor the profile: "write /proc/self/attr/exec: invalid argument" without AppArmor).
const RUNC_DEVIATIONS: &[(&str, &str)] = &[
    (
        "refuses_net_devices",
        "predates netDevices (runtime-spec 1.3) and ignores it",
    ),
    (
        "mount_label_without_selinux",
        "fails only when the kernel rejects the label as a context= mount option; names no field",
    ),
    (
        "apparmor_profile_not_loaded",
        "fails only when writing /proc/self/attr/exec; names no field",
    ),
    (
        "selinux_label_without_selinux",
        "refuses it as \"selinux label\", not by the field name",
    ),
    (
        "time_offsets_without_time_ns",
        "1.1 predates timeOffsets and ignores them",
    ),
    (
        "seccomp_default_errno_ret_without_errno_action",
        "accepts defaultErrnoRet with a default action that returns no errno",
    ),
];

pub fn tests() -> Vec<Test> {
    let mut v: Vec<Test> = REFUSED
        .iter()
        .map(|&(name, field, edit)| {
            let t = Test::new(&format!("config_misc::{name}"), move |ctx| {
                refuses_edit(ctx, field, edit)
            });
            match RUNC_DEVIATIONS.iter().find(|(n, _)| *n == name) {
                Some((_, why)) => t.deviates("runc", why),
                None => t,
            }
        })
        .collect();
    v.push(
        Test::new("config_misc::time_offsets", time_offsets)
            .deviates("runc", "1.1 has no time namespace (runc 1.2 added it)"),
    );
    v.push(Test::new(
        "config_misc::rootfs_propagation_private",
        rootfs_propagation_private,
    ));
    v.push(Test::new("config_misc::rootfs_propagation_slave", |ctx| {
        rootfs_propagation(ctx, "slave")
    }));
    v.push(
        Test::new("config_misc::rootfs_propagation_shared", |ctx| {
            rootfs_propagation(ctx, "shared")
        })
        .deviates(
            "runc",
            "1.1.5 applies the mode only before pivot_root: the container's / is not shared",
        ),
    );
    v.push(
        Test::new("config_misc::rootfs_propagation_unbindable", |ctx| {
            rootfs_propagation(ctx, "unbindable")
        })
        .deviates(
            "runc",
            "1.1.5 makes / unbindable before binding the rootfs: create fails with EINVAL",
        ),
    );
    v.push(Test::new("config_misc::seccomp_listener", seccomp_listener));
    v.push(Test::new("config_misc::seccomp_flags", seccomp_flags).deviates(
        "runc",
        "1.1.5 refuses any linux.seccomp.flags (\"seccomp flags are not yet supported by runc\")",
    ));
    v.extend(crate::tests!("config_misc";
        tmpcopyup, superblock_flags, unknown_properties_ignored, features_versions_accepted,
        device_fifo_owner));
    v
}

/// runtime.md "Valid values"/"Errors": create of a bundle changed by `edit` is refused over
/// `field` ([`refused`]).
fn refuses_edit(ctx: &Ctx, field: &str, edit: Edit) -> TResult {
    if field.ends_with("Label") && std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        crate::skip!("this host has SELinux: the label may well apply");
    }
    let mut b = ctx.bundle()?;
    edit(&mut b);
    Ok(refused(ctx, &b, &ctx.try_create(&b, &[])?, &[field])?)
}

/// config-linux.md "Offset for Time Namespace": the offsets are those of the new time
/// namespace (time_namespaces(7): /proc/PID/timens_offsets).
fn time_offsets(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["ociVersion"] = json!("1.1.0");
    b.namespace("time", None);
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400, "nanosecs": 5},
        "boottime": {"secs": 3600},
    });
    b.args(&["/probe", "cat", "/proc/self/timens_offsets"]);
    let out = ctx.run(&b, &[])?.check()?;
    let mut lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    lines.sort();
    ensure_eq!(
        lines,
        vec![
            vec!["boottime", "3600", "0"],
            vec!["monotonic", "86400", "5"]
        ],
        "timens_offsets"
    );
    Ok(())
}

/// The optional fields (`shared:N`, `master:N`, `unbindable`) of a mountinfo line.
fn tags(line: &str) -> Vec<String> {
    let left = line.split(" - ").next().unwrap_or("");
    left.split(' ').skip(6).map(str::to_string).collect()
}

/// config-linux.md "Rootfs Mount Propagation": `private` leaves the container's root mount
/// in no peer group and receiving from none.
fn rootfs_propagation_private(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["rootfsPropagation"] = json!("private");
    let rep = ctx.report(&mut b)?;
    let lines = rep["mountinfo"].as_array().cloned().unwrap_or_default();
    let root = lines
        .iter()
        .filter_map(Value::as_str)
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .ctx("no / mount in the container")?;
    ensure_eq!(
        tags(root),
        Vec::<String>::new(),
        "propagation of / ({root})"
    );
    Ok(())
}

/// config-linux.md "Rootfs Mount Propagation" with pivot_root: the container's "/" has the
/// mode asked for (`shared`: a peer group of its own; `unbindable`; `slave`: no peer group,
/// so nothing it mounts reaches the host; the harness's "/" is private, so there is no
/// master either).
fn rootfs_propagation(ctx: &Ctx, mode: &str) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["rootfsPropagation"] = json!(mode);
    let rep = ctx.report(&mut b)?;
    let lines = rep["mountinfo"].as_array().cloned().unwrap_or_default();
    let root = lines
        .iter()
        .filter_map(Value::as_str)
        .rfind(|l| l.split(' ').nth(4) == Some("/"))
        .ctx("no / mount in the container")?;
    let t = tags(root);
    match mode {
        "shared" => ensure!(
            t.len() == 1 && t[0].starts_with("shared:"),
            "/ is not shared: {root}"
        ),
        "unbindable" => ensure_eq!(t, vec!["unbindable".to_string()], "tags of / ({root})"),
        _ => ensure!(
            !t.iter().any(|x| x.starts_with("shared:")),
            "/ is shared: {root}"
        ),
    }
    Ok(())
}

/// One message and the fds passed with it.
fn recv_with_fds(sock: RawFd) -> Result<(String, Vec<OwnedFd>), String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx("recvmsg on the listener socket")?;
    let mut fds = vec![];
    for c in msg.cmsgs().ctx("control messages")? {
        if let ControlMessageOwned::ScmRights(v) = c {
            // SAFETY: SCM_RIGHTS installed these fds in this process; each is owned once.
            fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let n = msg.bytes;
    Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), fds))
}

/// config-linux.md "Seccomp" / "The Container Process State": with an SCMP_ACT_NOTIFY rule
/// the runtime connects to listenerPath and sends the state (fds, pid, metadata, state) with
/// the notify fd. The listener then closes the fd, so the notified mkdir fails with ENOSYS.
fn seccomp_listener(ctx: &Ctx) -> TResult {
    let sock = ctx.path("seccomp.sock");
    let listener = UnixListener::bind(&sock).ctx("bind the listener socket")?;
    let mut b = ctx.bundle()?;
    b.config["ociVersion"] = json!("1.0.2");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "listenerPath": sock,
        "listenerMetadata": "strata-test-metadata",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    });
    b.args(&["/probe", "mkdir", "/tmp/notified"]);
    let got = std::thread::spawn(move || -> Result<(String, usize), String> {
        let (conn, _) = listener.accept().ctx("accept on the listener socket")?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .ctx("read timeout")?;
        let (text, fds) = recv_with_fds(conn.as_raw_fd())?;
        Ok((text, fds.len())) // the fds close here: the notification gets ENOSYS
    });
    let out = ctx.run(&b, &[])?;
    // A runtime that never connects would leave the thread in accept: wake it.
    let _ = std::os::unix::net::UnixStream::connect(&sock);
    let (text, nfds) = got
        .join()
        .map_err(|_| "listener thread panicked".to_string())??;
    let out = out.check()?;
    let msg: Value = serde_json::from_str(&text).ctx(format!("listener message {text:?}"))?;
    ensure_eq!(nfds, 1, "fds passed with the message ({msg})");
    ensure_eq!(msg["fds"], json!(["seccompFd"]), "fds ({msg})");
    ensure_eq!(msg["metadata"], "strata-test-metadata", "metadata ({msg})");
    ensure_eq!(msg["state"]["id"], b.id.as_str(), "state.id ({msg})");
    ensure!(
        msg["pid"].as_i64().is_some_and(|p| p > 0) && msg["ociVersion"].is_string(),
        "pid and ociVersion ({msg})"
    );
    let mkdir: Value =
        serde_json::from_str(out.stdout.trim()).ctx(format!("probe output {:?}", out.stdout))?;
    ensure_eq!(
        mkdir,
        json!({"ok": false, "errno": libc::ENOSYS}),
        "mkdir after the listener closed the fd"
    );
    Ok(())
}

/// config-linux.md "Seccomp" `flags`: the filter loads with SECCOMP_FILTER_FLAG_LOG and
/// SECCOMP_FILTER_FLAG_SPEC_ALLOW and its rules still apply.
fn seccomp_flags(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    });
    b.args(&["/probe", "mkdir", "/tmp/blocked"]);
    let out = ctx.run(&b, &[])?.check()?;
    let got: Value =
        serde_json::from_str(out.stdout.trim()).ctx(format!("probe output {:?}", out.stdout))?;
    ensure_eq!(
        got,
        json!({"ok": false, "errno": 13}),
        "mkdir under the filter"
    );
    Ok(())
}

/// config.md "Linux mount options" `tmpcopyup`: the tmpfs starts with a copy of what the
/// directory it covers held.
fn tmpcopyup(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    std::fs::write(b.rootfs().join("etc/copied"), "from the image\n").ctx("write etc/copied")?;
    b.mount(
        json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                   "options": ["tmpcopyup", "nosuid", "mode=755"]}),
    );
    b.args(&[
        "/bin/sh",
        "-c",
        "cat /etc/copied && ls /etc && grep ' /etc ' /proc/self/mountinfo",
    ]);
    let out = ctx.run(&b, &[])?.check()?;
    let mut lines = out.stdout.lines();
    ensure_eq!(
        lines.next(),
        Some("from the image"),
        "/etc/copied in the container"
    );
    let rest: Vec<&str> = lines.collect();
    for f in ["copied", "group", "passwd"] {
        ensure!(rest.contains(&f), "/etc lacks {f}: {rest:?}");
    }
    ensure!(
        rest.iter().any(|l| l.contains(" - tmpfs ")),
        "/etc is not a tmpfs: {rest:?}"
    );
    Ok(())
}

/// config.md "Extensibility": unknown properties (top level, in process, in linux, in a
/// mount) are ignored, not errors.
fn unknown_properties_ignored(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["org.example.unknown"] = json!({"nested": [1, 2]});
    b.config["process"]["org.example.unknown"] = json!(true);
    b.config["linux"]["org.example.unknown"] = json!("x");
    b.config["root"]["org.example.unknown"] = json!(7);
    let rep = ctx.report(&mut b)?;
    ensure_eq!(rep["hostname"], "runtime-tests", "hostname");
    Ok(())
}

/// features.md: the runtime "MUST accept" ociVersionMin and ociVersionMax as a config's
/// ociVersion.
fn features_versions_accepted(ctx: &Ctx) -> TResult {
    let out = ctx.rt(&["features"])?.check()?;
    let doc: Value =
        serde_json::from_str(&out.stdout).ctx(format!("features output {:?}", out.stdout))?;
    for key in ["ociVersionMin", "ociVersionMax"] {
        let v = doc[key].as_str().ctx(format!("features {key} ({doc})"))?;
        let mut b = ctx.bundle()?;
        b.config["ociVersion"] = json!(v);
        let rep = ctx
            .report(&mut b)
            .map_err(|e| format!("ociVersion {v} ({key}): {e}"))?;
        ensure_eq!(rep["pid"], 1, "pid with ociVersion {v}");
    }
    Ok(())
}

/// config-linux.md "Devices": type `p`, fileMode, uid and gid (linux_devices covers `c`).
fn device_fifo_owner(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["devices"] = json!([{"path": "/dev/strata-fifo", "type": "p",
                                           "fileMode": 0o600, "uid": 1000, "gid": 1001}]);
    let rep = ctx.report(&mut b)?;
    let d = &rep["dev"]["strata-fifo"];
    ensure_eq!(
        (&d["type"], &d["mode"], &d["uid"], &d["gid"]),
        (&json!("p"), &json!(0o600), &json!(1000), &json!(1001)),
        "/dev/strata-fifo ({d})"
    );
    Ok(())
}

/// config.md "Linux mount options" `sync`, `dirsync`, `lazytime` (MUST): superblock flags of a
/// fresh mount, shown in its super options.
fn superblock_flags(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.mount(
        json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                   "options": ["sync", "dirsync", "lazytime"]}),
    );
    let rep = ctx.report(&mut b)?;
    let m = rep_mount(&rep, "/mnt")?;
    for o in ["sync", "dirsync", "lazytime"] {
        ensure!(super::has_opt(&m.super_options, o), "/mnt lacks {o}: {m:?}");
    }
    Ok(())
}
