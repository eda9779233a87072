//! CVE-2019-5736 for a container that may ptrace: until it execs, a new
//! container's init (and an `exec` process) is strata itself, in the
//! container. It is non-dumpable, but CAP_SYS_PTRACE in the host's user
//! namespace overrides that: such a container can hold /proc/PID/exe of
//! that process and, once strata exits, reopen it for writing. For that
//! case alone strata first re-executes itself through a read-only bind of
//! its own binary: /proc/PID/exe then names a file on a read-only mount, so
//! reopening it for writing fails with EROFS. The bind is detached (from
//! open_tree, never attached anywhere): no mount shows up in any mount
//! table, and it goes away with the last process that runs from it. No copy
//! is made (unlike a memfd, it costs no time or memory per byte), and the
//! file keeps its device and inode, so the seccomp cache and the payload's
//! identity check see the same binary. Every other container keeps the
//! fast path with no re-exec.

use crate::error::{Ctx, Error, Result};
use crate::sys::{self, mount};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Spec};
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// Whether the process may ptrace host processes: CAP_SYS_PTRACE in any of
/// its sets (a bounding-only one can still be gained through a file's
/// capabilities) and no user namespace (in one, the capability does not
/// reach processes whose memory belongs to the host's).
pub fn needed(caps: Option<&LinuxCapabilities>, userns: bool) -> bool {
    let Some(c) = caps.filter(|_| !userns) else {
        return false;
    };
    [
        c.bounding(),
        c.effective(),
        c.permitted(),
        c.inheritable(),
        c.ambient(),
    ]
    .iter()
    .any(|s| {
        s.as_ref()
            .is_some_and(|s| s.contains(&Capability::SysPtrace))
    })
}

fn userns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

/// Called by create/run/exec once the config (with its final process) is
/// known and before anything is made: when [`needed`], re-executes strata
/// from a read-only bind of its binary unless it already runs from a
/// read-only mount (that re-exec, or a binary installed read-only: either
/// way no write can reach it). Returns only when strata may go on.
pub fn ensure(spec: &Spec) -> Result<()> {
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref());
    if !needed(caps, userns(spec)) {
        return Ok(());
    }
    let exe = Path::new("/proc/self/exe");
    let st = statvfs(exe).map_err(|e| Error::sys("statvfs /proc/self/exe", e.into()))?;
    if st.flags().contains(FsFlags::ST_RDONLY) {
        return Ok(());
    }
    let tree = mount::clone_tree(None, exe, false)
        .ctx(|| "bind the strata binary (open_tree /proc/self/exe)")?;
    mount::setattr(tree.as_fd(), mount::ATTR_RDONLY, 0, 0, false)
        .ctx(|| "make the bind of the strata binary read-only")?;
    let args: Vec<OsString> = std::env::args_os().collect();
    let env: Vec<OsString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            OsString::from_vec(kv)
        })
        .collect();
    let e = sys::execveat(tree.as_fd(), &args, &env);
    Err(Error::sys(
        "re-execute strata from a read-only bind of itself",
        e,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    fn caps(bounding: &[Capability], effective: &[Capability]) -> LinuxCapabilities {
        LinuxCapabilitiesBuilder::default()
            .bounding(
                bounding
                    .iter()
                    .cloned()
                    .collect::<std::collections::HashSet<_>>(),
            )
            .effective(
                effective
                    .iter()
                    .cloned()
                    .collect::<std::collections::HashSet<_>>(),
            )
            .build()
            .expect("capabilities")
    }

    #[test]
    fn only_ptrace_without_userns_needs_the_bind() {
        let kill = caps(&[Capability::Kill], &[Capability::Kill]);
        let ptrace_bnd = caps(&[Capability::SysPtrace], &[]);
        let ptrace_eff = caps(&[], &[Capability::SysPtrace]);
        assert!(!needed(None, false));
        assert!(!needed(Some(&kill), false));
        assert!(needed(Some(&ptrace_bnd), false));
        assert!(needed(Some(&ptrace_eff), false));
        assert!(!needed(Some(&ptrace_eff), true));
    }
}
