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

/// `/proc/self/fd/N`: the inode `fd` refers to (an `O_PATH` fd too, even of
/// a symlink or a device, which cannot be opened for f*xattr without
/// following the link or opening the device). The *xattr calls below
/// follow that magic link to the inode and no further.
fn proc_fd(fd: BorrowedFd) -> io::Result<std::ffi::CString> {
    super::cstring(&format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Sets xattr `name` on the inode of `fd` (which may be `O_PATH`).
pub fn set_fd_inode(fd: BorrowedFd, name: &str, value: &[u8]) -> io::Result<()> {
    let p = proc_fd(fd)?;
    let n = super::cstring(name)?;
    // SAFETY: valid C strings; value and its length are passed together.
    super::check(unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    } as libc::c_long)?;
    Ok(())
}

/// The xattr names on the inode of `fd` (which may be `O_PATH`).
pub fn list_fd_inode(fd: BorrowedFd) -> io::Result<Vec<String>> {
    let p = proc_fd(fd)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: valid C string; buffer and its length are passed together.
        let r = unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < 1 << 20 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            return Err(e);
        }
        return Ok(buf[..r as usize]
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect());
    }
}

/// The value of xattr `name` on the inode of `fd` (which may be `O_PATH`).
pub fn get_fd_inode(fd: BorrowedFd, name: &str) -> io::Result<Vec<u8>> {
    let p = proc_fd(fd)?;
    let n = super::cstring(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid C strings; buffer and its length are passed together.
        let r =
            unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            // Values are at most 64 KiB (XATTR_SIZE_MAX).
            if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < 1 << 17 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            return Err(e);
        }
        buf.truncate(r as usize);
        return Ok(buf);
    }
}
