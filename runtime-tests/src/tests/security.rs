//! security.md rows that apply to a basic runtime: symlinked /proc and /sys, leaked fds
//! (CVE-2024-21626), read-only cgroupfs, the bounding set in a user namespace. (Other
//! capability checks and noNewPrivileges: config_process.)
use super::{has_opt, refused, rep_mounts};
use crate::bundle::Bundle;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, sys};
use serde_json::{json, Value};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The fd number the leaked host directory gets in the runtime process.
const LEAKED_FD: i32 = 42;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("security";
        proc_symlink_rejected, sys_symlink_confined, inherited_fd_not_leaked,
        created_init_holds_no_caller_fd, cwd_proc_self_fd, caps_bounding_in_userns);
    // runc 1.1.5 mounts cgroupfs with the config's options only (config_mounts_cgroup has the
    // same deviation for what the container sees there).
    v.push(
        Test::new("security::cgroupfs_readonly", cgroupfs_readonly).deviates(
            "runc",
            "cgroupfs is writable without a cgroup namespace unless the config says ro",
        ),
    );
    v
}

/// Replaces `rootfs/<name>` with a symlink to a fresh host dir and returns that dir.
pub fn symlink_out(ctx: &Ctx, b: &Bundle, name: &str) -> Result<std::path::PathBuf, String> {
    let target = ctx.host_dir(&format!("host-{name}-target"))?;
    let link = b.rootfs().join(name);
    std::fs::remove_dir(&link).ctx(format!("rmdir {}", link.display()))?;
    std::os::unix::fs::symlink(&target, &link).ctx("symlink")?;
    Ok(target)
}

/// The host file `path` still holds `want` (an attack did not write through to it).
pub fn unchanged(path: &Path, want: &str) -> Result<(), String> {
    let got = std::fs::read_to_string(path).ctx(path.display())?;
    super::require(got == want, format!("{} changed: {got:?}", path.display()))
}

/// The attack's bundle minus the attack runs: so the attack's own outcome, refusal or not,
/// is about the attack. `b` is a fresh bundle with the attack's config, not yet attacked.
pub fn control_runs(ctx: &Ctx, b: &mut Bundle) -> Result<(), String> {
    b.args(&["/probe", "exit", "0"]);
    ctx.run(b, &[])?
        .check()
        .map_err(|e| format!("the bundle without the attack fails: {e}"))?;
    Ok(())
}

pub fn untouched(target: &Path) -> TResult {
    ensure!(
        sys::mounts_under(target).is_empty(),
        "something is mounted on the host target {}",
        target.display()
    );
    let entries = std::fs::read_dir(target).map(|d| d.count()).unwrap_or(0);
    ensure_eq!(
        entries,
        0,
        "entries created in the host target {}",
        target.display()
    );
    Ok(())
}

/// CVE-2019-19921 / CVE-2023-27561: /proc must be a real directory in the rootfs.
fn proc_symlink_rejected(ctx: &Ctx) -> TResult {
    control_runs(ctx, &mut ctx.bundle()?)?;
    let b = ctx.bundle()?;
    let target = symlink_out(ctx, &b, "proc")?;
    refused(ctx, &b, &ctx.try_create(&b, &[])?, &["/proc"])?;
    untouched(&target)
}

