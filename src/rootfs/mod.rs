//! The container's root filesystem, assembled inside its new mount
//! namespace: propagation, the rootfs bind, the config's mounts, devices,
//! masked and read-only paths, then pivot_root and a read-only root.
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

pub struct Options<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    /// In a user namespace devices are bind-mounted, not mknod'ed.
    pub userns: bool,
    pub cgroup: &'a crate::cgroups::Cgroup,
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
    let userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User);
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
    // Nothing we mount may propagate back to the host; the default rslave
    // still lets host unmounts reach us, as runc does.
    let prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mounts::propagation_flag)
        .unwrap_or(libc::MS_SLAVE | libc::MS_REC);
    sys::mount::mount(None, Path::new("/"), None, prop | libc::MS_REC)
        .ctx(|| "make / a slave mount")?;

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
        mounts::mount(root.as_fd(), m, o.bundle, &cg, o.idmapped.get(i), label)?;
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
    pivot::enter(root.as_fd(), o.no_pivot)?;
    if o.spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        // `root` is on the mount that is now "/".
        sys::mount::setattr(root.as_fd(), sys::mount::ATTR_RDONLY, 0, 0, false)
            .ctx(|| "make the root read-only (root.readonly)")?;
    }
    Ok(())
}
