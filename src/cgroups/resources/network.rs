//! network: net_cls and net_prio (v1 only).

use super::{w, Host, Write};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// net_cls and net_prio exist on cgroup v1 only.
pub(super) fn writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
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
