//! `layer diff`: a container layer (overlayfs upper dir) as an OCI layer
//! tar. Walked by fd, symlinks never followed.

use super::tar::{Entry, Kind, Writer};
use super::{OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::error::{Ctx, Error, Result};
use crate::sys::fd;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Names in `dir`, sorted (a tar of the same tree is the same bytes).
pub fn names(dir: BorrowedFd) -> Result<Vec<Vec<u8>>> {
    let d = fd::openat(
        Some(dir),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
    .ctx(|| "open directory")?;
    let mut dir = nix::dir::Dir::from_fd(d).map_err(|e| Error::sys("readdir", e.into()))?;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for e in dir.iter() {
        let e = e.map_err(|e| Error::sys("readdir", e.into()))?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(n.to_vec());
        }
    }
    out.sort();
    Ok(out)
}

struct Walk<W: Write> {
    tar: Writer<W>,
    links: HashMap<(u64, u64), String>,
}

fn entry(path: String, kind: Kind, st: &libc::stat) -> Entry {
    Entry {
        path,
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: 0,
        mtime: st.st_mtime.max(0) as u64,
        link: String::new(),
        // Each is 32 bits at most in a dev_t.
        major: nix::sys::stat::major(st.st_rdev) as u32,
        minor: nix::sys::stat::minor(st.st_rdev) as u32,
        xattrs: Vec::new(),
    }
}

/// The xattrs a layer carries: all but overlayfs' bookkeeping of this
/// upper dir (opacity is written as `.wh..wh..opq`) and the host's
/// SELinux label.
fn xattrs(f: BorrowedFd, path: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let names = match crate::sys::xattr::list_fd_inode(f) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(Error::sys(format!("list xattrs of {path}"), e)),
    };
    let mut out = Vec::new();
    for n in names {
        if n.starts_with("trusted.overlay.") || n == "security.selinux" {
            continue;
        }
        let v = crate::sys::xattr::get_fd_inode(f, &n)
            .map_err(|e| Error::sys(format!("read xattr {n} of {path}"), e))?;
        out.push((n, v));
    }
    out.sort();
    Ok(out)
}

impl<W: Write> Walk<W> {
    fn dir(&mut self, dir: BorrowedFd, rel: &str) -> Result<()> {
        for name in names(dir)? {
            let n = Path::new(OsStr::from_bytes(&name));
            let s = String::from_utf8_lossy(&name).into_owned();
            let path = if rel.is_empty() {
                s.clone()
            } else {
                format!("{rel}/{s}")
            };
            let f: OwnedFd = fd::openat(Some(dir), n, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .ctx(|| format!("open {path}"))?;
            let st = fd::fstat(f.as_fd()).ctx(|| format!("stat {path}"))?;
            let what = || format!("archive {path}");
            match st.st_mode & libc::S_IFMT {
                libc::S_IFCHR if st.st_rdev == 0 => {
                    // An overlay whiteout: the file was deleted in this layer.
                    let wh = if rel.is_empty() {
                        format!("{WHITEOUT_PREFIX}{s}")
                    } else {
                        format!("{rel}/{WHITEOUT_PREFIX}{s}")
                    };
                    let mut e = entry(wh, Kind::File, &st);
                    e.mode = 0o644;
                    self.tar.append(&e, Some(&mut std::io::empty())).ctx(what)?;
                }
                libc::S_IFDIR => {
                    let mut e = entry(format!("{path}/"), Kind::Dir, &st);
                    e.xattrs = xattrs(f.as_fd(), &path)?;
                    self.tar.append(&e, None).ctx(what)?;
                    let d = fd::openat(
                        Some(dir),
                        n,
                        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                        0,
                    )
                    .ctx(what)?;
                    if crate::sys::xattr::get(d.as_fd(), OPAQUE_XATTR).as_deref() == Some(b"y") {
                        let mut e = entry(format!("{path}/{OPAQUE}"), Kind::File, &st);
                        e.mode = 0o644;
                        self.tar.append(&e, Some(&mut std::io::empty())).ctx(what)?;
                    }
                    self.dir(d.as_fd(), &path)?;
                }
                libc::S_IFREG => {
                    if st.st_nlink > 1 {
                        if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                            let mut e = entry(path.clone(), Kind::HardLink, &st);
                            e.link = first.clone();
                            self.tar.append(&e, None).ctx(what)?;
                            continue;
                        }
                        self.links.insert((st.st_dev, st.st_ino), path.clone());
                    }
                    let mut e = entry(path.clone(), Kind::File, &st);
                    e.size = st.st_size as u64;
                    e.xattrs = xattrs(f.as_fd(), &path)?;
                    let mut file = std::fs::File::from(
                        fd::openat(Some(dir), n, libc::O_RDONLY | libc::O_NOFOLLOW, 0).ctx(what)?,
                    );
                    self.tar.append(&e, Some(&mut file)).ctx(what)?;
                }
                libc::S_IFLNK => {
                    let target =
                        nix::fcntl::readlinkat(dir, n).map_err(|e| Error::sys(what(), e.into()))?;
                    let mut e = entry(path.clone(), Kind::Symlink, &st);
                    e.link = target.to_string_lossy().into_owned();
                    e.xattrs = xattrs(f.as_fd(), &path)?;
                    self.tar.append(&e, None).ctx(what)?;
                }
                libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                    let kind = match st.st_mode & libc::S_IFMT {
                        libc::S_IFCHR => Kind::Char,
                        libc::S_IFBLK => Kind::Block,
                        _ => Kind::Fifo,
                    };
                    let mut e = entry(path.clone(), kind, &st);
                    e.xattrs = xattrs(f.as_fd(), &path)?;
                    self.tar.append(&e, None).ctx(what)?;
                }
                _ => {} // sockets do not belong in a layer
            }
        }
        Ok(())
    }
}

/// Writes the layer tar of `upper` to `out`.
pub fn diff(upper: &Path, out: impl Write) -> Result<()> {
    let root = fd::openat(None, upper, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open container layer {}", upper.display()))?;
    let mut w = Walk {
        tar: Writer::new(out),
        links: HashMap::new(),
    };
    w.dir(root.as_fd(), "")?;
    w.tar.finish().ctx(|| "finish the tar")?;
    Ok(())
}
