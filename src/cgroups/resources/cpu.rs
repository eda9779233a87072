//! cpu and cpuset: shares/weight, quota, realtime, idle, burst, sets.

use super::{max_or, need, w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    let cpu_set = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
        || c.idle().is_some();
    if cpu_set {
        let v2 = need(host, "cpu", "cpu")?;
        let cw = |field, file: &str, v: String| w("cpu", v2, field, file, v);
        // Realtime first (v1): a task already SCHED_RR needs its budget
        // before it can join; period before runtime, as runc.
        if v2 {
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                return Err(Error::invalid(
                    "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime group scheduling",
                ));
            }
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                // runc's mapping of shares [2, 262144] onto weight [1, 10000].
                let wgt = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                out.push(cw("cpu.shares", "cpu.weight", wgt.to_string()));
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = c.quota().map(max_or).unwrap_or_else(|| "max".into());
                let v = format!("{q} {}", c.period().unwrap_or(100_000));
                out.push(cw("cpu.quota", "cpu.max", v));
            }
            if let Some(b) = c.burst() {
                out.push(cw("cpu.burst", "cpu.max.burst", b.to_string()));
            }
        } else {
            if let Some(p) = c.realtime_period() {
                out.push(cw("cpu.realtimePeriod", "cpu.rt_period_us", p.to_string()));
            }
            if let Some(rt) = c.realtime_runtime() {
                out.push(cw(
                    "cpu.realtimeRuntime",
                    "cpu.rt_runtime_us",
                    rt.to_string(),
                ));
            }
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                out.push(cw("cpu.shares", "cpu.shares", s.to_string()));
            }
            if let Some(p) = c.period() {
                out.push(cw("cpu.period", "cpu.cfs_period_us", p.to_string()));
            }
            if let Some(q) = c.quota() {
                out.push(cw("cpu.quota", "cpu.cfs_quota_us", q.to_string()));
            }
            if let Some(b) = c.burst() {
                out.push(cw("cpu.burst", "cpu.cfs_burst_us", b.to_string()));
            }
        }
        // After the weight: the kernel refuses a weight for an idle group.
        if let Some(i) = c.idle() {
            if !host.has("cpu", v2, "cpu.idle") {
                return Err(Error::invalid(
                    "linux.resources.cpu.idle: this kernel has no cpu.idle (Linux 5.15 or later)",
                ));
            }
            out.push(cw("cpu.idle", "cpu.idle", i.to_string()));
        }
    }
    for (val, field, file) in [
        (c.cpus(), "cpu.cpus", "cpuset.cpus"),
        (c.mems(), "cpu.mems", "cpuset.mems"),
    ] {
        if let Some(s) = val.as_deref().filter(|s| !s.is_empty()) {
            let v2 = need(host, "cpuset", field)?;
            out.push(w("cpuset", v2, field, file, s));
        }
    }
    Ok(())
}
