//! config.md "Mounts" of type `cgroup` at /sys/fs/cgroup (what podman sends): the container
//! sees its own cgroup there, read-only unless it has a private cgroup namespace
//! (security.md, CVE-2023-25809 family; security::cgroupfs_readonly covers an explicit `ro`).
use super::{has_opt, rep_mounts};
use crate::bundle::Bundle;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("config_mounts_cgroup"; shows_own_cgroup);
    v.push(
        Test::new(
            "config_mounts_cgroup::readonly_without_cgroupns",
            readonly_without_cgroupns,
        )
        .deviates(
            "runc",
            "mounts cgroupfs writable when the config does not ask for ro",
        ),
    );
    v
}

fn cgroup_mount(b: &mut Bundle, opts: &[&str]) {
    b.mount(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": opts}));
}

/// The pids controller's directory (v1 `pids/`, or the v2 root) shows the container's own
/// cgroup: its pids.max is the configured limit and its cgroup.procs lists the shell.
fn shows_own_cgroup(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    cgroup_mount(&mut b, &["nosuid", "noexec", "nodev", "relatime", "ro"]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 77});
    let script = "echo self=$$; for d in /sys/fs/cgroup/pids /sys/fs/cgroup; do \
                  if [ -f $d/pids.max ]; then echo max=$(cat $d/pids.max); \
                  echo procs=$(cat $d/cgroup.procs); break; fi; done";
    b.args(&["/bin/sh", "-c", script]);
    let out = ctx.run(&b, &[])?.check()?;
    let field = |k: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_string)
    };
    ensure_eq!(
        field("max="),
        Some("77".into()),
        "pids.max under /sys/fs/cgroup ({:?})",
        out.stdout
    );
    let me = field("self=").unwrap_or_default();
    let procs = field("procs=").unwrap_or_default();
    ensure!(
        !me.is_empty() && procs.split_whitespace().any(|p| p == me),
        "cgroup.procs {procs:?} lacks the shell's pid {me:?}"
    );
    Ok(())
}

/// No `ro` in the options and no cgroup namespace: every cgroup filesystem mount is still
/// read-only, and opening a cgroup file for writing fails with EROFS.
fn readonly_without_cgroupns(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    cgroup_mount(&mut b, &["nosuid", "noexec", "nodev"]);
    let script = "/probe report; for f in /sys/fs/cgroup/pids/cgroup.procs \
                  /sys/fs/cgroup/cgroup.procs; do [ -f $f ] && /probe open $f w && break; done";
    b.args(&["/bin/sh", "-c", script]);
    let out = ctx.run(&b, &[])?.check()?;
    let rep = parse_report(out.stdout.lines().next().unwrap_or_default())?;
    let cg: Vec<_> = rep_mounts(&rep)
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .collect();
    ensure!(!cg.is_empty(), "no cgroup filesystem under /sys/fs/cgroup");
    for m in &cg {
        ensure!(
            has_opt(&m.options, "ro"),
            "cgroup mount {} is writable: {}",
            m.point,
            m.options
        );
    }
    let write = parse_report(&out.stdout)?;
    ensure_eq!(
        write["errno"],
        30,
        "opening cgroup.procs for writing ({write})"
    );
    Ok(())
}
