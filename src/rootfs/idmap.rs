//! Idmapped bind mounts (`idmap`, `ridmap` and a mount's own
//! `uidMappings`/`gidMappings`, runtime-spec config.md "mounts").
//!
//! The kernel only idmaps a mount for a caller privileged over the source's
//! filesystem (the host's user namespace for ext4/tmpfs), and only while
//! the mount is still detached. The container process has lost those
//! privileges by the time it mounts, so the runtime, before it clones the
//! container, clones each such source with open_tree, idmaps the detached
//! copy with mount_setattr(MOUNT_ATTR_IDMAP) and hands the fd down; the
//! container process attaches it onto a destination it resolved by fd
//! inside the rootfs, like any other bind.
//!
//! The maps come from a user namespace: the one joined by path when the
//! mount has no maps of its own, otherwise a throwaway namespace made by a
//! helper process with the maps written into it (the container's
//! linux.uidMappings/gidMappings when the mount has none).

use super::mounts::{self, own_maps};
use crate::error::{Ctx, Error, Result};
use crate::rootless::{self, MapFields};
use crate::sys::{self, clone, mount as m};
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The prepared trees, by index in the config's `mounts` (None: an
/// ordinary mount the container process makes itself).
#[derive(Default)]
pub struct Trees(Vec<Option<OwnedFd>>);

impl Trees {
    pub fn get(&self, i: usize) -> Option<BorrowedFd<'_>> {
        self.0.get(i).and_then(|t| t.as_ref().map(|t| t.as_fd()))
    }
}

/// Runs in the runtime before the container is cloned: one idmapped,
/// detached tree per idmap/ridmap mount. `joined_user` is the user
/// namespace joined by path, if any.
pub fn prepare(spec: &Spec, bundle: &Path, joined_user: Option<BorrowedFd>) -> Result<Trees> {
    let list = spec.mounts().as_deref().unwrap_or_default();
    let mut trees = Vec::with_capacity(list.len());
    // Mounts with the same maps share one namespace (and one helper).
    let mut made: Vec<(String, OwnedFd)> = Vec::new();
    for mnt in list {
        let p = mounts::parse(mnt)?;
        if !(p.idmap || p.ridmap) {
            trees.push(None);
            continue;
        }
        let dest = mnt.destination().display().to_string();
        let (uid, gid, fields) = match own_maps(mnt) {
            Some((uid, gid)) => (uid, gid, MOUNT_MAPS),
            // The container's maps; absent ones are an empty map, whose
            // write the kernel refuses (the error names the field).
            None => {
                let (uid, gid) = rootless::container_maps(spec);
                (uid, gid, rootless::CONTAINER_MAPS)
            }
        };
        let userns = match joined_user {
            Some(fd) if own_maps(mnt).is_none() => fd,
            _ => {
                let key = format!("{}|{}", rootless::map_text(uid), rootless::map_text(gid));
                let i = match made.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        let fd = helper_userns(uid, gid, fields)
                            .map_err(|e| prefix(e, &format!("mounts: {dest}: idmap: ")))?;
                        made.push((key, fd));
                        made.len() - 1
                    }
                };
                made[i].1.as_fd()
            }
        };
        let src = mounts::source_path(bundle, mnt.source().as_deref().unwrap_or(Path::new("")));
        let what = || format!("mounts: idmapped bind {} -> {dest}", src.display());
        let srcfd = sys::fd::openat(None, &src, libc::O_PATH, 0)
            .ctx(|| format!("mounts: bind source {}", src.display()))?;
        let tree = m::clone_tree(Some(srcfd.as_fd()), Path::new(""), p.recursive_bind).ctx(what)?;
        m::setattr(tree.as_fd(), p.set, p.clr, 0, false).ctx(what)?;
        m::setattr_idmap(tree.as_fd(), userns, p.ridmap).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::invalid(format!(
                    "{}: cannot be idmapped (a filesystem without idmap support, or a user namespace without id maps)",
                    what()
                ))
            } else {
                Error::sys(what(), e)
            }
        })?;
        trees.push(Some(tree));
    }
    Ok(Trees(trees))
}

fn prefix(e: Error, p: &str) -> Error {
    match e {
        Error::Sys { what, source } => Error::sys(format!("{p}{what}"), source),
        Error::Invalid(m) => Error::invalid(format!("{p}{m}")),
        e => e,
    }
}

/// A mount's own maps, named within the mount its errors already name.
const MOUNT_MAPS: MapFields = MapFields {
    uid: "uidMappings",
    gid: "gidMappings",
};

/// A user namespace with exactly these maps: a helper child unshares it
/// and sleeps while we write its maps and keep an fd to it, then dies.
fn helper_userns(
    uid: &[LinuxIdMapping],
    gid: &[LinuxIdMapping],
    fields: MapFields,
) -> Result<OwnedFd> {
    // The runtime has a single thread here, so a fork-like clone is safe.
    let (forked, _) = clone::clone(libc::CLONE_NEWUSER as u64, None)
        .ctx(|| "create a user namespace for the mount's id maps")?;
    let pid = match forked {
        clone::Forked::Child => {
            // Best effort: the parent kills us anyway once it has the fd.
            let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as _, 0);
            sys::pause_forever()
        }
        clone::Forked::Parent(pid) => pid,
    };
    // The namespace lives on through the fd; the helper is not needed.
    let _reap = clone::Reaper::one(pid);
    rootless::write_maps(pid, uid, gid, fields)?;
    sys::fd::openat(
        None,
        Path::new(&format!("/proc/{pid}/ns/user")),
        libc::O_RDONLY,
        0,
    )
    .ctx(|| "open the id-map user namespace")
}
