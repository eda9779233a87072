//! linux.sysctl: only namespaced keys, written through a procfs handle that
//! was checked to be procfs (a fake /proc in the image must not swallow
//! the writes: CVE-2019-16884, CVE-2025-52881).

use crate::error::{Ctx, Error, Result};
use crate::sys::{self, fd};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

const IPC: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Which namespace makes `key` safe to set, or an error naming the key.
pub fn validate(key: &str, new_ns: i32) -> Result<()> {
    let need = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        libc::CLONE_NEWIPC
    } else if key.starts_with("net.") {
        libc::CLONE_NEWNET
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        libc::CLONE_NEWUTS
    } else {
        return Err(Error::invalid(format!(
            "linux.sysctl {key:?}: not a namespaced sysctl; it would change the host"
        )));
    };
    if key.contains("..") || key.contains('/') && key.contains('.') {
        return Err(Error::invalid(format!("linux.sysctl {key:?}: invalid key")));
    }
    if new_ns & need == 0 {
        return Err(Error::invalid(format!(
            "linux.sysctl {key:?}: needs a new namespace of its kind in linux.namespaces"
        )));
    }
    Ok(())
}

/// Runs before readonlyPaths make /proc/sys read-only; `root` is the
/// rootfs, whose /proc is already the container's procfs.
pub fn apply(root: BorrowedFd, sysctl: &HashMap<String, String>) -> Result<()> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc_sys = super::resolve::open(root, Path::new("/proc/sys"), true)
        .ctx(|| "open /proc/sys (linux.sysctl needs /proc mounted)")?;
    if sys::statfs_type(proc_sys.as_fd()).ctx(|| "statfs /proc/sys")? != PROC_SUPER_MAGIC {
        return Err(Error::invalid("linux.sysctl: /proc/sys is not procfs"));
    }
    for (k, v) in sysctl {
        let rel = k.replace('.', "/");
        let f = fd::openat2(
            proc_sys.as_fd(),
            Path::new(&rel),
            libc::O_WRONLY,
            0,
            fd::RESOLVE_NO_SYMLINKS
                | fd::RESOLVE_NO_MAGICLINKS
                | fd::RESOLVE_BENEATH
                | fd::RESOLVE_NO_XDEV,
        )
        .ctx(|| format!("open /proc/sys/{rel} (linux.sysctl {k})"))?;
        std::fs::File::from(f)
            .write_all(v.as_bytes())
            .ctx(|| format!("write linux.sysctl {k}={v}"))?;
    }
    Ok(())
}
