//! The container's root filesystem, assembled inside its mount namespace
//! (without one: in the runtime's, on a private bind of the rootfs):
//! propagation, the rootfs bind, the config's mounts, devices, masked and
//! read-only paths, then pivot_root (or chroot) and a read-only root.
//! Everything before the pivot works on fds relative to the rootfs.

mod copyup;
mod devices;
pub mod idmap;
pub mod layers;
mod masks;
mod mounts;
mod pivot;
pub mod resolve;
pub mod sysctl;

use crate::error::{Ctx, Error, Result};
use crate::sys::{self, fd};
use oci_spec::runtime::Spec;
use std::os::fd::AsFd;
use std::path::Path;

/// Without a mount namespace of its own, the container's mounts go into the
/// runtime's, on a bind of the rootfs. The runtime holds this while the
/// container is made: if that fails, the bind made on the rootfs since
/// `watch` is detached, and every mount under it goes along.
pub struct HostMounts {
    rootfs: std::path::PathBuf,
    before: usize,
    keep: bool,
}

impl HostMounts {
    pub fn watch(rootfs: &Path) -> HostMounts {
        HostMounts {
            rootfs: rootfs.to_path_buf(),
            before: mounts_at(rootfs),
            keep: false,
        }
    }

    /// The container is made: its mounts are its own now.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for HostMounts {
    fn drop(&mut self) {
        if !self.keep && mounts_at(&self.rootfs) > self.before {
            if let Err(e) = sys::mount::umount_detach(&self.rootfs) {
                // The error that stopped the container is the one reported.
                tracing::debug!("detach the rootfs bind {}: {e}", self.rootfs.display());
            }
        }
    }
}

/// How many mounts sit at `path` in our namespace (mountinfo escapes
/// space, tab, newline and backslash in octal).
fn mounts_at(path: &Path) -> usize {
    let mut want = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => want.push_str(&format!("\\{:03o}", c as u32)),
            c => want.push(c),
        }
    }
    fd::read_records("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .count()
}

pub struct Options<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    /// The container has a mount namespace of its own (new or joined).
    /// Without one, everything is mounted inside the bundle's rootfs in
    /// the runtime's namespace and the root is entered by chroot.
    pub mountns: bool,
    /// In a user namespace devices are bind-mounted, not mknod'ed.
    pub userns: bool,
    pub cgroup: &'a crate::cgroups::Paths,
    pub cgroupns: bool,
    /// Image layers to stack on the rootfs instead of binding it.
    pub layers: Option<&'a layers::Layers>,
    /// Idmapped bind trees made by the runtime, by index in `mounts`.
    pub idmapped: &'a idmap::Trees,
}

/// Checks the parts of the config that only this module understands.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        mounts::propagation_flag(p).ok_or_else(|| {
            Error::invalid(format!("linux.rootfsPropagation {p:?}: unknown mode"))
        })?;
    }
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default();
    let has = |t| namespaces.iter().any(|n| n.typ() == t);
    let userns = has(oci_spec::runtime::LinuxNamespaceType::User);
    if !has(oci_spec::runtime::LinuxNamespaceType::Mount) {
        // The masks would be mounts in the runtime's namespace, left there
        // after the container is gone; runc refuses them too.
        let l = spec.linux().as_ref();
        if l.and_then(|l| l.masked_paths().as_ref())
            .is_some_and(|p| !p.is_empty())
            || l.and_then(|l| l.readonly_paths().as_ref())
                .is_some_and(|p| !p.is_empty())
        {
            return Err(Error::invalid(
                "linux.maskedPaths/readonlyPaths need a mount namespace in linux.namespaces",
            ));
        }
    }
    for m in spec.mounts().as_deref().unwrap_or_default() {
        mounts::validate(m, userns)?;
    }
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default()
    {
        devices::validate(d)?;
    }
    Ok(())
}

