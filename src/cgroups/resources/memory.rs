//! memory: limits, reservation, swap and the v1-only knobs.

use super::{max_or, need, w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    let set = m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some();
    if !set {
        return Ok(());
    }
    let v2 = need(host, "memory", "memory")?;
    let mw = |field, file: &str, v: String| w("memory", v2, field, file, v);
    if v2 {
        if let Some(l) = m.limit() {
            out.push(mw("memory.limit", "memory.max", max_or(l)));
        }
        if let Some(l) = m.reservation() {
            out.push(mw("memory.reservation", "memory.low", max_or(l)));
        }
        // v2 counts swap on its own; the spec's swap is memory + swap.
        if let Some(s) = m.swap() {
            let v = match (s, m.limit()) {
                (-1, _) => "max".into(),
                (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            out.push(mw("memory.swap", "memory.swap.max", v));
        }
        // v2 is always hierarchical: true is what it does, false it cannot.
        if m.use_hierarchy() == Some(false) {
            return Err(Error::invalid(
                "linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical",
            ));
        }
    } else {
        // The kernel keeps limit <= memsw limit at every step: raising both
        // past the current memsw limit must write memsw first (as runc).
        let cur_memsw = host
            .read("memory", false, "memory.memsw.limit_in_bytes")
            .and_then(|s| s.parse::<i64>().ok());
        let swap_first = match (m.limit(), m.swap()) {
            (Some(l), Some(_)) => l == -1 || cur_memsw.is_some_and(|c| l > c),
            _ => false,
        };
        let limit = m
            .limit()
            .map(|l| mw("memory.limit", "memory.limit_in_bytes", l.to_string()));
        let swap = m
            .swap()
            .map(|s| mw("memory.swap", "memory.memsw.limit_in_bytes", s.to_string()));
        if swap_first {
            out.extend(swap.into_iter().chain(limit));
        } else {
            out.extend(limit.into_iter().chain(swap));
        }
        if let Some(l) = m.reservation() {
            out.push(mw(
                "memory.reservation",
                "memory.soft_limit_in_bytes",
                l.to_string(),
            ));
        }
        if let Some(s) = m.swappiness() {
            out.push(mw("memory.swappiness", "memory.swappiness", s.to_string()));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(mw(
                "memory.disableOOMKiller",
                "memory.oom_control",
                "1".into(),
            ));
        }
        if let Some(h) = m.use_hierarchy() {
            let v = if h { "1" } else { "0" };
            out.push(mw("memory.useHierarchy", "memory.use_hierarchy", v.into()));
        }
    }
    Ok(())
}
