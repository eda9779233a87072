//! maskedPaths (files covered by /dev/null, directories by an empty
//! read-only tmpfs) and readonlyPaths (bound read-only onto themselves).

use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::{fd, mount as m};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The host's /dev/null, checked to really be char 1:3 before it is used
/// to mask anything (CVE-2025-31133: a swapped /dev/null would bind the
/// attacker's file over /proc entries).
fn dev_null() -> Result<OwnedFd> {
    let f = fd::openat(
        None,
        Path::new("/dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
    .ctx(|| "open /dev/null")?;
    let st = fd::fstat(f.as_fd()).ctx(|| "stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(Error::invalid(
            "/dev/null is not the null device; refusing to mask with it",
        ));
    }
    Ok(f)
}

fn open_existing(root: BorrowedFd, p: &str) -> Result<Option<OwnedFd>> {
    match resolve::open(root, Path::new(p), false) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(Error::sys(format!("open {p} in the rootfs"), e)),
    }
}

pub fn mask(root: BorrowedFd, paths: &[String]) -> Result<()> {
    let mut null = None;
    for p in paths {
        let Some(target) = open_existing(root, p)? else {
            continue;
        };
        // Not fatal yet: a directory needs no /dev/null, and for a file
        // mask_new_api opens it again and reports why it cannot.
        if null.is_none() {
            null = dev_null().ok();
        }
        if let Some(n) = &null {
            // One mount(2) through the fds (resolve::mount_at), as runc
            // does: the checked /dev/null over a file; over a directory
            // that fails with ENOTDIR and an empty read-only tmpfs goes
            // there instead.
            let src = m::fd_path(n.as_fd());
            let r = resolve::mount_at(Some(&src), target.as_fd(), None, None, libc::MS_BIND, None);
            let done = match r {
                Ok(()) => true,
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => resolve::mount_at(
                    None,
                    target.as_fd(),
                    None,
                    Some("tmpfs"),
                    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    Some("size=0"),
                )
                .is_ok(),
                Err(_) => false,
            };
            if done {
                continue;
            }
        }
        mask_new_api(target.as_fd(), p, &mut null)?;
    }
    Ok(())
}

/// The fallback (no usable /proc/self/fd, or an error to report): a
/// detached tmpfs or /dev/null clone moved onto the target.
fn mask_new_api(target: BorrowedFd, p: &str, null: &mut Option<OwnedFd>) -> Result<()> {
    let st = fd::fstat(target).ctx(|| format!("stat {p}"))?;
    let tree = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let ctx = m::FsContext::open("tmpfs").ctx(|| "tmpfs")?;
        ctx.set("size", Some("0")).ctx(|| format!("mask {p}"))?;
        ctx.mount(m::ATTR_RDONLY | m::ATTR_NOSUID | m::ATTR_NODEV | m::ATTR_NOEXEC)
            .ctx(|| format!("mask {p}"))?
    } else {
        if null.is_none() {
            *null = Some(dev_null()?);
        }
        let n = null
            .as_ref()
            .map(|f| f.as_fd())
            .ok_or_else(|| Error::invalid("/dev/null"))?;
        m::clone_tree(Some(n), Path::new(""), false).ctx(|| format!("mask {p}"))?
    };
    m::move_to_fd(tree.as_fd(), target).ctx(|| format!("mask {p}"))
}

pub fn readonly(root: BorrowedFd, paths: &[String]) -> Result<()> {
    for p in paths {
        let Some(target) = open_existing(root, p)? else {
            continue;
        };
        let tree = m::clone_tree(Some(target.as_fd()), Path::new(""), true)
            .ctx(|| format!("bind {p} read-only"))?;
        m::setattr(tree.as_fd(), m::ATTR_RDONLY, 0, 0, true)
            .ctx(|| format!("make {p} read-only"))?;
        m::move_to_fd(tree.as_fd(), target.as_fd()).ctx(|| format!("bind {p} read-only"))?;
    }
    Ok(())
}
