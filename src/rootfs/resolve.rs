//! Paths inside the rootfs are resolved by fd with openat2(RESOLVE_IN_ROOT):
//! a symlink in the image can never point outside the rootfs, and nothing
//! is walked twice by string (CVE-2021-30465, CVE-2024-45310).

use crate::error::{Error, Result};
use crate::sys::fd::{
    self, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};
use crate::sys::mount as m;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Cleared once /proc/self/fd turned out missing (no /proc in the
/// runtime's mount namespace): every later mount takes the new API.
static PROC_FD: AtomicBool = AtomicBool::new(true);

/// mount(2) onto the object `target` refers to (an fd resolved inside the
/// root as everything here is), or onto `name` directly below it when
/// `name` is one plain component in a directory only we can write, such
/// as a fresh tmpfs of ours: through `/proc/self/fd/N`, the kernel follows
/// the fd itself and no path in the rootfs is walked again
/// (CVE-2021-30465). `src` is a host path or another fd's
/// `/proc/self/fd/N`. Any error means "do it with the new mount API": the
/// caller does, which works without /proc and reports the precise error.
pub fn mount_at(
    src: Option<&Path>,
    target: BorrowedFd,
    name: Option<&Path>,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> std::io::Result<()> {
    if !PROC_FD.load(Ordering::Relaxed) {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    let mut t = m::fd_path(target);
    if let Some(n) = name {
        t.push(n);
    }
    let r = m::mount_data(src, &t, fstype, flags, data);
    if let Err(e) = &r {
        if e.raw_os_error() == Some(libc::ENOENT) && !Path::new("/proc/self/fd").exists() {
            PROC_FD.store(false, Ordering::Relaxed);
        }
    }
    r
}

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
/// and, when `file`, the last component as an empty regular file. Only
/// missing components cost more than the one openat2: each is created in
/// its parent's fd (mkdirat, O_EXCL) and opened from there.
pub fn create(root: BorrowedFd, path: &Path, file: bool, no_symlinks: bool) -> Result<OwnedFd> {
    create_rel(root, &relative(path), file, no_symlinks, 0)
}

/// Symlinks followed while creating one path, as the kernel's limit.
const MAX_HOPS: u32 = 40;

/// `path` made lexically plain (".." pops, at the root it stays there, as
/// RESOLVE_IN_ROOT treats it) and relative to the root.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn create_rel(
    root: BorrowedFd,
    rel: &Path,
    file: bool,
    no_symlinks: bool,
    hops: u32,
) -> Result<OwnedFd> {
    let fail = |what: &str, e| Error::sys(format!("{what} /{} in the rootfs", rel.display()), e);
    match open(root, rel, no_symlinks) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(fail("open", e)),
    }
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(fail(
            "open",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        ));
    };
    let dir = create_rel(root, parent, false, no_symlinks, hops)?;
    match child(dir.as_fd(), Path::new(name), file) {
        Ok(fd) => Ok(fd),
        // A symlink there (raced in since the open above) is resolved from
        // the root again, as every path is; a dangling one gets what it
        // points to created, inside the root (runc: FollowSymlinkInScope).
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && !no_symlinks => {
            match open(root, rel, false) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && hops < MAX_HOPS => {
                    let link = nix::fcntl::readlinkat(dir.as_fd(), Path::new(name))
                        .map_err(|e| fail("readlink", e.into()))?;
                    let next = lexical(&parent.join(link));
                    create_rel(root, &next, file, no_symlinks, hops + 1)
                }
                r => r.map_err(|e| fail("open", e)),
            }
        }
        Err(e) => Err(fail("create", e)),
    }
}

/// Creates `name` (a single component) in `dir` unless it exists, as a
/// directory or, when `file`, an empty regular file, and opens it as
/// O_PATH. `dir` must itself have been resolved inside the root: then one
/// component beneath it, never a symlink, is inside the root too.
pub fn child(dir: BorrowedFd, name: &Path, file: bool) -> std::io::Result<OwnedFd> {
    let made = if file {
        fd::openat(
            Some(dir),
            name,
            libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
            0o644,
        )
        .map(drop)
    } else {
        fd::mkdirat(dir, name, 0o755)
    };
    match made {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => return Err(e),
    }
    fd::openat2(
        dir,
        name,
        libc::O_PATH,
        0,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}
