//! `events [--stats] [--interval SECS] ID`: the container's cgroup
//! statistics in runc's envelope, `{"type":"stats","id":...,"data":{...}}`,
//! once with --stats; else every interval, plus `{"type":"oom","id":...}`
//! whenever the kernel OOM-kills a process in the cgroup, until the
//! container stops.

use super::Global;
use crate::cgroups::Paths;
use crate::cli::EventsArgs;
use crate::container::{self, Status};
use crate::error::{Error, Result};
use crate::state;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the OOM-kill counter is read. Polling a counter (rather than
/// runc's eventfd/inotify) cannot lose a kill between two reads, and the
/// final read after the container stops catches one that killed the init.
const OOM_POLL: Duration = Duration::from_millis(100);

fn read_u64(cg: &Paths, controller: &str, file: &str) -> Option<u64> {
    let d = cg.dir_for(controller)?;
    std::fs::read_to_string(d.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A field of a flat keyed file such as cpu.stat ("usage_usec 123").
fn keyed(cg: &Paths, controller: &str, file: &str, key: &str) -> Option<u64> {
    let d = cg.dir_for(controller)?;
    let text = std::fs::read_to_string(d.join(file)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
}

pub fn stats(cg: &Paths) -> Value {
    let v2 = cg.v1.is_empty();
    let cpu_total = if v2 {
        keyed(cg, "cpu", "cpu.stat", "usage_usec ").map(|u| u * 1000)
    } else {
        read_u64(cg, "cpuacct", "cpuacct.usage")
    };
    let (mem_usage, mem_limit) = if v2 {
        (
            read_u64(cg, "memory", "memory.current"),
            read_u64(cg, "memory", "memory.max"),
        )
    } else {
        (
            read_u64(cg, "memory", "memory.usage_in_bytes"),
            read_u64(cg, "memory", "memory.limit_in_bytes"),
        )
    };
    json!({
        "cpu": {"usage": {"total": cpu_total.unwrap_or(0)}},
        "memory": {"usage": {"usage": mem_usage.unwrap_or(0), "limit": mem_limit.unwrap_or(0)}},
        "pids": {"current": read_u64(cg, "pids", "pids.current").unwrap_or(0), "limit": read_u64(cg, "pids", "pids.max").unwrap_or(0)},
    })
}

/// OOM kills so far in the container's cgroup (and its descendants): v2
/// `memory.events`, v1 `memory.oom_control` (kernel 4.13+); None without a
/// memory controller.
fn oom_kills(cg: &Paths) -> Option<u64> {
    if cg.v1.is_empty() {
        keyed(cg, "memory", "memory.events", "oom_kill ")
    } else {
        keyed(cg, "memory", "memory.oom_control", "oom_kill ")
    }
}

/// Writes one event line in runc's field order (type, id, data; serde_json
/// would sort the keys); false once the reader went away (e.g. `| head`),
/// which ends the stream quietly.
fn emit(kind: &str, id: &str, data: Option<Value>) -> bool {
    let mut line = format!("{{\"type\":{},\"id\":{}", json!(kind), json!(id));
    if let Some(d) = data {
        line += &format!(",\"data\":{d}");
    }
    let mut out = std::io::stdout();
    writeln!(out, "{line}}}").and_then(|_| out.flush()).is_ok()
}

/// `--interval 5` or `--interval 5s` (runc's form) -> seconds.
fn parse_interval(s: &str) -> Result<u64> {
    s.trim_end_matches('s')
        .parse::<u64>()
        .map_err(|_| Error::invalid(format!("--interval {s:?}: use seconds, e.g. 5 or 5s")))
}

pub fn run(g: &Global, a: &EventsArgs) -> Result<i32> {
    let (id, once) = (a.id.as_str(), a.stats);
    let interval = parse_interval(&a.interval)?;
    if interval == 0 {
        return Err(Error::invalid("--interval must be at least 1 second"));
    }
    let st = state::load(&g.root, id)?;
    if container::status(&st, &g.root.join(id)) == Status::Stopped {
        return Err(Error::Status("container not running".into()));
    }
    if once {
        emit("stats", id, Some(stats(&st.cgroup.paths)));
        return Ok(0);
    }
    let cg = st.cgroup.paths;
    let mut seen = oom_kills(&cg).unwrap_or(0);
    let every = Duration::from_secs(interval);
    // runc's first report comes one interval after the start, not at once.
    let mut next_stats = Instant::now() + every;
    loop {
        // Status first, counter second: a kill that stopped the container
        // is still counted on the last round.
        let stopped = match state::load(&g.root, id) {
            Ok(st) => container::status(&st, &g.root.join(id)) == Status::Stopped,
            Err(_) => true, // deleted meanwhile
        };
        let kills = oom_kills(&cg).unwrap_or(seen);
        for _ in seen..kills {
            if !emit("oom", id, None) {
                return Ok(0);
            }
        }
        seen = seen.max(kills);
        if stopped {
            return Ok(0);
        }
        if Instant::now() >= next_stats {
            next_stats += every;
            if !emit("stats", id, Some(stats(&cg))) {
                return Ok(0);
            }
        }
        std::thread::sleep(OOM_POLL);
    }
}
