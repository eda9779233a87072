//! pidfds: signal a process without racing pid reuse.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments; the result is a new fd we own.
    let r = super::check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd to us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

pub fn send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: NULL siginfo is allowed; the fd is owned and open.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    })?;
    Ok(())
}

/// Polls `fds` for readability; returns which ones are ready. Retries EINTR.
pub fn poll_readable(fds: &[i32], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `p` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as _, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return Ok(p.iter().map(|x| x.revents != 0).collect());
    }
}
