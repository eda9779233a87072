//! /dev: the default devices every container gets, `linux.devices`, and
//! the standard symlinks.

use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::{fd, mount as m};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// (name, major, minor) of the devices the runtime spec requires.
const DEFAULTS: [(&str, i64, i64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

pub fn validate(d: &LinuxDevice) -> Result<()> {
    let p = d.path();
    if !p.is_absolute()
        || !p.starts_with("/dev/")
        || resolve::relative(p) != p.strip_prefix("/").unwrap_or(p)
    {
        return Err(Error::invalid(format!(
            "linux.devices: path {:?} must be a clean absolute path under /dev",
            p
        )));
    }
    if !matches!(d.typ(), LinuxDeviceType::P) && (d.major() < 0 || d.minor() < 0) {
        return Err(Error::invalid(format!(
            "linux.devices: {}: major and minor must not be negative",
            p.display()
        )));
    }
    Ok(())
}

fn kind(t: LinuxDeviceType) -> u32 {
    match t {
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    }
}

pub fn setup(root: BorrowedFd, extra: &[LinuxDevice], userns: bool) -> Result<()> {
    // One fd for /dev serves every node and link made directly in it.
    let devdir = open_dir(root, Path::new("/dev"))?;
    // The spec requires the default devices whether or not /dev is a
    // mount of the config's (runc makes them on the image's /dev too).
    for (name, maj, min) in DEFAULTS {
        let path = PathBuf::from("/dev").join(name);
        // The config's own entry for the same device wins (its mode and
        // owner), as in runc: Docker's --privileged lists every host device.
        if extra.iter().any(|d| {
            *d.path() == path
                && kind(d.typ()) == libc::S_IFCHR
                && (d.major(), d.minor()) == (maj, min)
        }) {
            continue;
        }
        make(
            devdir.as_fd(),
            &path,
            libc::S_IFCHR,
            0o666,
            maj,
            min,
            userns,
            None,
        )?;
    }
    for (name, target) in LINKS {
        let mut r = fd::symlinkat(target, devdir.as_fd(), Path::new(name));
        if name == "ptmx"
            && r.as_ref()
                .is_err_and(|e| e.raw_os_error() == Some(libc::EEXIST))
        {
            // Replace an image's own static node (a fresh tmpfs has none).
            let _ = fd::unlinkat(devdir.as_fd(), Path::new(name));
            r = fd::symlinkat(target, devdir.as_fd(), Path::new(name));
        }
        match r {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("symlink /dev/{name} -> {target}"), e)),
        }
    }
    for d in extra {
        // /dev/ptmx stays the link into the container's devpts made above,
        // whatever the config lists there (runc replaces the node with that
        // link too): ptys come from the container's own instance.
        if d.path() == Path::new("/dev/ptmx") {
            continue;
        }
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        let owner = Some((d.uid().unwrap_or(0), d.gid().unwrap_or(0)));
        let parent_path = d.path().parent().unwrap_or(Path::new("/dev"));
        let other;
        let dir = if parent_path == Path::new("/dev") {
            devdir.as_fd()
        } else {
            other = open_dir(root, parent_path)?;
            other.as_fd()
        };
        make(
            dir,
            d.path(),
            kind(d.typ()),
            mode,
            d.major(),
            d.minor(),
            userns,
            owner,
        )?;
    }
    Ok(())
}

/// The directory `path` inside `root`, made if missing: its O_PATH fd
/// serves as the dirfd of the *at calls that create nodes in it.
fn open_dir(root: BorrowedFd, path: &Path) -> Result<OwnedFd> {
    resolve::create(root, path, false, false)
}

/// Makes the node `path` in `dir`, its parent directory.
#[allow(clippy::too_many_arguments)]
fn make(
    dir: BorrowedFd,
    path: &Path,
    kind: u32,
    mode: u32,
    maj: i64,
    min: i64,
    userns: bool,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let name = Path::new(path.file_name().unwrap_or_default());
    if userns {
        // mknod is not allowed in a user namespace: bind the host's node
        // onto an empty file instead.
        return bind_host(dir, name, path);
    }
    match fd::mknodat(dir, name, kind | mode, maj as u64, min as u64) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return check_existing(dir, name, path, Some((kind, maj as u64, min as u64)))
        }
        // The cgroup's device rules are in force before the rootfs is made
        // (the v2 filter is attached first) and may deny mknod of a device
        // the config lists or denies; then, as crun does, bind the host's
        // identical node: the path exists and the rules still decide who
        // opens it. Never chowned: that would chown the host's node.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && host_has(path, kind, maj, min) => {
            return bind_host(dir, name, path);
        }
        Err(e) => return Err(Error::sys(format!("mknod {}", path.display()), e)),
    }
    if let Some((uid, gid)) = owner {
        fd::fchownat(dir, name, uid, gid, libc::AT_SYMLINK_NOFOLLOW)
            .ctx(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}

/// Whether the host (our mount namespace, before pivot_root) has `path` as
/// exactly this device node.
fn host_has(path: &Path, kind: u32, maj: i64, min: i64) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|st| {
        st.mode() & libc::S_IFMT == kind
            && st.rdev() == nix::sys::stat::makedev(maj as u64, min as u64)
    })
}

/// Binds the host's `path` onto an empty file `name` in `dir` (the same
/// path in the rootfs).
fn bind_host(dir: BorrowedFd, name: &Path, path: &Path) -> Result<()> {
    match fd::openat(
        Some(dir),
        name,
        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
        0o600,
    ) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => check_existing(dir, name, path, None)?,
        Err(e) => return Err(Error::sys(format!("create {}", path.display()), e)),
    }
    let tree =
        m::clone_tree(None, path, false).ctx(|| format!("bind host device {}", path.display()))?;
    let target = fd::openat(Some(dir), name, libc::O_PATH | libc::O_NOFOLLOW, 0)
        .ctx(|| format!("open {}", path.display()))?;
    m::move_to_fd(tree.as_fd(), target.as_fd())
        .ctx(|| format!("bind host device {}", path.display()))
}

/// A device path the image already has must be that very device (or, in a
/// user namespace, a plain file to bind onto). Anything else, above all a
/// symlink, is refused: a /dev/null pointing at a file would make every
/// write to "/dev/null" land in it (CVE-2025-31133's kind of swap).
fn check_existing(
    dir: BorrowedFd,
    name: &Path,
    path: &Path,
    want: Option<(u32, u64, u64)>,
) -> Result<()> {
    let f = fd::openat(Some(dir), name, libc::O_PATH | libc::O_NOFOLLOW, 0)
        .ctx(|| format!("open {}", path.display()))?;
    let st = fd::fstat(f.as_fd()).ctx(|| format!("stat {}", path.display()))?;
    let fmt = st.st_mode & libc::S_IFMT;
    let ok = match want {
        Some((kind, maj, min)) => fmt == kind && st.st_rdev == nix::sys::stat::makedev(maj, min),
        None => fmt == libc::S_IFREG || fmt == libc::S_IFCHR || fmt == libc::S_IFBLK,
    };
    if !ok {
        return Err(Error::invalid(format!("{} in the rootfs exists and is not the expected device (a symlink or a file?); refusing to use it", path.display())));
    }
    Ok(())
}
