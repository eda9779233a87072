//! config-linux.md "Control groups": cgroupsPath placement, resources, removal on delete.
//! Works on v1, hybrid (v1 + /sys/fs/cgroup/unified) and pure v2 hosts: every hierarchy is
//! looked at, wherever the runtime created the cgroup.
use super::{sleeper, state_pid};
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{cgroups, ensure, ensure_eq};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("linux_cgroups";
        init_in_cgroups_path, removed_after_delete, pids_limit, memory_limit,
        runtime_not_in_container_cgroup);
    v.push(
        Test::new("linux_cgroups::pids_without_limit", pids_without_limit).deviates_where(
            "runc",
            "runc's systemd driver sets no TasksMax when the config has no pids limit, so the \
             scope gets systemd's DefaultTasksMax (15% of pid_max) in pids.max, not \"max\"",
            crate::systemd::on,
        ),
    );
    v.push(
        Test::new("linux_cgroups::pids_limit_zero", pids_limit_zero).deviates(
            "runc",
            "runc before 1.4 writes pids.max \"max\" for a limit of 0 (runtime-spec 1.3: 0 is a \
             valid limit and SHOULD be treated as such)",
        ),
    );
    v
}

/// An absolute cgroupsPath is relative to the cgroup mount point(s); the init is in it from
/// `create` on, in every hierarchy where the runtime made that cgroup.
fn init_in_cgroups_path(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    let cg = b.cgroups_path();
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let dirs = cgroups::dirs(&cg);
    ensure!(!dirs.is_empty(), "no cgroup {cg} in any hierarchy");
    for d in &dirs {
        ensure!(
            cgroups::pids(d).contains(&pid),
            "init {pid} not in {}",
            d.display()
        );
    }
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    ensure!(
        own.lines().any(|l| l.ends_with(&format!(":{cg}"))),
        "/proc/{pid}/cgroup: {own:?}"
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &cg)?)
}

/// While a foreground `run` waits, the container's cgroups hold the container's processes
/// only: the runtime itself is in none of them (strata moves its own thread into the
/// container's v1 cgroups for the clone and back out).
fn runtime_not_in_container_cgroup(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    let cg = b.cgroups_path();
    let mut cmd = ctx.run_command(&b)?;
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(|e| format!("spawn run: {e}"))?;
    let result = (|| -> TResult {
        let started = out.join("started");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !started.exists() {
            ensure!(
                std::time::Instant::now() < deadline,
                "the container never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let init = state_pid(&ctx.state(&b.id)?)?;
        let runtime = child.id();
        let own = std::fs::read_to_string(format!("/proc/{runtime}/cgroup")).unwrap_or_default();
        ensure!(
            !own.lines().any(|l| l.ends_with(&format!(":{cg}"))),
            "the runtime ({runtime}) is in the container's cgroup: {own:?}"
        );
        for d in &cgroups::dirs(&cg) {
            ensure_eq!(cgroups::pids(d), vec![init], "processes in {}", d.display());
        }
        Ok(())
    })();
    let _ = ctx.rt(&["kill", &b.id, "KILL"]);
    let _ = child.wait();
    result?;
    Ok(ctx.ensure_clean(Some(&b.id), &cg)?)
}

fn removed_after_delete(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    ctx.create(&b)?;
    // Looked at before start: once the process has exited, systemd removes an empty
    // scope's cgroup by itself (the systemd driver), before any delete.
    ensure!(
        !cgroups::dirs(&b.cgroups_path()).is_empty(),
        "no cgroup {} after create",
        b.cgroups_path()
    );
    ctx.start(&b.id)?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// The value of the first `file` found in the container's cgroup dirs (any hierarchy).
pub fn cgroup_file(cg: &str, files: &[&str]) -> Option<String> {
    cgroups::dirs(cg)
        .iter()
        .flat_map(|d| files.iter().map(move |f| d.join(f)))
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
}

fn pids_limit(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    ctx.create(&b)?;
    ensure_eq!(
        cgroup_file(&b.cgroups_path(), &["pids.max"]),
        Some("42".into()),
        "pids.max"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// runtime-spec 1.3: `0` is a real pids limit (no new task may be forked), not "max".
fn pids_limit_zero(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["pids"] = json!({"limit": 0});
    ctx.create(&b)?;
    ensure_eq!(
        cgroup_file(&b.cgroups_path(), &["pids.max"]),
        Some("0".into()),
        "pids.max for limit 0"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `"pids": {}` sets no limit at all: a new cgroup keeps its default "max".
fn pids_without_limit(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["pids"] = json!({});
    ctx.create(&b)?;
    ensure_eq!(
        cgroup_file(&b.cgroups_path(), &["pids.max"]),
        Some("max".into()),
        "pids.max with no limit given"
    );
    Ok(ctx.destroy(&b.id)?)
}

fn memory_limit(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    ctx.create(&b)?;
    let got = cgroup_file(&b.cgroups_path(), &["memory.limit_in_bytes", "memory.max"]);
    ensure_eq!(
        got,
        Some("67108864".into()),
        "memory limit (v1 memory.limit_in_bytes or v2 memory.max)"
    );
    Ok(ctx.destroy(&b.id)?)
}
