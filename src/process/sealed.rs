//! CVE-2019-5736 for a container that may ptrace: until it execs, a new
//! container's init (and an `exec` process) is strata itself, in the
//! container. It is non-dumpable, but CAP_SYS_PTRACE in the host's user
//! namespace overrides that: such a container can hold /proc/PID/exe of
//! that process and, once strata exits, reopen it for writing. For that
//! case alone strata first re-executes itself from a sealed memfd copy (the
//! copy is what a container can reach, and no write can reach it); every
//! other container keeps the fast path with no copy and no re-exec.

use crate::error::{Ctx, Error, Result};
use crate::sys::{self, fd, memfd};
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Spec};
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;

/// Tells the re-executed process which file it was copied from (it is
/// believed only once /proc/self/exe proves to be a sealed memfd).
const MARKER: &str = "_STRATA_SEALED_FROM";

/// A binary file as the seccomp cache keys it, and as the payload check
/// refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl Identity {
    fn text(&self) -> String {
        let Identity {
            dev,
            ino,
            len,
            mtime,
            mtime_nsec,
        } = self;
        format!("{dev}:{ino}:{len}:{mtime}:{mtime_nsec}")
    }

    fn parse(s: &str) -> Option<Identity> {
        let mut it = s.split(':');
        let mut next = || it.next()?.parse::<i64>().ok();
        Some(Identity {
            dev: next()? as u64,
            ino: next()? as u64,
            len: next()? as u64,
            mtime: next()?,
            mtime_nsec: next()?,
        })
    }
}

static ORIGINAL: OnceLock<Identity> = OnceLock::new();

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
/// known and before anything is made: re-executes strata from a sealed
/// memfd copy when [`needed`] and not yet running from one. Returns only
/// when strata may go on.
pub fn ensure(spec: &Spec) -> Result<()> {
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref());
    if !needed(caps, userns(spec)) {
        return Ok(());
    }
    let exe = fd::openat(
        None,
        Path::new("/proc/self/exe"),
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    )
    .ctx(|| "open /proc/self/exe")?;
    let marker = std::env::var(MARKER).ok();
    std::env::remove_var(MARKER);
    if memfd::seals(exe.as_fd()).is_ok_and(|s| s & memfd::SEALS == memfd::SEALS) {
        if let Some(id) = marker.as_deref().and_then(Identity::parse) {
            let _ = ORIGINAL.set(id);
        }
        return Ok(());
    }
    let st = fd::fstat(exe.as_fd()).ctx(|| "fstat /proc/self/exe")?;
    let id = Identity {
        dev: st.st_dev,
        ino: st.st_ino,
        len: st.st_size as u64,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec,
    };
    let copy = memfd::sealed_copy(exe.as_fd(), id.len, c"strata")
        .ctx(|| "make a sealed memfd copy of the strata binary")?;
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut env: Vec<OsString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            OsString::from_vec(kv)
        })
        .collect();
    env.push(format!("{MARKER}={}", id.text()).into());
    let e = sys::execveat(copy.as_fd(), &args, &env);
    Err(Error::sys(
        "re-execute strata from its sealed memfd copy",
        e,
    ))
}

/// The strata binary file: for a sealed copy made by [`ensure`], the file
/// it was copied from (so the seccomp cache keeps one key per binary).
pub fn binary() -> Option<Identity> {
    if let Some(id) = ORIGINAL.get() {
        return Some(*id);
    }
    let m = std::fs::metadata("/proc/self/exe").ok()?;
    Some(Identity {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// (dev, inode) of the original binary when running from a sealed copy.
pub fn original() -> Option<(u64, u64)> {
    ORIGINAL.get().map(|id| (id.dev, id.ino))
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
    fn only_ptrace_without_userns_needs_the_copy() {
        let kill = caps(&[Capability::Kill], &[Capability::Kill]);
        let ptrace_bnd = caps(&[Capability::SysPtrace], &[]);
        let ptrace_eff = caps(&[], &[Capability::SysPtrace]);
        assert!(!needed(None, false));
        assert!(!needed(Some(&kill), false));
        assert!(needed(Some(&ptrace_bnd), false));
        assert!(needed(Some(&ptrace_eff), false));
        assert!(!needed(Some(&ptrace_eff), true));
    }

    #[test]
    fn identity_round_trips() {
        let id = Identity {
            dev: 2049,
            ino: 77,
            len: 2631744,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
        };
        assert_eq!(Identity::parse(&id.text()), Some(id));
        assert_eq!(Identity::parse("1:2:3"), None);
    }
}
