//! Running without host privileges: a non-root caller, or uid 0 inside a
//! user namespace that is not the host's (what rootless podman gives the
//! runtime). Decided once in the parent (`init`), before any clone, so the
//! container's processes inherit the decision.
//!
//! What changes: the state root follows $XDG_RUNTIME_DIR, id maps beyond
//! the caller's own id go through newuidmap/newgidmap, cgroups that cannot
//! be made are skipped when no resource was asked for, and sysfs falls back
//! to a bind of the host's /sys.

use crate::cgroups::Cgroup;
use crate::error::{Ctx, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxResources, Mount, Spec};
use std::path::Path;
use std::sync::OnceLock;

static ROOTLESS: OnceLock<bool> = OnceLock::new();

/// The host's own user namespace maps every id to itself.
const IDENTITY_MAP: &str = "0 0 4294967295";

/// Fixes the mode from the global `--rootless` flag (runc's values:
/// true, false, auto; absent means auto).
pub fn init(flag: Option<&str>) -> Result<()> {
    let on = match flag.unwrap_or("auto") {
        "true" => true,
        "false" => false,
        "auto" => detect(),
        other => {
            return Err(Error::invalid(format!(
                "--rootless {other:?}: use true, false or auto"
            )))
        }
    };
    // Set once per process; a second call keeps the first decision.
    let _ = ROOTLESS.set(on);
    Ok(())
}

/// Whether strata runs without host privileges (`init`'s decision, or
/// detection when `init` was not called).
pub fn active() -> bool {
    *ROOTLESS.get_or_init(detect)
}

fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_foreign_userns()
}

/// uid 0 with a uid_map other than the identity: root of a user
/// namespace someone else made, with no privilege over the host.
pub fn in_foreign_userns() -> bool {
    match crate::sys::fd::read_small("/proc/self/uid_map") {
        Ok(m) => m.split_whitespace().collect::<Vec<_>>().join(" ") != IDENTITY_MAP,
        // No /proc (or no user namespaces in the kernel): the host's own.
        Err(_) => false,
    }
}

/// The host uid our effective uid is, through /proc/self/uid_map (itself
/// on the host; in rootless podman's user namespace, 0 is the user).
pub fn host_uid() -> std::result::Result<u32, String> {
    let euid = nix::unistd::geteuid().as_raw();
    let map = crate::sys::fd::read_small("/proc/self/uid_map")
        .map_err(|e| format!("read /proc/self/uid_map: {}", crate::error::errstr(&e)))?;
    host_id(&map, euid).ok_or_else(|| format!("uid {euid} is not in /proc/self/uid_map"))
}

fn host_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let id = u64::from(id);
        (id >= inside && id - inside < count)
            .then(|| u32::try_from(outside + (id - inside)).ok())
            .flatten()
    })
}

/// runc's rule for the default state root: $XDG_RUNTIME_DIR for a
/// non-root caller, and for uid 0 in a foreign user namespace unless
/// $USER says root (a root shell that merely entered one).
pub fn honor_xdg_runtime_dir() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    in_foreign_userns() && std::env::var("USER").map_or(true, |u| u != "root")
}

/// The linux.resources fields that need a cgroup, by spec name. Device
/// rules are left out: without a cgroup the host's own device access
/// (nothing beyond the caller's) still holds, as runc treats them.
fn asked_resources(r: Option<&LinuxResources>) -> Vec<String> {
    let Some(v) = r.and_then(|r| serde_json::to_value(r).ok()) else {
        return Vec::new();
    };
    let Some(map) = v.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, v)| {
            k.as_str() != "devices"
                && match v {
                    serde_json::Value::Null => false,
                    serde_json::Value::Object(o) => o.values().any(|x| !x.is_null()),
                    serde_json::Value::Array(a) => !a.is_empty(),
                    _ => true,
                }
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The first directory strata would have to make under `d` and cannot:
/// its nearest existing ancestor is not writable by us.
fn unwritable(d: &Path) -> Option<(std::path::PathBuf, nix::errno::Errno)> {
    let mut p = d;
    while !p.exists() {
        p = p.parent()?;
    }
    if p == d {
        // There already (a pre-made or delegated cgroup): joining it
        // needs cgroup.procs to be writable.
        let procs = d.join("cgroup.procs");
        return nix::unistd::access(&procs, nix::unistd::AccessFlags::W_OK)
            .err()
            .map(|e| (procs, e));
    }
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK)
        .err()
        .map(|e| (p.to_path_buf(), e))
}

/// Decides, before anything is made, whether a rootless container gets
/// its cgroup. `None`: none can be made and none is needed (logged at
/// debug). Asked-for resources without a cgroup are one error naming the
/// resource, and so is a cgroupsPath the config names (runc skips only the
/// cgroup it would have named itself). Root callers always get `Some`.
pub fn cgroup(
    cg: Cgroup,
    r: Option<&LinuxResources>,
    explicit_path: bool,
) -> Result<Option<Cgroup>> {
    // systemd makes a unit's cgroup, delegated to the user it runs for.
    if !active() || cg.unit.is_some() {
        return Ok(Some(cg));
    }
    let denied = cg.paths.dirs().find_map(|d| unwritable(d));
    let Some((at, errno)) = denied else {
        return Ok(Some(cg));
    };
    if explicit_path {
        return Err(Error::invalid(format!(
            "linux.cgroupsPath: a rootless caller cannot make or join it: {}: {}",
            at.display(),
            errno.desc().to_lowercase()
        )));
    }
    if let Some(field) = asked_resources(r).first() {
        return Err(Error::invalid(format!(
            "linux.resources.{field}: a rootless container cannot have it: no cgroup can be made ({}: {}); this host has no cgroup delegated by a systemd user manager",
            at.display(),
            errno.desc().to_lowercase()
        )));
    }
    tracing::debug!(
        "rootless: no cgroup ({}: {}) and no resource asked for; running without one",
        at.display(),
        errno.desc()
    );
    Ok(None)
}

