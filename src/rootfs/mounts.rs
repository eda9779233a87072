//! The config's `mounts`: options parsed once into mount attributes,
//! propagation and filesystem data, then mounted with the new mount API
//! onto an fd resolved inside the rootfs.

use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::mount::{self as m, FsContext};
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub fn propagation_flag(opt: &str) -> Option<u64> {
    Some(match opt {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// One mount's options, sorted by what the kernel does with them.
#[derive(Default, Debug)]
pub struct Parsed {
    pub bind: bool,
    pub recursive_bind: bool,
    pub set: u64,
    pub clr: u64,
    /// `rro`, `rnosuid`, ...: attributes for the whole bound tree.
    pub rset: u64,
    pub rclr: u64,
    pub propagation: Option<u64>,
    /// tmpfs only: start with a copy of the directory it covers.
    pub copyup: bool,
    /// Options passed to the filesystem (`size=64k`, `mode=755`, ...).
    pub data: Vec<String>,
    /// `idmap` / `ridmap`: the bind is idmapped (rootfs/idmap.rs), only its
    /// top mount or the whole tree.
    pub idmap: bool,
    pub ridmap: bool,
}

fn attr(opt: &str) -> Option<(u64, bool)> {
    // (attribute, set?) — clearing an atime mode means resetting the mask.
    Some(match opt {
        "ro" => (m::ATTR_RDONLY, true),
        "rw" => (m::ATTR_RDONLY, false),
        "nosuid" => (m::ATTR_NOSUID, true),
        "suid" => (m::ATTR_NOSUID, false),
        "nodev" => (m::ATTR_NODEV, true),
        "dev" => (m::ATTR_NODEV, false),
        "noexec" => (m::ATTR_NOEXEC, true),
        "exec" => (m::ATTR_NOEXEC, false),
        "noatime" => (m::ATTR_NOATIME, true),
        "strictatime" => (m::ATTR_STRICTATIME, true),
        "relatime" => (m::ATTR_RELATIME, true),
        "atime" | "norelatime" | "nostrictatime" => (m::ATTR_ATIME_MASK, false),
        "nodiratime" => (m::ATTR_NODIRATIME, true),
        "diratime" => (m::ATTR_NODIRATIME, false),
        "nosymfollow" => (m::ATTR_NOSYMFOLLOW, true),
        "symfollow" => (m::ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

pub fn parse(mnt: &Mount) -> Result<Parsed> {
    let mut p = Parsed::default();
    let typ = mnt.typ().as_deref().unwrap_or("");
    p.bind = typ == "bind";
    for o in mnt.options().as_deref().unwrap_or_default() {
        let o = o.as_str();
        if let Some((a, set)) = attr(o) {
            if set {
                p.set |= a;
                if a & m::ATTR_ATIME_MASK != 0 || a == m::ATTR_RELATIME {
                    p.clr |= m::ATTR_ATIME_MASK;
                }
            } else {
                p.clr |= a;
            }
        } else if let Some((a, set)) = o.strip_prefix('r').and_then(attr) {
            if set {
                p.rset |= a;
            } else {
                p.rclr |= a;
            }
        } else if let Some(f) = propagation_flag(o) {
            p.propagation = Some(f);
        } else if o == "bind" {
            p.bind = true;
        } else if o == "rbind" {
            p.bind = true;
            p.recursive_bind = true;
        } else if matches!(o, "defaults" | "async" | "remount" | "loud" | "silent") {
            // Meaningless for a fresh mount; runc ignores them too.
        } else if o == "tmpcopyup" {
            p.copyup = true;
        } else if o == "idmap" {
            p.idmap = true;
        } else if o == "ridmap" {
            p.ridmap = true;
        } else if o == "copy-symlink" {
            return Err(Error::invalid(format!(
                "mounts: {}: option {o:?} is not supported yet",
                mnt.destination().display()
            )));
        } else {
            p.data.push(o.to_string());
        }
    }
    if !(p.idmap || p.ridmap) && (mnt.uid_mappings().is_some() || mnt.gid_mappings().is_some()) {
        // config.md says the maps SHOULD come with idmap; that is the
        // writer's duty. The maps say what is meant: runc idmaps too.
        p.idmap = true;
    }
    if p.bind && !p.data.is_empty() {
        // Filesystem options (`mode=`, `size=`, `sync`, ...) configure a
        // new superblock; a bind shares its source's, so they cannot apply.
        // runc passes them to mount(2), which ignores them with MS_BIND;
        // configs written for runc (tmpfs options left on a bind) work.
        tracing::debug!(
            "mounts: {}: filesystem options {:?} do not apply to a bind and are ignored",
            mnt.destination().display(),
            p.data
        );
        p.data.clear();
    }
    Ok(p)
}

pub fn validate(mnt: &Mount, userns: bool) -> Result<()> {
    let p = parse(mnt)?;
    let typ = mnt.typ().as_deref().unwrap_or("");
    let dest = mnt.destination();
    if !p.bind && typ.is_empty() {
        return Err(Error::invalid(format!(
            "mounts: {}: a type is required unless the mount is a bind",
            dest.display()
        )));
    }
    // A /proc that is not procfs could hide what the container must not
    // see, or fake /proc for later LSM writes (CVE-2019-16884).
    if resolve::relative(dest) == Path::new("proc") && !p.bind && typ != "proc" {
        return Err(Error::invalid(format!(
            "mounts: /proc cannot be mounted as {typ:?}, only as proc"
        )));
    }
    if p.bind && mnt.source().is_none() {
        return Err(Error::invalid(format!(
            "mounts: {}: a bind mount needs a source",
            dest.display()
        )));
    }
    validate_idmap(mnt, &p, userns)
}

pub(super) fn own_maps(mnt: &Mount) -> Option<(&[LinuxIdMapping], &[LinuxIdMapping])> {
    match (mnt.uid_mappings().as_deref(), mnt.gid_mappings().as_deref()) {
        (None, None) => None,
        (u, g) => Some((u.unwrap_or_default(), g.unwrap_or_default())),
    }
}

/// Config checks (bundle load): both maps or none, binds only, and either
/// maps or a user namespace to take them from. Maps without idmap/ridmap
/// mean idmap (parse), as with runc. Here rather than in idmap.rs, which
/// builds on this module and must not be needed by it.
fn validate_idmap(mnt: &Mount, p: &Parsed, userns: bool) -> Result<()> {
    let dest = mnt.destination().display();
    let wants = p.idmap || p.ridmap;
    let maps = own_maps(mnt);
    if let Some((u, g)) = maps {
        if u.is_empty() || g.is_empty() {
            return Err(Error::invalid(format!(
                "mounts: {dest}: uidMappings and gidMappings must be given together"
            )));
        }
    }
    if !wants {
        return Ok(());
    }
    if !p.bind {
        return Err(Error::invalid(format!(
            "mounts: {dest}: idmap/ridmap need a bind mount"
        )));
    }
    if maps.is_none() && !userns {
        return Err(Error::invalid(format!(
            "mounts: {dest}: idmap/ridmap without uidMappings/gidMappings need a user namespace"
        )));
    }
    Ok(())
}

/// `idmapped`: the bind tree the runtime already cloned and idmapped for
/// this mount (rootfs/idmap.rs), attached here as it is. `label`:
/// linux.mountLabel.
pub fn mount(
    root: BorrowedFd,
    mnt: &Mount,
    bundle: &Path,
    cg: &CgroupView,
    idmapped: Option<BorrowedFd>,
    label: Option<&str>,
) -> Result<()> {
    let mut p = parse(mnt)?;
    let dest = mnt.destination();
    let typ = mnt.typ().as_deref().unwrap_or("");
    if !p.bind && (typ == "cgroup" || typ == "cgroup2") {
        return cgroup_mount(root, dest, &p, cg);
    }
    if let Some(l) = label.filter(|_| !p.bind && typ == "mqueue") {
        // mqueue takes no context= option: runc mounts it unlabelled and
        // then labels its root directory with the mount label.
        mount(root, mnt, bundle, cg, idmapped, None)?;
        let target = resolve_target(root, dest, false, typ)?;
        return crate::sys::xattr::set_fd_inode(target.as_fd(), "security.selinux", l.as_bytes())
            .ctx(|| {
                format!(
                    "linux.mountLabel {l:?}: label the mqueue on {}",
                    dest.display()
                )
            });
    }
    // SELinux labels the fresh filesystems runc labels (tmpfs, devpts,
    // shm...): not binds, which keep their files' labels, nor proc, sysfs,
    // mqueue or cgroups. Quoted: an MCS label has commas.
    if let Some(l) = label.filter(|_| !p.bind && !matches!(typ, "proc" | "sysfs" | "mqueue")) {
        p.data.push(format!("context=\"{l}\""));
    }
    let what = || format!("mount {} on {}", typ, dest.display());
    if !p.bind && idmapped.is_none() && plain_fresh(&p) {
        // One mount(2) onto the resolved target, as runc does; the new API
        // is only the fallback (and the source of precise errors).
        let target = resolve_target(root, dest, false, typ)?;
        let src = fresh_source(mnt, typ);
        let data = p.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        let flags = m::ms_flags(p.set);
        if resolve::mount_at(
            Some(Path::new(&src)),
            target.as_fd(),
            None,
            Some(typ),
            flags,
            data,
        )
        .is_ok()
        {
            return Ok(());
        }
        let tree = fresh_tree(typ, &src, &p, dest)?;
        return m::move_to_fd(tree.as_fd(), target.as_fd()).ctx(what);
    }
    let tree = if let Some(t) = idmapped {
        let dup = t
            .try_clone_to_owned()
            .ctx(|| format!("mounts: idmapped bind on {}", dest.display()))?;
        let is_file = crate::sys::fd::fstat(t)
            .map(|s| s.st_mode & libc::S_IFMT != libc::S_IFDIR)
            .unwrap_or(false);
        (dup, is_file)
    } else if p.bind {
        let src = source_path(bundle, mnt.source().as_deref().unwrap_or(Path::new("")));
        let srcfd = crate::sys::fd::openat(None, &src, libc::O_PATH, 0)
            .ctx(|| format!("mounts: bind source {}", src.display()))?;
        let tree = m::clone_tree(Some(srcfd.as_fd()), Path::new(""), p.recursive_bind)
            .ctx(|| format!("bind {}", src.display()))?;
        m::setattr(tree.as_fd(), p.set, p.clr, 0, false).ctx(|| {
            format!(
                "set options on bind {} -> {}",
                src.display(),
                dest.display()
            )
        })?;
        (
            tree,
            crate::sys::fd::fstat(srcfd.as_fd())
                .map(|s| s.st_mode & libc::S_IFMT != libc::S_IFDIR)
                .unwrap_or(false),
        )
    } else {
        (fresh_tree(typ, &fresh_source(mnt, typ), &p, dest)?, false)
    };
    let (tree, is_file) = tree;
    let target = resolve_target(root, dest, is_file, typ)?;
    if p.copyup && typ == "tmpfs" {
        // `target` still names the directory underneath; the detached
        // tmpfs is filled before it covers it.
        let src = crate::sys::fd::openat(
            Some(target.as_fd()),
            Path::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .ctx(what)?;
        let dst = crate::sys::fd::openat(
            Some(tree.as_fd()),
            Path::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )
        .ctx(what)?;
        super::copyup::copy_dir(src.as_fd(), dst.as_fd(), 0)?;
    }
    m::move_to_fd(tree.as_fd(), target.as_fd()).ctx(what)?;
    if p.rset != 0 || p.rclr != 0 {
        m::setattr(tree.as_fd(), p.rset, p.rclr, 0, true)
            .ctx(|| format!("set recursive options on {}", dest.display()))?;
    }
    if let Some(prop) = p.propagation {
        m::setattr(
            tree.as_fd(),
            0,
            0,
            prop & !libc::MS_REC,
            prop & libc::MS_REC != 0,
        )
        .ctx(|| format!("set propagation on {}", dest.display()))?;
    }
    Ok(())
}

/// A fresh filesystem mount(2) can make in one call: none of the options
/// that need the new mount's own fd afterwards (recursive attributes,
/// propagation, tmpcopyup), and no option with a comma, which mount(2)'s
/// comma-separated data would split.
fn plain_fresh(p: &Parsed) -> bool {
    p.rset == 0
        && p.rclr == 0
        && p.propagation.is_none()
        && !p.copyup
        && !p
            .data
            .iter()
            .any(|d| d.contains(',') && !d.starts_with("context=\""))
}

/// A fresh filesystem's source: the config's, or its type as runc shows it.
fn fresh_source(mnt: &Mount, typ: &str) -> String {
    mnt.source()
        .as_ref()
        .map(|s| s.display().to_string())
        .unwrap_or_else(|| typ.to_string())
}

/// A detached fresh filesystem from fsopen/fsconfig: each option is set
/// on its own, so a bad one is named with the kernel's reason.
fn fresh_tree(typ: &str, src: &str, p: &Parsed, dest: &Path) -> Result<OwnedFd> {
    let what = || format!("mount {} on {}", typ, dest.display());
    let ctx = FsContext::open(typ).ctx(|| format!("mounts: filesystem type {typ:?}"))?;
    ctx.set("source", Some(src)).ctx(what)?;
    for d in &p.data {
        let (k, v) = match d.split_once('=') {
            // fsconfig takes the label itself; only mount(2)'s data quotes it.
            Some(("context", v)) => ("context", Some(v.trim_matches('"'))),
            Some((k, v)) => (k, Some(v)),
            None => (d.as_str(), None),
        };
        ctx.set(k, v).map_err(|e| {
            let why = ctx
                .last_message()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            Error::sys(format!("mounts: {}: option {d:?}{why}", dest.display()), e)
        })?;
    }
    ctx.mount(p.set).ctx(what)
}

/// The mount's target inside the root, made if missing.
fn resolve_target(root: BorrowedFd, dest: &Path, is_file: bool, typ: &str) -> Result<OwnedFd> {
    // procfs and sysfs go only on real directories: a symlinked /proc in
    // the image must not redirect them (CVE-2019-19921, CVE-2023-27561).
    let strict = matches!(typ, "proc" | "sysfs");
    resolve::create(root, dest, is_file, strict).map_err(|e| match e {
        Error::Sys { source, .. } if source.raw_os_error() == Some(libc::ELOOP) => {
            Error::invalid(format!(
                "mounts: {} in the rootfs is a symlink; {typ} must be mounted on a real directory",
                dest.display()
            ))
        }
        e => e,
    })
}

/// Absolute bind source against the bundle (spec: relative to the bundle).
pub fn source_path(bundle: &Path, src: &Path) -> PathBuf {
    if src.is_relative() {
        bundle.join(src)
    } else {
        src.to_path_buf()
    }
}

/// What a container's cgroup mount shows: its own cgroup directories.
pub struct CgroupView<'a> {
    pub cgroup: &'a crate::cgroups::Paths,
    /// With a private cgroup namespace the mount may be writable; without
    /// one it is always read-only (CVE-2023-25809).
    pub private_ns: bool,
}

/// A `cgroup`/`cgroup2` mount: on a pure v2 host, cgroup2 itself (or a
/// bind of the container's cgroup without a cgroup namespace); on v1 and
/// hybrid hosts, a tmpfs with each hierarchy's container directory bound
/// under it (and `unified` for the cgroup2 part), as runc lays it out.
fn cgroup_mount(root: BorrowedFd, dest: &Path, p: &Parsed, cg: &CgroupView) -> Result<()> {
    let ro = !cg.private_ns || p.set & m::ATTR_RDONLY != 0;
    let attrs =
        (if ro { m::ATTR_RDONLY } else { 0 }) | m::ATTR_NOSUID | m::ATTR_NODEV | m::ATTR_NOEXEC;
    let what = || format!("mount cgroup on {}", dest.display());
    let c = cg.cgroup;
    let bind = |src: &Path, t: BorrowedFd| -> Result<()> {
        let tree =
            m::clone_tree(None, src, false).ctx(|| format!("bind cgroup {}", src.display()))?;
        m::setattr(tree.as_fd(), attrs, 0, 0, false).ctx(what)?;
        m::move_to_fd(tree.as_fd(), t).ctx(what)
    };
    if c.v1.is_empty() {
        let Some(v2) = &c.v2 else { return Ok(()) };
        let t = resolve::create(root, dest, false, true)?;
        if cg.private_ns {
            let ctx = FsContext::open("cgroup2").ctx(what)?;
            let tree = ctx.mount(attrs).ctx(what)?;
            return m::move_to_fd(tree.as_fd(), t.as_fd()).ctx(what);
        }
        return bind(v2, t.as_fd());
    }
    let ctx = FsContext::open("tmpfs").ctx(what)?;
    ctx.set("mode", Some("755")).ctx(what)?;
    let tmpfs = ctx
        .mount(m::ATTR_NOSUID | m::ATTR_NODEV | m::ATTR_NOEXEC)
        .ctx(what)?;
    drop(ctx);
    let mut binds: Vec<(&Path, PathBuf)> =
        c.v1.iter()
            .zip(&c.v1_mounts)
            .map(|(dir, mnt)| {
                let name = mnt.file_name().map(PathBuf::from).unwrap_or_default();
                (dir.as_path(), name)
            })
            .collect();
    if let Some(v2) = &c.v2 {
        binds.push((v2.as_path(), PathBuf::from("unified")));
    }
    // Each hierarchy's directory is made while the tmpfs is still
    // detached, seen by no one else: at attach time each name is a plain
    // directory of ours, one component below the tmpfs fd, so the binds
    // through /proc/self/fd/<tmpfs>/<name> walk nothing in the rootfs
    // (CVE-2021-30465).
    for (_, name) in &binds {
        crate::sys::fd::mkdirat(tmpfs.as_fd(), name, 0o755).map_err(|e| {
            Error::sys(
                format!("create {} in the rootfs", dest.join(name).display()),
                e,
            )
        })?;
    }
    let t = resolve::create(root, dest, false, true)?;
    m::move_to_fd(tmpfs.as_fd(), t.as_fd()).ctx(what)?;
    // Attached under a shared mount, the tmpfs became shared: as a slave,
    // nothing bound below reaches another namespace before the read-only
    // attribute at the end covers it.
    m::setattr(tmpfs.as_fd(), 0, 0, libc::MS_SLAVE, false).ctx(what)?;
    for (dir, name) in &binds {
        if resolve::mount_at(
            Some(dir),
            tmpfs.as_fd(),
            Some(name),
            None,
            libc::MS_BIND,
            None,
        )
        .is_err()
        {
            let sub = resolve::child(tmpfs.as_fd(), name, false).map_err(|e| {
                Error::sys(
                    format!("open {} in the rootfs", dest.join(name).display()),
                    e,
                )
            })?;
            bind(dir, sub.as_fd())?;
        }
    }
    // The tmpfs and every bind in it at once. Without a private cgroup
    // namespace the mount is always read-only (CVE-2023-25809).
    m::setattr(tmpfs.as_fd(), attrs, 0, 0, true).ctx(what)
}
