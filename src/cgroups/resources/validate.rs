//! Host-independent checks of linux.resources: values no kernel accepts,
//! refused naming the field before anything is created.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// Refuses values no kernel accepts, naming the field, before anything
/// is created. What depends on the host is refused by `writes`.
pub fn validate(r: &LinuxResources) -> Result<()> {
    for (i, d) in r
        .devices()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let bad = |what: String| {
            Err(Error::invalid(format!(
                "linux.resources.devices[{i}]: {what}"
            )))
        };
        if d.access()
            .as_deref()
            .is_some_and(|a| a.is_empty() || !a.chars().all(|c| "rwm".contains(c)))
        {
            return bad(format!(
                "access {:?} must be made of r, w, m",
                d.access().as_deref().unwrap_or_default()
            ));
        }
        let typ = d.typ().map(|t| t.as_str().to_string());
        if let Some(t) = typ.filter(|t| !matches!(t.as_str(), "a" | "b" | "c")) {
            return bad(format!("type {t:?} must be a, b or c"));
        }
        // -1 is a wildcard as in runc; the kernel's dev_t has 12 + 20 bits.
        // (A negative number once turned into "any device" here.)
        for (n, name, max) in [(d.major(), "major", 4095), (d.minor(), "minor", 1_048_575)] {
            if n.is_some_and(|n| n < -1 || n > max) {
                return bad(format!(
                    "{name} {} is out of range (-1 or 0..{max})",
                    n.unwrap_or(0)
                ));
            }
        }
    }
    if let Some(m) = r.memory() {
        for (v, name) in [
            (m.limit(), "limit"),
            (m.reservation(), "reservation"),
            (m.swap(), "swap"),
        ] {
            if v.is_some_and(|v| v < -1 || v == 0) {
                return Err(Error::invalid(format!(
                    "linux.resources.memory.{name}: must be positive or -1"
                )));
            }
        }
        if m.swappiness().is_some_and(|s| s > 100) {
            return Err(Error::invalid(
                "linux.resources.memory.swappiness: must be 0..100",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if c.period().is_some_and(|p| !(1000..=1_000_000).contains(&p)) {
            return Err(Error::invalid(
                "linux.resources.cpu.period: must be 1000..1000000 microseconds",
            ));
        }
        if c.quota().is_some_and(|q| q == 0 || q < -1) {
            return Err(Error::invalid(
                "linux.resources.cpu.quota: must be positive or -1",
            ));
        }
        // config-linux.md: burst MUST be no larger than a positive quota.
        if let (Some(b), Some(q)) = (c.burst(), c.quota().filter(|&q| q > 0)) {
            if b > q as u64 {
                return Err(Error::invalid(format!(
                    "linux.resources.cpu.burst: {b} is larger than quota {q}"
                )));
            }
        }
        if c.realtime_runtime().is_some_and(|v| v < -1) {
            return Err(Error::invalid(
                "linux.resources.cpu.realtimeRuntime: must be 0 or more, or -1",
            ));
        }
        if c.realtime_period()
            .is_some_and(|p| p == 0 || p > 1_000_000_000)
        {
            return Err(Error::invalid(
                "linux.resources.cpu.realtimePeriod: must be 1..1000000000 microseconds",
            ));
        }
        if c.idle().is_some_and(|i| !(0..=1).contains(&i)) {
            return Err(Error::invalid("linux.resources.cpu.idle: must be 0 or 1"));
        }
    }
    validate_rest(r)
}

/// Host-independent checks: ranges the kernel refuses anyway, caught before
/// anything is created.
fn validate_rest(r: &LinuxResources) -> Result<()> {
    let bad =
        |field: &str, what: String| Err(Error::invalid(format!("linux.resources.{field}: {what}")));
    if let Some(b) = r.block_io() {
        // 0 means unset, as in runc; the kernel's range is 10..1000 (CFQ)
        // or 1..1000 (BFQ); runc converts 10..1000 for v2.
        for (v, field) in [
            (b.weight(), "blockIO.weight"),
            (b.leaf_weight(), "blockIO.leafWeight"),
        ] {
            if v.is_some_and(|v| v != 0 && !(10..=1000).contains(&v)) {
                return bad(
                    field,
                    format!("{} is out of range 10..1000", v.unwrap_or(0)),
                );
            }
        }
        for d in b.weight_device().as_deref().unwrap_or_default() {
            dev_num(d.major(), d.minor(), "blockIO.weightDevice")?;
            if d.weight().is_none() && d.leaf_weight().is_none() {
                return bad(
                    "blockIO.weightDevice",
                    "an entry needs weight or leafWeight".into(),
                );
            }
            for v in [d.weight(), d.leaf_weight()].into_iter().flatten() {
                if !(10..=1000).contains(&v) {
                    return bad(
                        "blockIO.weightDevice",
                        format!("weight {v} is out of range 10..1000"),
                    );
                }
            }
        }
        for (list, field) in super::blkio::throttles(b) {
            for d in list {
                dev_num(d.major(), d.minor(), field)?;
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or_default() {
        if h.limit() < 0 {
            return bad(
                "hugepageLimits",
                format!("limit {} must not be negative", h.limit()),
            );
        }
        if super::hugetlb::parse_page_size(h.page_size()).is_none() {
            return bad(
                "hugepageLimits",
                format!(
                    "pageSize {:?} is not of the form <size><KB|MB|GB> (2MB, 1GB)",
                    h.page_size()
                ),
            );
        }
    }
    for (dev, l) in r.rdma().iter().flatten() {
        if l.hca_handles().is_none() && l.hca_objects().is_none() {
            return bad("rdma", format!("{dev:?} needs hcaHandles or hcaObjects"));
        }
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return bad("rdma", format!("device name {dev:?} is not valid"));
        }
    }
    for p in r
        .network()
        .iter()
        .flat_map(|n| n.priorities().iter().flatten())
    {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) || p.name().len() > 15 {
            return bad(
                "network.priorities",
                format!("interface name {:?} is not valid", p.name()),
            );
        }
    }
    for k in r.unified().iter().flat_map(|u| u.keys()) {
        // A key is a file name in the container's own cgroup: no path
        // (refuses "../cgroup.procs" and friends escaping to the parent).
        if k.contains('/') || k == "." || k == ".." || k.is_empty() {
            return bad(
                "unified",
                format!("{k:?} must be a file name (no '/', '.' or '..')"),
            );
        }
        if !k.contains('.') {
            return bad(
                "unified",
                format!("{k:?} must be of the form CONTROLLER.PARAMETER"),
            );
        }
    }
    Ok(())
}

fn dev_num(major: i64, minor: i64, field: &str) -> Result<()> {
    if !(0..=4095).contains(&major) || !(0..=1_048_575).contains(&minor) {
        return Err(Error::invalid(format!(
            "linux.resources.{field}: device {major}:{minor} is out of range"
        )));
    }
    Ok(())
}
