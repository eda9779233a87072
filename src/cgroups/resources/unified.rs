//! unified: cgroup v2 files written as given.

use super::{w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// cgroup v2 files written as given, after everything else (so they win,
/// as in runc). On a hybrid host they go to its cgroup2 hierarchy when the
/// controller is there; a v1-only host has nowhere to put them (runc:
/// "cannot use unified on cgroup v1").
pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
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
