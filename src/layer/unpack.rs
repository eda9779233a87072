//! `layer unpack`: apply an OCI layer tar to a directory, whiteouts turned
//! into overlay form. Hostile archives are refused: absolute paths, `..`,
//! a parent that is a symlink, hard links to anything outside the
//! directory. Every file is made fd-relative under a parent opened with
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so nothing lands outside.

use super::tar::{Kind, Reader};
use super::{OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::error::{Ctx, Error, Result};
use crate::sys::fd::{self, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const BENEATH: u64 = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

fn refuse(path: &str, why: &str) -> Error {
    Error::invalid(format!("layer: refusing tar entry {path:?}: {why}"))
}

/// The entry's path as clean components, or why it is refused.
fn clean(path: &str) -> Result<Vec<String>> {
    if path.starts_with('/') {
        return Err(refuse(path, "absolute path"));
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(refuse(path, "\"..\" escapes the directory")),
            c => out.push(c.to_string()),
        }
    }
    if out.is_empty() {
        return Err(refuse(path, "empty path"));
    }
    Ok(out)
}

/// Opens (creating as needed) the directory `comps` under `root`, refusing
/// symlinks anywhere on the way.
fn parent(root: BorrowedFd, comps: &[String], path: &str) -> Result<OwnedFd> {
    let mut cur = fd::openat2(
        root,
        Path::new("."),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        BENEATH,
    )
    .ctx(|| "open the target directory")?;
    for c in comps {
        let p = Path::new(c);
        cur = match fd::openat2(cur.as_fd(), p, libc::O_PATH | libc::O_DIRECTORY, 0, BENEATH) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                fd::mkdirat(cur.as_fd(), p, 0o755).ctx(|| format!("mkdir for {path}"))?;
                fd::openat2(cur.as_fd(), p, libc::O_PATH | libc::O_DIRECTORY, 0, BENEATH)
                    .ctx(|| format!("open parent of {path}"))?
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ELOOP) | Some(libc::EXDEV) | Some(libc::ENOTDIR)
                ) =>
            {
                return Err(refuse(
                    path,
                    "a parent directory is a symlink or not a directory",
                ))
            }
            Err(e) => return Err(Error::sys(format!("open parent of {path}"), e)),
        };
    }
    Ok(cur)
}

/// Removes `name` in `dir`, recursively if it is a directory.
fn remove(dir: BorrowedFd, name: &Path) -> Result<()> {
    match fd::unlinkat(dir, name) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if !matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {
            return Err(Error::sys(format!("remove {}", name.display()), e))
        }
        Err(_) => {}
    }
    let d = fd::openat(
        Some(dir),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
    .ctx(|| format!("open {}", name.display()))?;
    for n in super::diff::names(d.as_fd())? {
        remove(d.as_fd(), Path::new(std::ffi::OsStr::from_bytes(&n)))?;
    }
    fd::rmdirat(dir, name).ctx(|| format!("remove {}", name.display()))
}

pub fn unpack(input: impl Read, dir: &Path) -> Result<()> {
    let root = fd::openat(None, dir, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open {}", dir.display()))?;
    let mut tar = Reader::new(input);
    while let Some(e) = tar.next_entry().ctx(|| "read the layer tar")? {
        // "./" itself: the target directory, which already exists.
        if e.kind == Kind::Dir && e.path.split('/').all(|c| c.is_empty() || c == ".") {
            continue;
        }
        let comps = clean(&e.path)?;
        let (name, dirs) = comps
            .split_last()
            .ok_or_else(|| refuse(&e.path, "empty path"))?;
        let p = parent(root.as_fd(), dirs, &e.path)?;
        let what = || format!("unpack {}", e.path);
        if name == OPAQUE {
            let d = fd::openat(
                Some(p.as_fd()),
                Path::new("."),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
            .ctx(what)?;
            crate::sys::xattr::set(d.as_fd(), OPAQUE_XATTR, b"y")
                .ctx(|| format!("{}: set {OPAQUE_XATTR}", e.path))?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let h = Path::new(hidden);
            remove(p.as_fd(), h)?;
            // The overlay whiteout: a 0:0 character device.
            fd::mknodat(p.as_fd(), h, libc::S_IFCHR, 0, 0).ctx(what)?;
            continue;
        }
        let n = Path::new(name.as_str());
        if e.kind != Kind::Dir {
            remove(p.as_fd(), n)?;
        }
        match e.kind {
            Kind::Dir => match fd::mkdirat(p.as_fd(), n, e.mode) {
                Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                    let f = fd::openat2(p.as_fd(), n, libc::O_PATH | libc::O_DIRECTORY, 0, BENEATH)
                        .map_err(|_| refuse(&e.path, "exists and is not a directory"))?;
                    drop(f);
                }
                r => r.ctx(what)?,
            },
            Kind::File => {
                let f = fd::openat(
                    Some(p.as_fd()),
                    n,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    e.mode,
                )
                .ctx(what)?;
                tar.data(e.size, &mut std::fs::File::from(f)).ctx(what)?;
            }
            Kind::Symlink => fd::symlinkat(&e.link, p.as_fd(), n).ctx(what)?,
            Kind::HardLink => {
                let target = clean(&e.link)
                    .map_err(|_| refuse(&e.path, "hard link target outside the directory"))?;
                let t: PathBuf = target.iter().collect();
                let src = fd::openat2(
                    root.as_fd(),
                    &t,
                    libc::O_PATH | libc::O_NOFOLLOW,
                    0,
                    BENEATH,
                )
                .map_err(|_| {
                    refuse(&e.path, "hard link target missing or outside the directory")
                })?;
                fd::linkat_fd(src.as_fd(), p.as_fd(), n).ctx(what)?;
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let t = match e.kind {
                    Kind::Char => libc::S_IFCHR,
                    Kind::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                fd::mknodat(p.as_fd(), n, t | e.mode, e.major as u64, e.minor as u64).ctx(what)?;
            }
        }
        if e.kind != Kind::HardLink {
            fd::fchownat(p.as_fd(), n, e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW).ctx(what)?;
            if e.kind != Kind::Symlink {
                fd::fchmodat(p.as_fd(), n, e.mode).ctx(what)?;
            }
        }
    }
    Ok(())
}
