//! runc's `pause`, `resume` and `ps` (callers.md: containerd and podman use them). The
//! freezer state is read from the host: v1 `freezer.state`, v2 `cgroup.freeze`.
use super::{require, sleeper, state_pid, wait_started};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, ensure_eq, sys};
use serde_json::json;
use std::io::BufRead;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("cli_pause";
        pause_resume, ps_json_lists_init, delete_force_paused, events_stats);
    // runc failed it in one of two runs in the v2 VM (passes on v1): it ends `events` as soon
    // as cgroup.events says the cgroup is empty, and the memory.events change (the kernel
    // rate-limits those notifications) likely came after that.
    let why = "on cgroup v2, may end `events` when the cgroup empties before it sees the \
               memory.events oom_kill change, so the OOM kill goes unreported";
    v.push(
        Test::new("cli_pause::events_oom", events_oom).deviates_where(
            "runc",
            why,
            crate::cgroups::pure_v2,
        ),
    );
    v
}

/// True if the kernel reports the container's cgroup frozen in any hierarchy (a hybrid host
/// has both freezers), false if thawed in all.
fn frozen(cg: &str) -> Result<bool, String> {
    let states: Vec<String> = cgroups::dirs(cg)
        .iter()
        .flat_map(|d| ["freezer.state", "cgroup.freeze"].map(|f| d.join(f)))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .collect();
    require(!states.is_empty(), format!("no freezer file for {cg}"))?;
    Ok(states.iter().any(|s| s == "FROZEN" || s == "1"))
}

fn pause_resume(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    let cg = b.cgroups_path();
    ctx.create_start(&b)?;
    wait_started(&out)?;
    ctx.rt(&["pause", &b.id])?.check()?;
    ensure_eq!(ctx.status(&b.id)?, "paused", "status after pause");
    ensure!(frozen(&cg)?, "the cgroup is not frozen after pause");
    ctx.rt(&["resume", &b.id])?.check()?;
    ensure_eq!(ctx.status(&b.id)?, "running", "status after resume");
    ensure!(!frozen(&cg)?, "the cgroup is still frozen after resume");
    // The process runs again: it handles a signal.
    ctx.rt(&["kill", &b.id, "USR1"])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    Ok(ctx.destroy(&b.id)?)
}

/// `ps --format json` is a JSON array of host pids, the init's among them.
fn ps_json_lists_init(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let ps = ctx.rt(&["ps", "--format", "json", &b.id])?.check()?;
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).ctx(format!("ps {:?}", ps.stdout))?;
    ensure_eq!(pids, vec![pid as i64], "ps --format json");
    Ok(ctx.destroy(&b.id)?)
}

fn delete_force_paused(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    ctx.rt(&["pause", &b.id])?.check()?;
    ensure_eq!(ctx.status(&b.id)?, "paused", "status after pause");
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        sys::wait_for(10, || !sys::alive(pid)),
        "init {pid} alive after delete --force"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `events --stats`: one JSON line in runc's envelope with the cgroup's figures.
fn events_stats(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let res = ctx.rt(&["events", "--stats", &b.id])?.check()?;
    let line = res.stdout.lines().next().unwrap_or_default().to_string();
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("events output {line:?}: {e}"))?;
    ensure_eq!(v["type"], "stats", "type");
    ensure_eq!(v["id"], b.id.as_str(), "id");
    ensure!(
        v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "pids.current in {line}"
    );
    ensure!(
        v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "memory usage in {line}"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// A background `events` process, killed if the test ends early.
struct Events(Child);

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next line `events` printed that satisfies `want` (parsed, and as printed), within `secs`.
fn next_event(
    rx: &mpsc::Receiver<String>,
    secs: u64,
    want: impl Fn(&serde_json::Value) -> bool,
) -> Result<(serde_json::Value, String), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = vec![];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => {
                format!("no such event within {secs}s; got {seen:?}")
            }
            mpsc::RecvTimeoutError::Disconnected => {
                format!("events ended without it; got {seen:?}")
            }
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("events line {line:?}: {e}"))?;
        if want(&v) {
            return Ok((v, line));
        }
        seen.push(line);
    }
}

/// `events` (streaming) prints `{"type":"oom","id":ID}` when the kernel OOM-kills a process
/// of the container, and ends once the container is gone. The process waits for /out/go so
/// the OOM cannot happen before `events` watches (its first stats line says it does).
fn events_oom(ctx: &Ctx) -> TResult {
    if crate::systemd::on() {
        // A known gap of strata's systemd driver: the OOM kill empties the scope, systemd
        // stops it and removes its cgroup, and `events` (which polls memory.events) can miss
        // the oom_kill count before the directory goes.
        crate::skip!("with the systemd driver the scope's cgroup goes with its last task; events can miss the oom");
    }
    let (mut b, out) = sleeper(ctx)?;
    let limit = 32 << 20;
    let mut mem = json!({"limit": limit});
    // With swap on, the hog would swap instead of dying: no swap beyond the limit then.
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    if swaps.lines().count() > 1 {
        mem["swap"] = json!(limit);
    }
    b.config["linux"]["resources"]["memory"] = mem;
    b.args(&[
        "/bin/sh",
        "-c",
        "touch /out/started; while [ ! -e /out/go ]; do sleep 1; done; \
         x=0123456789abcdef; while :; do x=$x$x; done",
    ]);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let mut cmd = ctx.command();
    cmd.arg("--root").arg(&ctx.root);
    cmd.args(["events", "--interval", "1s", &b.id]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut ev = Events(cmd.spawn().map_err(|e| format!("spawn events: {e}"))?);
    let stdout =
        ev.0.stdout
            .take()
            .ok_or("events has no stdout".to_string())?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (first, _) = next_event(&rx, 30, |v| v["type"] == "stats")?;
    ensure_eq!(first["id"], b.id.as_str(), "id of the stats event");
    std::fs::write(out.join("go"), "").map_err(|e| format!("write go: {e}"))?;
    let (_, oom) = next_event(&rx, 60, |v| v["type"] == "oom")?;
    // Byte for byte as runc's Go encoder prints it (field order, no data).
    ensure_eq!(
        oom,
        format!(r#"{{"type":"oom","id":"{}"}}"#, b.id),
        "the oom event"
    );
    ctx.wait_status(&b.id, "stopped")?;
    ctx.destroy(&b.id)?;
    ensure!(
        sys::wait_for(30, || matches!(ev.0.try_wait(), Ok(Some(_)))),
        "events still running after the container was deleted"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}
