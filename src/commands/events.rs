//! `events [--stats] [--interval SECS] ID`: the container's cgroup
//! statistics in runc's envelope, `{"type":"stats","id":...,"data":{...}}`,
//! once with --stats, else every interval until the container stops.

use super::Global;
use crate::cgroups::Cgroup;
use crate::container::{self, Status};
use crate::error::{Error, Result};
use crate::state;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

fn read_u64(cg: &Cgroup, controller: &str, file: &str) -> Option<u64> {
    let d = cg.dir_for(controller)?;
    std::fs::read_to_string(d.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A field of a flat keyed file such as cpu.stat ("usage_usec 123").
fn keyed(cg: &Cgroup, controller: &str, file: &str, key: &str) -> Option<u64> {
    let d = cg.dir_for(controller)?;
    let text = std::fs::read_to_string(d.join(file)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
}

pub fn stats(cg: &Cgroup) -> Value {
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

pub fn run(g: &Global, id: &str, once: bool, interval: u64) -> Result<i32> {
    if interval == 0 {
        return Err(Error::invalid("--interval must be at least 1 second"));
    }
    loop {
        let st = state::load(&g.root, id)?;
        if container::status(&st, &g.root.join(id)) == Status::Stopped {
            return Err(Error::Status("container not running".into()));
        }
        let ev = json!({"type": "stats", "id": id, "data": stats(&st.cgroup)});
        // A reader that went away (e.g. `| head`) ends the stream quietly.
        let mut out = std::io::stdout();
        if writeln!(out, "{ev}").and_then(|_| out.flush()).is_err() {
            return Ok(0);
        }
        if once {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(interval));
    }
}
