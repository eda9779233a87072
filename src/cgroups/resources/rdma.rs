//! rdma: per-device hca handle and object limits.

use super::{need, w, Host, Write};
use crate::error::Result;
use oci_spec::runtime::LinuxResources;

pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
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
