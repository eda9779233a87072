//! The rest of the translation of linux.resources into writes: blockIO,
//! hugepageLimits, network, rdma and unified. File names and value
//! formats follow runc's v1 and v2 managers.

use super::resources::{need, w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// Host-independent checks: ranges the kernel refuses anyway, caught before
/// anything is created.
pub fn validate(r: &LinuxResources) -> Result<()> {
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
        for (list, field) in throttles(b) {
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
        if parse_page_size(h.page_size()).is_none() {
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

type Throttle = oci_spec::runtime::LinuxThrottleDevice;

fn throttles(b: &oci_spec::runtime::LinuxBlockIo) -> [(&[Throttle], &'static str); 4] {
    [
        (
            b.throttle_read_bps_device().as_deref().unwrap_or_default(),
            "blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device().as_deref().unwrap_or_default(),
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device().as_deref().unwrap_or_default(),
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device()
                .as_deref()
                .unwrap_or_default(),
            "blockIO.throttleWriteIOPSDevice",
        ),
    ]
}

/// "2MB" -> 2 MiB (base 1024, config-linux.md).
fn parse_page_size(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let mul: u64 = match unit {
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>().ok().filter(|&n| n > 0)?.checked_mul(mul)
}

/// The sizes in /sys/kernel/mm/hugepages ("hugepages-2048kB"), named as
/// the cgroup files name them: the largest whole unit ("2MB", "1GB").
pub fn hugepage_sizes() -> Vec<String> {
    let mut v: Vec<(u64, String)> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            let kb: u64 = n
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            let name = if kb.is_multiple_of(1 << 20) {
                format!("{}GB", kb >> 20)
            } else if kb.is_multiple_of(1 << 10) {
                format!("{}MB", kb >> 10)
            } else {
                format!("{kb}KB")
            };
            Some((kb, name))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

pub fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    block_io(r, host, out)?;
    hugetlb(r, host, out)?;
    network(r, host, out)?;
    rdma(r, host, out)?;
    unified(r, host, out)
}

/// runc's conversion of a blkio weight (10..1000) to io.weight (1..10000).
pub fn io_weight(v1: u16) -> u64 {
    1 + (u64::from(v1.max(10)) - 10) * 9999 / 990
}

fn block_io(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let weight = b.weight().filter(|&w| w != 0);
    let leaf = b.leaf_weight().filter(|&w| w != 0);
    let wdev = b.weight_device().as_deref().unwrap_or_default();
    let any = weight.is_some()
        || leaf.is_some()
        || !wdev.is_empty()
        || throttles(b).iter().any(|(l, _)| !l.is_empty());
    if !any {
        return Ok(());
    }
    let v2 = need(host, "blkio", "blockIO")?;
    let missing = |field: &str, file: &str| {
        Error::invalid(format!(
            "linux.resources.blockIO.{field}: this kernel has no {file} (no CFQ/BFQ/io.cost weight support)"
        ))
    };
    let bw = |field, file: &str, v: String| w("blkio", v2, field, file, v);
    if v2 {
        // BFQ takes the v1 weight as is; else io.weight with runc's conversion.
        let bfq = host.has("blkio", true, "io.bfq.weight");
        if let Some(wt) = weight {
            if bfq {
                out.push(bw("blockIO.weight", "io.bfq.weight", wt.to_string()));
            } else if host.has("blkio", true, "io.weight") {
                out.push(bw("blockIO.weight", "io.weight", io_weight(wt).to_string()));
            } else {
                return Err(missing("weight", "io.weight or io.bfq.weight"));
            }
        }
        if leaf.is_some() || wdev.iter().any(|d| d.leaf_weight().is_some()) {
            return Err(Error::invalid(
                "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weight",
            ));
        }
        for d in wdev {
            let Some(wt) = d.weight() else { continue };
            let (file, v) = if bfq {
                ("io.bfq.weight", wt.to_string())
            } else if host.has("blkio", true, "io.weight") {
                ("io.weight", io_weight(wt).to_string())
            } else {
                return Err(missing("weightDevice", "io.weight or io.bfq.weight"));
            };
            out.push(bw(
                "blockIO.weightDevice",
                file,
                format!("{}:{} {v}", d.major(), d.minor()),
            ));
        }
        for ((list, field), key) in throttles(b)
            .into_iter()
            .zip(["rbps", "wbps", "riops", "wiops"])
        {
            for d in list {
                // 0 lifts the limit, as writing 0 does on v1.
                let rate = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                out.push(bw(
                    field,
                    "io.max",
                    format!("{}:{} {key}={rate}", d.major(), d.minor()),
                ));
            }
        }
    } else {
        // BFQ's files when CFQ's are absent (CFQ left Linux in 5.0), as runc.
        let (wfile, wdfile) = if host.has("blkio", false, "blkio.weight") {
            ("blkio.weight", "blkio.weight_device")
        } else {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        };
        if let Some(wt) = weight {
            if !host.has("blkio", false, wfile) {
                return Err(missing("weight", "blkio.weight or blkio.bfq.weight"));
            }
            out.push(bw("blockIO.weight", wfile, wt.to_string()));
        }
        if let Some(wt) = leaf {
            if !host.has("blkio", false, "blkio.leaf_weight") {
                return Err(missing("leafWeight", "blkio.leaf_weight (CFQ only)"));
            }
            out.push(bw(
                "blockIO.leafWeight",
                "blkio.leaf_weight",
                wt.to_string(),
            ));
        }
        for d in wdev {
            let dev = format!("{}:{}", d.major(), d.minor());
            if let Some(wt) = d.weight() {
                if !host.has("blkio", false, wdfile) {
                    return Err(missing("weightDevice", wdfile));
                }
                out.push(bw("blockIO.weightDevice", wdfile, format!("{dev} {wt}")));
            }
            if let Some(wt) = d.leaf_weight() {
                if !host.has("blkio", false, "blkio.leaf_weight_device") {
                    return Err(missing(
                        "weightDevice",
                        "blkio.leaf_weight_device (CFQ only)",
                    ));
                }
                out.push(bw(
                    "blockIO.weightDevice",
                    "blkio.leaf_weight_device",
                    format!("{dev} {wt}"),
                ));
            }
        }
        let files = [
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ];
        for ((list, field), file) in throttles(b).into_iter().zip(files) {
            for d in list {
                out.push(bw(
                    field,
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                ));
            }
        }
    }
    Ok(())
}

/// The limit goes to the reservation file too when the kernel has one
/// (config-linux.md: reservations "if supported"), as runc does.
fn hugetlb(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let limits = r.hugepage_limits().as_deref().unwrap_or_default();
    if limits.is_empty() {
        return Ok(());
    }
    let v2 = need(host, "hugetlb", "hugepageLimits")?;
    let sizes = host.hugepage_sizes();
    for h in limits {
        let size = h.page_size();
        if !sizes.iter().any(|s| s == size) {
            return Err(Error::invalid(format!(
                "linux.resources.hugepageLimits: page size {size:?} is not offered by this kernel (offered: {})",
                if sizes.is_empty() { "none".to_string() } else { sizes.join(", ") }
            )));
        }
        let (limit, rsvd) = if v2 {
            (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
            )
        } else {
            (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            )
        };
        out.push(w("hugetlb", v2, "hugepageLimits", limit, h.limit()));
        if host.has("hugetlb", v2, &rsvd) {
            out.push(w("hugetlb", v2, "hugepageLimits", rsvd, h.limit()));
        }
    }
    Ok(())
}

/// net_cls and net_prio exist on cgroup v1 only.
fn network(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(n) = r.network() else { return Ok(()) };
    let prios = n.priorities().as_deref().unwrap_or_default();
    let wanted = [
        (
            n.class_id().is_some_and(|c| c != 0),
            "net_cls",
            "network.classID",
        ),
        (!prios.is_empty(), "net_prio", "network.priorities"),
    ];
    for (set, ctrl, field) in wanted {
        if !set {
            continue;
        }
        match host.v2(ctrl) {
            Some(false) => {}
            _ if host.pure_v2() => {
                return Err(Error::invalid(format!(
                    "linux.resources.{field}: {ctrl} is a cgroup v1 controller; this host has cgroup v2 only"
                )))
            }
            _ => {
                return Err(Error::invalid(format!(
                    "linux.resources.{field}: the {ctrl} controller is not mounted on this host"
                )))
            }
        }
    }
    if let Some(c) = n.class_id().filter(|&c| c != 0) {
        out.push(w("net_cls", false, "network.classID", "net_cls.classid", c));
    }
    for p in prios {
        let v = format!("{} {}", p.name(), p.priority());
        out.push(w(
            "net_prio",
            false,
            "network.priorities",
            "net_prio.ifpriomap",
            v,
        ));
    }
    Ok(())
}

fn rdma(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(map) = r.rdma().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let v2 = need(host, "rdma", "rdma")?;
    let mut devs: Vec<_> = map.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devs {
        let mut v = dev.clone();
        if let Some(h) = l.hca_handles() {
            v += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            v += &format!(" hca_object={o}");
        }
        out.push(w("rdma", v2, "rdma", "rdma.max", v));
    }
    Ok(())
}

/// cgroup v2 files written as given, after everything else (so they win,
/// as in runc). On a hybrid host they go to its cgroup2 hierarchy when the
/// controller is there; a v1-only host has nowhere to put them (runc:
/// "cannot use unified on cgroup v1").
fn unified(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(map) = r.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = map.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in keys {
        let ctrl = k.split('.').next().unwrap_or_default();
        let Some(ctrls) = host.unified() else {
            return Err(Error::invalid(format!(
                "linux.resources.unified: {k:?} needs cgroup v2; this host has cgroup v1 only"
            )));
        };
        // "cgroup" names the core files every cgroup2 directory has.
        if ctrl != "cgroup" && !ctrls.iter().any(|c| c == ctrl) {
            return Err(Error::invalid(format!(
                "linux.resources.unified: {k:?}: controller {ctrl:?} is not available in the container's cgroup v2 hierarchy"
            )));
        }
        if !host.has("cgroup", true, k) {
            return Err(Error::invalid(format!(
                "linux.resources.unified: {k:?}: no such file in the container's cgroup"
            )));
        }
        out.push(w("cgroup", true, "unified", k.as_str(), v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(parse_page_size("2MB"), Some(2 << 20));
        assert_eq!(parse_page_size("1GB"), Some(1 << 30));
        assert_eq!(parse_page_size("64KB"), Some(64 << 10));
        assert_eq!(parse_page_size("2M"), None);
        assert_eq!(parse_page_size("MB"), None);
        assert_eq!(parse_page_size("0MB"), None);
    }

    #[test]
    fn weight_conversion() {
        // runc: 1 + (w - 10) * 9999 / 990
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
    }
}