/// Runs in the container process, in its mount namespace, as (namespace) root.
/// `before_pivot` runs once everything is mounted, before pivot_root (the
/// createRuntime/createContainer hook point).
pub fn setup(o: &Options, before_pivot: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    let linux = o.spec.linux().as_ref();
    let requested = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mounts::propagation_flag);
    if o.mountns {
        // Nothing we mount may propagate back to the host; the default
        // rslave still lets host unmounts reach us, as runc does. A shared
        // or unbindable "/" now would stop pivot_root (a shared parent) or
        // the rootfs bind (an unbindable source): those modes are given to
        // the new root after the pivot.
        let before = match requested {
            Some(f) if f & libc::MS_PRIVATE != 0 => libc::MS_PRIVATE | libc::MS_REC,
            _ => libc::MS_SLAVE | libc::MS_REC,
        };
        sys::mount::mount(None, Path::new("/"), None, before)
            .ctx(|| "make / a slave (or private) mount")?;
    }

    // Bind the rootfs onto itself so it is a mount point pivot_root accepts,
    // or stack the image layers there. The rootfs path is the host's (the
    // bundle's), looked up in the host's view as before; `root` then opens
    // the new mount on top of it.
    if let Some(l) = o.layers {
        let target = fd::openat(None, o.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
            .ctx(|| format!("open rootfs {}", o.rootfs.display()))?;
        l.mount(target.as_fd())?;
    } else {
        sys::mount::mount(Some(o.rootfs), o.rootfs, None, libc::MS_BIND | libc::MS_REC)
            .ctx(|| format!("bind rootfs {}", o.rootfs.display()))?;
    }
    if !o.mountns {
        // In the runtime's own namespace: what we mount inside the rootfs
        // must not propagate to the host's other mounts (only this bind of
        // the bundle's rootfs is seen there, as with runc).
        sys::mount::mount(None, o.rootfs, None, libc::MS_PRIVATE | libc::MS_REC)
            .ctx(|| format!("make the rootfs {} private", o.rootfs.display()))?;
    }
    let root = fd::openat(None, o.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open rootfs {}", o.rootfs.display()))?;

    let list = o.spec.mounts().as_deref().unwrap_or_default();
    let cg = mounts::CgroupView {
        cgroup: o.cgroup,
        private_ns: o.cgroupns,
    };
    for (i, m) in list.iter().enumerate() {
        let label = linux.and_then(|l| l.mount_label().as_deref());
        let label = label.filter(|l| !l.is_empty());
        let idm = o.idmapped.get(i);
        if let Err(e) = mounts::mount(root.as_fd(), m, o.bundle, &cg, idm, label) {
            // Rootless without a network namespace of its own: sysfs is
            // refused; the host's /sys is bound instead.
            match crate::rootless::sysfs_fallback(m, &e) {
                Some(b) => mounts::mount(root.as_fd(), &b, o.bundle, &cg, idm, label)?,
                None => return Err(e),
            }
        }
    }
    devices::setup(
        root.as_fd(),
        linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default(),
        o.userns,
    )?;
    if let Some(l) = linux {
        sysctl::apply(
            root.as_fd(),
            l.sysctl().as_ref().unwrap_or(&Default::default()),
        )?;
        masks::mask(
            root.as_fd(),
            l.masked_paths().as_deref().unwrap_or_default(),
        )?;
        masks::readonly(
            root.as_fd(),
            l.readonly_paths().as_deref().unwrap_or_default(),
        )?;
    }
    before_pivot()?;
    let readonly = o
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    let how = if !o.mountns {
        pivot::How::Chroot
    } else if o.no_pivot {
        pivot::How::MoveChroot
    } else {
        pivot::How::Pivot
    };
    pivot::enter(root.as_fd(), how)?;
    if let Some(f) = requested {
        // linux.rootfsPropagation of the container's "/": the rootfs mount
        // in its namespace or, without one, our bind inside the bundle.
        sys::mount::mount(None, Path::new("/"), None, f)
            .ctx(|| "set linux.rootfsPropagation on /")?;
    }
    if readonly {
        // `root` is on the mount that is now "/".
        sys::mount::setattr(root.as_fd(), sys::mount::ATTR_RDONLY, 0, 0, false)
            .ctx(|| "make the root read-only (root.readonly)")?;
    }
    Ok(())
}
