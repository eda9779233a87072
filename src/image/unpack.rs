//! `layer unpack`: apply an OCI layer tar to a directory, whiteouts turned
//! into overlay form. The tar is parsed by the `tar` crate; applying it is
//! ours, because that is where hostile archives do harm. Refused: absolute
//! paths, `..`, a parent that is a symlink, hard links to anything outside
//! the directory, whiteouts whose name (after `.wh.`) is empty, `.` or
//! `..`. Every file is made fd-relative under a parent opened with
//! RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and removals (whiteouts, replaced
//! entries) open what they remove the same way, so nothing outside the
//! directory is touched. Owners, modes and xattrs are set as the tar says,
//! through an `O_PATH` fd of the new file.

use super::tar::{self, Entry, Kind};
use super::{OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::error::{Ctx, Error, Result};
use crate::sys::fd::{self, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
use crate::sys::xattr;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const BENEATH: u64 = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/// Aufs' own metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): not content, skipped
/// as Docker's applier does.
const AUFS_META: &str = ".wh..wh.";

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

/// One name inside a directory: never empty, `.`, `..` or with a slash.
/// A whiteout `.wh...` would otherwise name the parent directory, and its
/// removal empty it (path traversal out of the layer).
fn one_component(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains('/'))
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

/// Removes `name` in `dir`, recursively if it is a directory, never
/// leaving `dir`: `name` is one component and the directory is opened
/// beneath `dir` without following symlinks.
fn remove(dir: BorrowedFd, name: &Path) -> Result<()> {
    let s = name.to_string_lossy();
    if !one_component(&s) {
        return Err(Error::invalid(format!(
            "layer: refusing to remove {s:?}: not a name inside the directory"
        )));
    }
    match fd::unlinkat(dir, name) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if !matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {
            return Err(Error::sys(format!("remove {s}"), e))
        }
        Err(_) => {}
    }
    let d = fd::openat2(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0, BENEATH)
        .ctx(|| format!("open {s}"))?;
    for n in super::diff::names(d.as_fd())? {
        remove(d.as_fd(), Path::new(std::ffi::OsStr::from_bytes(&n)))?;
    }
    fd::rmdirat(dir, name).ctx(|| format!("remove {s}"))
}

/// Owner, then mode (chown clears set-id bits), then xattrs (chown clears
/// `security.capability`), all on an `O_PATH` fd of the entry just made.
fn set_meta(p: BorrowedFd, n: &Path, e: &Entry) -> Result<()> {
    let what = || format!("unpack {}", e.path);
    let f = fd::openat2(p, n, libc::O_PATH | libc::O_NOFOLLOW, 0, BENEATH).ctx(what)?;
    fd::fchownat(f.as_fd(), Path::new(""), e.uid, e.gid, libc::AT_EMPTY_PATH)
        .ctx(|| format!("{}: chown {}:{}", e.path, e.uid, e.gid))?;
    if e.kind != Kind::Symlink {
        // chmod cannot take an O_PATH fd; its /proc/self/fd link names the
        // same inode.
        let proc = format!("/proc/self/fd/{}", f.as_raw_fd());
        let perm = std::os::unix::fs::PermissionsExt::from_mode(e.mode);
        std::fs::set_permissions(&proc, perm).ctx(|| format!("{}: chmod {:o}", e.path, e.mode))?;
    }
    for (k, v) in &e.xattrs {
        // overlayfs' own attributes steer how it merges layers (redirects,
        // metacopy, opacity); a layer says "opaque" with .wh..wh..opq.
        if k.starts_with("trusted.overlay.") {
            return Err(refuse(&e.path, &format!("sets overlayfs' own xattr {k}")));
        }
        xattr::set_fd_inode(f.as_fd(), k, v).ctx(|| format!("{}: set xattr {k}", e.path))?;
    }
    Ok(())
}

fn apply(root: BorrowedFd, e: &Entry, data: &mut dyn Read) -> Result<()> {
    // "./" itself: the target directory, which already exists.
    if e.kind == Kind::Dir && e.path.split('/').all(|c| c.is_empty() || c == ".") {
        return Ok(());
    }
    let comps = clean(&e.path)?;
    let (name, dirs) = comps
        .split_last()
        .ok_or_else(|| refuse(&e.path, "empty path"))?;
    let what = || format!("unpack {}", e.path);
    if name.starts_with(AUFS_META) && name != OPAQUE {
        return Ok(());
    }
    let hidden = name.strip_prefix(WHITEOUT_PREFIX);
    if let Some(h) = hidden.filter(|_| name != OPAQUE) {
        if !one_component(h) {
            return Err(refuse(
                &e.path,
                "whiteout of an empty name, \".\" or \"..\" (it would delete outside its directory)",
            ));
        }
    }
    let p = parent(root, dirs, &e.path)?;
    if name == OPAQUE {
        let d = fd::openat2(p.as_fd(), Path::new("."), libc::O_PATH, 0, BENEATH).ctx(what)?;
        xattr::set_fd_inode(d.as_fd(), OPAQUE_XATTR, b"y")
            .ctx(|| format!("{}: set {OPAQUE_XATTR}", e.path))?;
        return Ok(());
    }
    if let Some(h) = hidden {
        let h = Path::new(h);
        remove(p.as_fd(), h)?;
        // The overlay whiteout: a 0:0 character device.
        fd::mknodat(p.as_fd(), h, libc::S_IFCHR, 0, 0).ctx(what)?;
        return Ok(());
    }
    let n = Path::new(name.as_str());
    if e.kind != Kind::Dir {
        remove(p.as_fd(), n)?;
    }
    match e.kind {
        Kind::Dir => match fd::mkdirat(p.as_fd(), n, 0o700) {
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                fd::openat2(p.as_fd(), n, libc::O_PATH | libc::O_DIRECTORY, 0, BENEATH)
                    .map_err(|_| refuse(&e.path, "exists and is not a directory"))?;
            }
            r => r.ctx(what)?,
        },
        Kind::File => {
            // O_EXCL|O_NOFOLLOW: never written through a symlink.
            let f = fd::openat(
                Some(p.as_fd()),
                n,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                0o600,
            )
            .ctx(what)?;
            let got = std::io::copy(data, &mut std::fs::File::from(f)).ctx(what)?;
            if got != e.size {
                return Err(Error::invalid(format!(
                    "layer: tar entry {:?} is truncated ({got} of {} bytes)",
                    e.path, e.size
                )));
            }
        }
        Kind::Symlink => fd::symlinkat(&e.link, p.as_fd(), n).ctx(what)?,
        Kind::HardLink => {
            let target = clean(&e.link)
                .map_err(|_| refuse(&e.path, "hard link target outside the directory"))?;
            let t: PathBuf = target.iter().collect();
            let src = fd::openat2(root, &t, libc::O_PATH | libc::O_NOFOLLOW, 0, BENEATH).map_err(
                |_| refuse(&e.path, "hard link target missing or outside the directory"),
            )?;
            fd::linkat_fd(src.as_fd(), p.as_fd(), n).ctx(what)?;
            // The same inode as its target, whose metadata is set already.
            return Ok(());
        }
        Kind::Char | Kind::Block | Kind::Fifo => {
            let t = match e.kind {
                Kind::Char => libc::S_IFCHR,
                Kind::Block => libc::S_IFBLK,
                _ => libc::S_IFIFO,
            };
            fd::mknodat(p.as_fd(), n, t | 0o600, e.major as u64, e.minor as u64).ctx(what)?;
        }
    }
    set_meta(p.as_fd(), n, e)
}

pub fn unpack(input: impl Read, dir: &Path) -> Result<()> {
    let root = fd::openat(None, dir, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open {}", dir.display()))?;
    tar::read_all(input, |e, data| apply(root.as_fd(), e, data))
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
