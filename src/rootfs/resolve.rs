//! Paths inside the rootfs are resolved by fd with openat2(RESOLVE_IN_ROOT):
//! a symlink in the image can never point outside the rootfs, and nothing
//! is walked twice by string (CVE-2021-30465, CVE-2024-45310).

use crate::error::{Ctx, Result};
use crate::sys::fd::{self, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Opens `path` (absolute, container view) inside `root` as O_PATH.
pub fn open(root: BorrowedFd, path: &Path, no_symlinks: bool) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let mut resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if no_symlinks {
        resolve |= RESOLVE_NO_SYMLINKS;
    }
    fd::openat2(root, &rel, libc::O_PATH, 0, resolve)
}

/// `path` without its leading "/" (and "." for the root itself).
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Opens `path` inside `root`, creating missing directories on the way
/// and, when `file`, the last component as an empty regular file. Each
/// component is created relative to its parent's fd (mkdirat, O_EXCL).
pub fn create(root: BorrowedFd, path: &Path, file: bool, no_symlinks: bool) -> Result<OwnedFd> {
    match open(root, path, no_symlinks) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => {
            return Err(crate::error::Error::sys(
                format!("open {} in the rootfs", path.display()),
                e,
            ))
        }
    }
    let rel = relative(path);
    let comps: Vec<_> = rel.components().collect();
    let mut prefix = PathBuf::new();
    let mut parent = open(root, Path::new("/"), no_symlinks).ctx(|| "open rootfs")?;
    for (i, c) in comps.iter().enumerate() {
        let name = Path::new(c.as_os_str());
        prefix.push(name);
        let last = i + 1 == comps.len();
        let cur = match open(root, &prefix, no_symlinks) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let made = if last && file {
                    fd::openat(
                        Some(parent.as_fd()),
                        name,
                        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
                        0o644,
                    )
                    .map(drop)
                } else {
                    fd::mkdirat(parent.as_fd(), name, 0o755)
                };
                match made {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => {
                        return Err(crate::error::Error::sys(
                            format!("create {} in the rootfs", prefix.display()),
                            e,
                        ))
                    }
                }
                open(root, &prefix, no_symlinks)
                    .ctx(|| format!("open {} in the rootfs", prefix.display()))?
            }
            Err(e) => {
                return Err(crate::error::Error::sys(
                    format!("open {} in the rootfs", prefix.display()),
                    e,
                ))
            }
        };
        parent = cur;
    }
    Ok(parent)
}
