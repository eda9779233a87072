//! The new mount API (open_tree, fsopen/fsconfig/fsmount, move_mount,
//! mount_setattr) plus classic mount(2)/umount2(2). Mounting onto an fd
//! (MOVE_MOUNT_T_EMPTY_PATH) means no path inside the container is walked
//! twice, which defeats symlink-exchange races (CVE-2021-30465).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

pub const ATTR_RDONLY: u64 = 0x1;
pub const ATTR_NOSUID: u64 = 0x2;
pub const ATTR_NODEV: u64 = 0x4;
pub const ATTR_NOEXEC: u64 = 0x8;
pub const ATTR_ATIME_MASK: u64 = 0x70;
pub const ATTR_RELATIME: u64 = 0x0;
pub const ATTR_NOATIME: u64 = 0x10;
pub const ATTR_STRICTATIME: u64 = 0x20;
pub const ATTR_NODIRATIME: u64 = 0x80;
pub const ATTR_NOSYMFOLLOW: u64 = 0x20_0000;
/// Ids seen through the mount are translated by a user namespace's maps.
const ATTR_IDMAP: u64 = 0x10_0000;

const OPEN_TREE_CLONE: u32 = 1;
const AT_RECURSIVE: u32 = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn owned(r: libc::c_long) -> io::Result<OwnedFd> {
    let r = super::check(r)?;
    // SAFETY: the kernel just returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// A detached copy of the mount tree at `dir`/`path` (recursive when asked).
pub fn clone_tree(dir: Option<BorrowedFd>, path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let c = super::cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, d, c.as_ptr(), flags) })
}

/// Attaches the detached mount `tree` on top of the object `target` refers to.
pub fn move_to_fd(tree: BorrowedFd, target: BorrowedFd) -> io::Result<()> {
    let e = c"";
    // SAFETY: empty C strings with *_EMPTY_PATH flags; fds are live.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            e.as_ptr(),
            target.as_raw_fd(),
            e.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// Changes mount attributes of the mount `fd` refers to (and below it when
/// `recursive`). `propagation` is one MS_* propagation flag or 0.
pub fn setattr(
    fd: BorrowedFd,
    set: u64,
    clr: u64,
    propagation: u64,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation,
        userns_fd: 0,
    };
    setattr_raw(fd, &attr, recursive)
}

/// Makes the detached mount `fd` (and its submounts when `recursive`)
/// idmapped with the id maps of the user namespace `userns`. Only a mount
/// that has never been attached can take an idmapping.
pub fn setattr_idmap(fd: BorrowedFd, userns: BorrowedFd, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    setattr_raw(fd, &attr, recursive)
}

fn setattr_raw(fd: BorrowedFd, attr: &MountAttr, recursive: bool) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: attr lives across the call and its size is passed.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// A filesystem context, configured key by key, then turned into a mount.
pub struct FsContext(OwnedFd);

impl FsContext {
    pub fn open(fstype: &str) -> io::Result<Self> {
        let c = super::cstring(fstype)?;
        // SAFETY: valid C string.
        owned(unsafe { libc::syscall(libc::SYS_fsopen, c.as_ptr(), FSOPEN_CLOEXEC) }).map(FsContext)
    }

    /// `key=value` (value Some) or a bare flag `key` (value None).
    pub fn set(&self, key: &str, value: Option<&str>) -> io::Result<()> {
        let k = super::cstring(key)?;
        let v = value.map(super::cstring).transpose()?;
        let (cmd, vp) = match &v {
            Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: valid C strings (or NULL for flags).
        super::check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                cmd,
                k.as_ptr(),
                vp,
                0,
            )
        })?;
        Ok(())
    }

    /// Creates the superblock and a detached mount of it with `attrs`.
    pub fn mount(&self, attrs: u64) -> io::Result<OwnedFd> {
        // SAFETY: NULL key/value are what FSCONFIG_CMD_CREATE takes.
        super::check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<u8>(),
                std::ptr::null::<u8>(),
                0,
            )
        })?;
        // SAFETY: integer arguments.
        owned(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                attrs,
            )
        })
    }

    /// The kernel's explanation of the last failure, if it left one.
    pub fn last_message(&self) -> Option<String> {
        let mut buf = [0u8; 512];
        // SAFETY: reading into a local buffer; a failure just yields None.
        let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        // Messages come as "e overlay: ..." (e/w/i: error, warning, info).
        (n > 0).then(|| {
            let m = String::from_utf8_lossy(&buf[..n as usize])
                .trim()
                .to_string();
            match m.split_once(' ') {
                Some((lvl, rest)) if lvl.len() == 1 => rest.to_string(),
                _ => m,
            }
        })
    }
}

/// Classic mount(2), for the few calls the new API does not cover
/// (propagation on "/", MS_MOVE with --no-pivot).
pub fn mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
) -> io::Result<()> {
    mount_data(src, target, fstype, flags, None)
}

/// mount(2) with filesystem options (`data`, comma-separated).
pub fn mount_data(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> io::Result<()> {
    let s = src.map(super::cstr).transpose()?;
    let t = super::cstr(target)?;
    let f = fstype.map(super::cstring).transpose()?;
    let d = data.map(super::cstring).transpose()?;
    // SAFETY: valid C strings or NULL.
    super::check(unsafe {
        libc::mount(
            s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags as libc::c_ulong,
            d.as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast::<libc::c_void>()),
        )
    } as libc::c_long)?;
    Ok(())
}

/// `/proc/self/fd/N` for `fd`: while the host's /proc is mounted, a magic
/// link to exactly the object `fd` refers to, so mount(2) through it walks
/// no path in the rootfs again (runc's fix for CVE-2021-30465).
pub fn fd_path(fd: BorrowedFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The MS_* mount(2) flags for MOUNT_ATTR_* attributes (a fresh mount's).
pub fn ms_flags(attrs: u64) -> u64 {
    let mut f = 0;
    for (a, ms) in [
        (ATTR_RDONLY, libc::MS_RDONLY),
        (ATTR_NOSUID, libc::MS_NOSUID),
        (ATTR_NODEV, libc::MS_NODEV),
        (ATTR_NOEXEC, libc::MS_NOEXEC),
        (ATTR_NOATIME, libc::MS_NOATIME),
        (ATTR_STRICTATIME, libc::MS_STRICTATIME),
        (ATTR_NODIRATIME, libc::MS_NODIRATIME),
        (ATTR_NOSYMFOLLOW, MS_NOSYMFOLLOW),
    ] {
        if attrs & a == a {
            f |= ms;
        }
    }
    f
}

const MS_NOSYMFOLLOW: u64 = 256;

pub fn umount_detach(target: &Path) -> io::Result<()> {
    let t = super::cstr(target)?;
    // SAFETY: valid C string.
    super::check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) } as libc::c_long)?;
    Ok(())
}
