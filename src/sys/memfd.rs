//! Sealed memfd copies of a file (the runtime binary, for CVE-2019-5736).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The seals of a finished copy: no more seals, no size change, no writes.
pub const SEALS: i32 =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// The seals of the memfd `fd` (EINVAL for any other kind of file).
pub fn seals(fd: BorrowedFd) -> io::Result<i32> {
    // SAFETY: F_GET_SEALS takes no pointer argument; fd is open.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    super::check(r as libc::c_long).map(|v| v as i32)
}

/// A close-on-exec memfd named `name` holding the `len` bytes of `src`,
/// sealed with [`SEALS`].
pub fn sealed_copy(src: BorrowedFd, len: u64, name: &CStr) -> io::Result<OwnedFd> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: name is a NUL-terminated string; flags are plain integers.
    let fd = super::check(unsafe { libc::memfd_create(name.as_ptr(), flags) } as libc::c_long)?;
    // SAFETY: memfd_create just returned this fd; nothing else owns it.
    let copy = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut offset: libc::off_t = 0;
    while (offset as u64) < len {
        let left = (len - offset as u64).min(1 << 30) as usize;
        // SAFETY: both fds are open; offset points at a live off_t that
        // sendfile advances.
        let n = unsafe { libc::sendfile(copy.as_raw_fd(), src.as_raw_fd(), &mut offset, left) };
        if super::check(n as libc::c_long)? == 0 {
            // The file shrank under us: a torn copy must never run.
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
    }
    // SAFETY: F_ADD_SEALS takes an integer argument; the fd is open.
    let r = unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) };
    super::check(r as libc::c_long)?;
    Ok(copy)
}