/// After a sysfs mount failed: sysfs can only be mounted by the owner of
/// the network namespace, so a rootless container without one of its own
/// gets the host's /sys, bound read-only (as `spec --rootless` writes it).
pub fn sysfs_fallback(m: &Mount, err: &Error) -> Option<Mount> {
    let eperm =
        matches!(err, Error::Sys { source, .. } if source.raw_os_error() == Some(libc::EPERM));
    if !active() || !eperm || m.typ().as_deref() != Some("sysfs") {
        return None;
    }
    tracing::debug!(
        "rootless: sysfs on {} denied; binding the host's /sys",
        m.destination().display()
    );
    let mut b = m.clone();
    b.set_typ(Some("none".into()))
        .set_source(Some("/sys".into()))
        .set_options(Some(
            ["rbind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        ));
    Some(b)
}

/// Whether `maps` is the single mapping of our own `id` that an
/// unprivileged process may write itself.
fn own_only(maps: &[LinuxIdMapping], id: u32) -> bool {
    matches!(maps, [m] if m.host_id() == id && m.size() == 1)
}

/// Writes uid_map and gid_map of `pid`. Written directly when allowed
/// (root, or a rootless caller's own single id, after setgroups "deny"
/// as the kernel requires of an unprivileged gid_map writer); otherwise,
/// for a rootless caller, through newuidmap/newgidmap, which grant the
/// ranges /etc/subuid and /etc/subgid give the caller. `fields` name the
/// config fields the uid and gid maps came from, for errors.
pub fn write_maps(
    pid: i32,
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
    fields: MapFields,
) -> Result<()> {
    write_map(pid, "uid_map", "newuidmap", uid, fields.uid)?;
    if active() && own_only(gid, nix::unistd::getegid().as_raw()) {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .ctx(|| "write setgroups \"deny\" before gid_map (rootless)")?;
    }
    write_map(pid, "gid_map", "newgidmap", gid, fields.gid)
}

/// The container's linux.uidMappings and gidMappings, empty when absent.
pub fn container_maps(spec: &Spec) -> (&[LinuxIdMapping], &[LinuxIdMapping]) {
    let linux = spec.linux().as_ref();
    (
        linux
            .and_then(|l| l.uid_mappings().as_deref())
            .unwrap_or_default(),
        linux
            .and_then(|l| l.gid_mappings().as_deref())
            .unwrap_or_default(),
    )
}

/// The config fields a pair of id maps came from.
#[derive(Clone, Copy)]
pub struct MapFields {
    pub uid: &'static str,
    pub gid: &'static str,
}

/// The container's own maps (linux.uidMappings/gidMappings).
pub const CONTAINER_MAPS: MapFields = MapFields {
    uid: "linux.uidMappings",
    gid: "linux.gidMappings",
};

/// The text of a uid_map or gid_map: one "inside outside count" line a
/// mapping.
pub(crate) fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_map(pid: i32, file: &str, tool: &str, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let text = map_text(maps);
    let err = match std::fs::write(format!("/proc/{pid}/{file}"), &text) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if !active() || err.raw_os_error() != Some(libc::EPERM) || maps.is_empty() {
        return Err(Error::sys(format!("write {file} ({field})"), err));
    }
    let mut cmd = std::process::Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        Error::sys(
            format!("write {file} ({field}): not allowed without privileges, and {tool} (package uidmap) cannot be run"),
            e,
        )
    })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::invalid(format!(
            "{field}: {tool} refused the mapping ({}); /etc/sub{}id must grant these ids to the caller",
            why.trim().replace('\n', "; "),
            &file[..1]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn host_id_through_the_map() {
        assert_eq!(host_id("0 0 4294967295\n", 1000), Some(1000));
        let podman = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(host_id(podman, 0), Some(1000));
        assert_eq!(host_id(podman, 1), Some(100000));
        assert_eq!(host_id(podman, 65537), None);
    }

    #[test]
    fn devices_alone_ask_for_nothing() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
        assert!(asked_resources(Some(&r)).is_empty());
        assert!(asked_resources(None).is_empty());
        assert!(asked_resources(Some(&res("{}"))).is_empty());
    }

    #[test]
    fn a_memory_limit_is_named() {
        let r = res(r#"{"memory":{"limit":1048576}}"#);
        assert_eq!(asked_resources(Some(&r)), vec!["memory".to_string()]);
    }

    #[test]
    fn own_id_alone() {
        let m: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1}]"#).unwrap();
        assert!(own_only(&m, 1000));
        assert!(!own_only(&m, 1001));
        let two: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        )
        .unwrap();
        assert!(!own_only(&two, 1000));
    }
}
