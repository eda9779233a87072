//! blockIO: blkio on v1, io on cgroup2 (weights, per-device throttles).

use super::{need, w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

type Throttle = oci_spec::runtime::LinuxThrottleDevice;

pub(super) fn throttles(b: &oci_spec::runtime::LinuxBlockIo) -> [(&[Throttle], &'static str); 4] {
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

pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    block_io(r, host, out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion() {
        // runc: 1 + (w - 10) * 9999 / 990
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
    }
}
