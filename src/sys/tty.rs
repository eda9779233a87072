//! pty ioctls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

pub fn unlock(master: BorrowedFd) -> io::Result<()> {
    let zero: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int.
    let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &zero) };
    super::check(r as libc::c_long)?;
    Ok(())
}

pub fn peer(master: BorrowedFd) -> io::Result<OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let r = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    super::check(r as libc::c_long)?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

pub fn set_size(fd: BorrowedFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    super::check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } as libc::c_long)?;
    Ok(())
}

pub fn make_controlling(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument.
    super::check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) } as libc::c_long)?;
    Ok(())
}

/// Joins (making it if none is found) the session keyring `name`, and
/// adds the permission bits `add` to it.
pub fn join_session_keyring(name: &str, add: u32) -> io::Result<()> {
    let n = super::cstring(name)?;
    // SAFETY: a valid C string.
    let id = super::check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            n.as_ptr(),
        )
    })?;
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are passed together.
    let len = super::check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_DESCRIBE,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    })?;
    // "type;uid;gid;perm;description", perm in hex.
    let desc = String::from_utf8_lossy(&buf[..(len as usize).min(buf.len())]);
    let perm = desc
        .split(';')
        .nth(3)
        .and_then(|p| u32::from_str_radix(p, 16).ok())
        .ok_or_else(|| io::Error::other(format!("keyctl describe: unexpected {desc:?}")))?;
    if perm & add == add {
        return Ok(());
    }
    // SAFETY: plain integer arguments.
    super::check(unsafe { libc::syscall(libc::SYS_keyctl, libc::KEYCTL_SETPERM, id, perm | add) })?;
    Ok(())
}

/// TIOCGWINSZ: (rows, cols).
pub fn get_size(fd: BorrowedFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize to the valid pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    super::check(r as libc::c_long)?;
    Ok((ws.ws_row, ws.ws_col))
}
