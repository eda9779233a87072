//! Entering the rootfs: pivot_root with the old root detached, MS_MOVE +
//! chroot with --no-pivot (for ramdisk roots where pivot_root fails), or
//! a plain chroot when the container shares the runtime's mount namespace.

use crate::error::{Ctx, Result};
use crate::sys::{self, fd};
use std::os::fd::BorrowedFd;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum How {
    Pivot,
    /// --no-pivot.
    MoveChroot,
    /// No mount namespace of its own: pivot_root or MS_MOVE would change
    /// the runtime's (the host's) root for everyone; runc chroots too.
    /// (A lazy unmount of the rootfs bind would disconnect its submounts
    /// from the container's view as well, so it stays: `delete` detaches it.)
    Chroot,
}

pub fn enter(root: BorrowedFd, how: How) -> Result<()> {
    fd::fchdir(root).ctx(|| "chdir to the rootfs")?;
    match how {
        How::Chroot => sys::chroot_dot().ctx(|| "chroot to the rootfs (no mount namespace)")?,
        How::MoveChroot => {
            sys::mount::mount(Some(Path::new(".")), Path::new("/"), None, libc::MS_MOVE)
                .ctx(|| "move the rootfs to / (--no-pivot)")?;
            sys::chroot_dot().ctx(|| "chroot to the rootfs (--no-pivot)")?;
        }
        How::Pivot => {
            // pivot_root(".", ".") stacks the old root on top of the new one;
            // making it a slave first keeps the detach from propagating to the
            // host, then the detach leaves no host mount reachable.
            sys::pivot_root_dot().ctx(|| "pivot_root")?;
            sys::mount::mount(None, Path::new("."), None, libc::MS_SLAVE | libc::MS_REC)
                .ctx(|| "make the old root a slave")?;
            sys::mount::umount_detach(Path::new(".")).ctx(|| "detach the old root")?;
        }
    }
    // The cwd is the new root already (we fchdir'ed into it, and it is what
    // pivot_root and the chroot make "/"); the init enters process.cwd and
    // checks it with getcwd next (CVE-2024-21626).
    Ok(())
}
