//! hugepageLimits: hugetlb.<size>.limit_in_bytes / .max (+ rsvd).

use super::{need, w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// "2MB" -> 2 MiB (base 1024, config-linux.md).
pub(super) fn parse_page_size(s: &str) -> Option<u64> {
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

/// The limit goes to the reservation file too when the kernel has one
/// (config-linux.md: reservations "if supported"), as runc does.
pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
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
}
