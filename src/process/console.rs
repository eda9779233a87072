//! process.terminal: a pty made inside the container's devpts, the master
//! sent to --console-socket, the peer made the controlling terminal and
//! bound onto /dev/console.

use crate::error::{Ctx, Error, Result};
use crate::rootfs::resolve;
use crate::sys::{self, fd, mount as m};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

/// `bind_console`: a new container gets /dev/console; an exec'd process
/// only its own pty.
pub fn setup(socket: BorrowedFd, size: Option<(u16, u16)>, bind_console: bool) -> Result<()> {
    let master = fd::openat(
        None,
        Path::new("/dev/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY,
        0,
    )
    .ctx(|| "open /dev/ptmx")?;
    sys::tty::unlock(master.as_fd()).ctx(|| "unlock pty")?;
    // TIOCGPTPEER opens the peer through the master itself: no path lookup
    // an attacker could swap (CVE-2025-52565).
    let peer = sys::tty::peer(master.as_fd()).ctx(|| "open pty peer")?;
    if let Some((h, w)) = size {
        sys::tty::set_size(master.as_fd(), h, w).ctx(|| "set console size")?;
    }
    if bind_console {
        bind_dev_console(peer.as_fd())?;
    }
    fd::send_with_fd(socket, b"/dev/ptmx", Some(master.as_raw_fd()))
        .ctx(|| "send the pty master to --console-socket")?;
    sys::tty::make_controlling(peer.as_fd()).ctx(|| "make the pty the controlling terminal")?;
    for n in 0..3 {
        fd::dup2(peer.as_raw_fd(), n).ctx(|| format!("dup the pty onto fd {n}"))?;
    }
    Ok(())
}

/// /dev/console: created O_EXCL|O_NOFOLLOW so a pre-planted symlink fails,
/// then the pty peer is bound onto it from its fd (CVE-2025-52565).
fn bind_dev_console(peer: BorrowedFd) -> Result<()> {
    // /dev/console: created O_EXCL|O_NOFOLLOW so a pre-planted symlink fails,
    // then the peer is bound onto it from its fd.
    let root =
        fd::openat(None, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx(|| "open /")?;
    let dev = resolve::open(root.as_fd(), Path::new("/dev"), true).ctx(|| "open /dev")?;
    let devdir = fd::openat(
        Some(dev.as_fd()),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
    .ctx(|| "open /dev")?;
    match fd::openat(
        Some(devdir.as_fd()),
        Path::new("console"),
        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
        0o600,
    ) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            let f = fd::openat(
                Some(devdir.as_fd()),
                Path::new("console"),
                libc::O_PATH | libc::O_NOFOLLOW,
                0,
            )
            .ctx(|| "open /dev/console")?;
            let st = fd::fstat(f.as_fd()).ctx(|| "stat /dev/console")?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(Error::invalid(
                    "/dev/console in the rootfs is a symlink; refusing to use it",
                ));
            }
        }
        Err(e) => return Err(Error::sys("create /dev/console", e)),
    }
    let target = fd::openat(
        Some(devdir.as_fd()),
        Path::new("console"),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
    .ctx(|| "open /dev/console")?;
    let tree =
        m::clone_tree(Some(peer), Path::new(""), false).ctx(|| "bind the pty onto /dev/console")?;
    m::move_to_fd(tree.as_fd(), target.as_fd()).ctx(|| "bind the pty onto /dev/console")?;
    Ok(())
}
