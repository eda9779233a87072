//! `tmpcopyup` (runc/podman): a tmpfs mounted over a directory of the image
//! starts with a copy of that directory, so `--read-only` containers keep
//! the image's /run, /tmp, /var/tmp contents. Copied fd-relative, never
//! following a symlink from the image.

use crate::error::{Ctx, Error, Result};
use crate::sys::fd;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Copies the contents of directory `src` into directory `dst`.
pub fn copy_dir(src: BorrowedFd, dst: BorrowedFd, depth: u32) -> Result<()> {
    if depth > 64 {
        return Err(Error::invalid("tmpcopyup: directory tree too deep"));
    }
    let rd = fd::openat(
        Some(src),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
    .ctx(|| "tmpcopyup: open source")?;
    let mut dir =
        nix::dir::Dir::from_fd(rd).map_err(|e| Error::sys("tmpcopyup: readdir", e.into()))?;
    for entry in dir.iter() {
        let entry = entry.map_err(|e| Error::sys("tmpcopyup: readdir", e.into()))?;
        let name = Path::new(OsStr::from_bytes(entry.file_name().to_bytes()));
        if name == Path::new(".") || name == Path::new("..") {
            continue;
        }
        let what = || format!("tmpcopyup: {}", name.display());
        let f = fd::openat(Some(src), name, libc::O_PATH | libc::O_NOFOLLOW, 0).ctx(what)?;
        let st = fd::fstat(f.as_fd()).ctx(what)?;
        let mode = st.st_mode & 0o7777;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                fd::mkdirat(dst, name, mode).ctx(what)?;
                let s = fd::openat(
                    Some(src),
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )
                .ctx(what)?;
                let d = fd::openat(
                    Some(dst),
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )
                .ctx(what)?;
                copy_dir(s.as_fd(), d.as_fd(), depth + 1)?;
            }
            libc::S_IFREG => {
                let s =
                    fd::openat(Some(src), name, libc::O_RDONLY | libc::O_NOFOLLOW, 0).ctx(what)?;
                let d = fd::openat(
                    Some(dst),
                    name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    mode,
                )
                .ctx(what)?;
                std::io::copy(&mut std::fs::File::from(s), &mut std::fs::File::from(d))
                    .ctx(what)?;
            }
            libc::S_IFLNK => {
                let target =
                    nix::fcntl::readlinkat(src, name).map_err(|e| Error::sys(what(), e.into()))?;
                fd::symlinkat(&target.to_string_lossy(), dst, name).ctx(what)?;
            }
            _ => continue, // devices, fifos, sockets: not carried over
        }
        fd::fchownat(dst, name, st.st_uid, st.st_gid, libc::AT_SYMLINK_NOFOLLOW).ctx(what)?;
    }
    Ok(())
}
