//! Extended attributes by fd (overlayfs marks opaque directories with
//! `trusted.overlay.opaque`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

pub fn get(fd: BorrowedFd, name: &str) -> Option<Vec<u8>> {
    let n = super::cstring(name).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: buffer and its length are passed together.
    let r = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

pub fn set(fd: BorrowedFd, name: &str, value: &[u8]) -> io::Result<()> {
    let n = super::cstring(name)?;
    // SAFETY: value and its length are passed together.
    super::check(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    } as libc::c_long)?;
    Ok(())
}