/// A /sys symlink pointing at a host path must not reach the host: the runtime either refuses
/// or resolves it inside the rootfs (runc does the latter).
fn sys_symlink_confined(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let target = symlink_out(ctx, &b, "sys")?;
    b.args(&["/probe", "exit", "0"]);
    let out = ctx.run(&b, &[])?;
    if !out.ok() {
        refused(ctx, &b, &out, &["/sys"])?;
    }
    untouched(&target)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// Makes `fd` appear as [`LEAKED_FD`], without O_CLOEXEC, in the runtime process only.
fn leak_fd(cmd: &mut Command, fd: i32) {
    // SAFETY: dup2 is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(fd, LEAKED_FD) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
}

/// A bundle writing its report to /out/report.json (host dir returned).
fn reporter(ctx: &Ctx) -> Result<(Bundle, std::path::PathBuf), String> {
    let mut b = ctx.bundle()?;
    let out = ctx.host_dir(&format!("out-{}", b.id))?;
    b.bind(&out, "/out", false)?;
    b.args(&["/probe", "report", "--out", "/out/report.json"]);
    Ok((b, out))
}

fn fds_of(report: &Value) -> Vec<i64> {
    report["fds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["fd"].as_i64())
        .collect()
}

/// A non-CLOEXEC fd the caller leaks into the runtime must not reach the container: only 0-2.
fn inherited_fd_not_leaked(ctx: &Ctx) -> TResult {
    let host_dir = std::fs::File::open(&ctx.dir).ctx("open the test dir")?;
    // create + start (the containerd path) ...
    let (b, out) = reporter(ctx)?;
    let mut cmd = ctx.create_command(&b)?;
    leak_fd(&mut cmd, host_dir.as_raw_fd());
    ctx.exec(cmd)?.check()?;
    ctx.start(&b.id)?;
    ctx.wait_status(&b.id, "stopped")?;
    let rep = parse_report(&std::fs::read_to_string(out.join("report.json")).ctx("report")?)?;
    ensure_eq!(
        fds_of(&rep),
        vec![0, 1, 2],
        "fds in the container after create/start ({})",
        rep["fds"]
    );
    ctx.rt(&["delete", &b.id])?.check()?;
    // ... and run.
    let (b, out) = reporter(ctx)?;
    let mut cmd = ctx.run_command(&b)?;
    leak_fd(&mut cmd, host_dir.as_raw_fd());
    ctx.exec(cmd)?.check()?;
    let rep = parse_report(&std::fs::read_to_string(out.join("report.json")).ctx("report")?)?;
    ensure_eq!(
        fds_of(&rep),
        vec![0, 1, 2],
        "fds in the container after run ({})",
        rep["fds"]
    );
    Ok(())
}

/// A created init waits at the start gate long after `create` returned: it must hold no fd
/// of its caller but stdio (a caller reading a pipe it gave the runtime to EOF would hang).
/// The write end of a pipe is leaked into `create`; once create returns and we drop ours,
/// the read end sees EOF, and every fd of the init past 2 is close-on-exec (the runtime's own).
fn created_init_holds_no_caller_fd(ctx: &Ctx) -> TResult {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::io::Read;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx("pipe")?;
    let pipe_ino = std::fs::metadata(format!("/proc/self/fd/{}", r.as_raw_fd()))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .ctx("stat the pipe")?;
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    let mut cmd = ctx.create_command(&b)?;
    leak_fd(&mut cmd, w.as_raw_fd());
    ctx.exec(cmd)?.check()?;
    drop(w);
    let pid = super::state_pid(&ctx.state(&b.id)?)?;
    let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(&r), PollFlags::POLLIN)];
    let ready = poll(&mut fds, 10_000u16).ctx("poll the pipe")?;
    ensure!(
        ready == 1,
        "the pipe got no EOF within 10 s: a write end is still open"
    );
    let mut buf = [0u8; 16];
    let n = std::fs::File::from(r).read(&mut buf).ctx("read the pipe")?;
    ensure_eq!(n, 0, "bytes read from the pipe (EOF expected)");
    let mut open = vec![];
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).ctx("list the init's fds")? {
        let name = e
            .ctx("fd entry")?
            .file_name()
            .to_string_lossy()
            .into_owned();
        let fd: i32 = name.parse().ctx("fd number")?;
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default();
        ensure!(
            link.to_string_lossy() != format!("pipe:[{pipe_ino}]"),
            "the init holds the caller's pipe as fd {fd}"
        );
        if fd > 2 {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            open.push((
                fd,
                link.display().to_string(),
                flags & libc::O_CLOEXEC as u32 != 0,
            ));
        }
    }
    ensure!(
        open.iter().all(|(_, _, cloexec)| *cloexec),
        "fds of the waiting init that are not close-on-exec: {open:?}"
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// CVE-2024-21626: `cwd` = /proc/self/fd/N with N a leaked host directory must fail, or at
/// least not leave the process outside the container's root.
fn cwd_proc_self_fd(ctx: &Ctx) -> TResult {
    let host_dir = std::fs::File::open(&ctx.dir).ctx("open the test dir")?;
    let (mut b, out) = reporter(ctx)?;
    b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{LEAKED_FD}"));
    let mut cmd = ctx.run_command(&b)?;
    leak_fd(&mut cmd, host_dir.as_raw_fd());
    let res = ctx.exec(cmd)?;
    if !res.ok() {
        refused(ctx, &b, &res, &["cwd", "/proc/self/fd"])?;
    }
    if let Ok(text) = std::fs::read_to_string(out.join("report.json")) {
        let rep = parse_report(&text)?;
        ensure_eq!(
            rep["cwd_escaped"],
            false,
            "cwd outside the container root ({}; {})",
            rep["cwd"],
            res.describe()
        );
    } else {
        ensure!(
            !res.ok(),
            "run succeeded but the process wrote no report: {}",
            res.describe()
        );
    }
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// CVE-2023-25809 family: without a private cgroup namespace, cgroupfs is read-only even when
/// the config does not ask for `ro` (security.md). The container tries what a writable
/// cgroupfs allows: a new cgroup, moving itself, notify_on_release. Each must fail with EROFS
/// on a file or directory that is there, so no other refusal passes.
fn cgroupfs_readonly(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let opts = ["nosuid", "noexec", "nodev", "relatime"];
    b.mount(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": opts}));
    let script = "/probe report; for d in /sys/fs/cgroup /sys/fs/cgroup/*; do \
        [ -f $d/cgroup.procs ] || continue; echo \"mkdir $d $(/probe mkdir $d/escape)\"; \
        for f in cgroup.procs notify_on_release; do [ -f $d/$f ] && \
        echo \"open $d/$f $(/probe open $d/$f w)\"; done; done; true";
    b.args(&["/bin/sh", "-c", script]);
    let out = ctx.run(&b, &[])?.check()?;
    let rep = parse_report(out.stdout.lines().next().unwrap_or_default())?;
    let cg: Vec<_> = rep_mounts(&rep)
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .collect();
    ensure!(
        !cg.is_empty(),
        "no cgroup filesystem mounted under /sys/fs/cgroup"
    );
    for m in cg {
        ensure!(
            has_opt(&m.options, "ro"),
            "cgroup mount {} is writable: {}",
            m.point,
            m.options
        );
    }
    let tries: Vec<(&str, Value)> = out
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (what, res) = l.split_at(l.find('{')?);
            Some((what.trim(), serde_json::from_str(res).ok()?))
        })
        .collect();
    ensure!(
        tries.iter().any(|(w, _)| w.starts_with("mkdir"))
            && tries.iter().any(|(w, _)| w.contains("cgroup.procs")),
        "the container found no cgroup directory to attack: {:?}",
        out.stdout
    );
    for (what, res) in &tries {
        ensure!(
            res["errno"] == libc::EROFS,
            "{what}: {res} (want EROFS from a read-only cgroupfs)"
        );
    }
    eprintln!("note: {} cgroupfs writes refused with EROFS", tries.len());
    Ok(())
}

/// A process that enters a new user namespace holds every capability the kernel knows there,
/// including ones the runtime lacks on the host (CAP_SYS_RESOURCE on the development VMs):
/// the container's five sets must still be exactly the config's, in `run` and in `exec`.
/// Asking for a capability the host lacks is fine inside the namespace (it is held there).
fn caps_bounding_in_userns(ctx: &Ctx) -> TResult {
    let mut want: Vec<&str> = crate::bundle::DEFAULT_CAPS.to_vec();
    for (extra, exec) in [(None, false), (Some("CAP_SYS_RESOURCE"), true)] {
        want.extend(extra);
        let mut b = ctx.bundle()?;
        b.namespace("user", None);
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["uidMappings"] = map.clone();
        b.config["linux"]["gidMappings"] = map;
        for set in ["bounding", "effective", "permitted", "ambient"] {
            b.config["process"]["capabilities"][set] = json!(want);
        }
        let rep = if exec {
            b.args(&["/probe", "sleep"]);
            ctx.create_start(&b)?;
            let out = ctx.rt(&["exec", &b.id, "/probe", "report"])?.check()?;
            ctx.destroy(&b.id)?;
            parse_report(&out.stdout)?
        } else {
            ctx.report(&mut b)?
        };
        let mask = super::cap_mask(&want);
        let what = if exec { "exec" } else { "run" };
        for (key, m) in [
            ("CapBnd", mask),
            ("CapEff", mask),
            ("CapPrm", mask),
            // No inheritable set: the kernel raises no ambient capability.
            ("CapAmb", 0),
            ("CapInh", 0),
        ] {
            let got = super::rep_caps(&rep, key)?;
            ensure!(
                got == m,
                "{what}: {key} {got:#x}, the config asks for {m:#x} (extra: {:?})",
                super::cap_names(got & !m)
            );
        }
    }
    Ok(())
}
