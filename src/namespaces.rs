//! Which namespaces a container gets: new ones (CLONE_NEW* flags) and ones
//! joined by path (fds opened by the parent, before any clone).

use crate::error::{Ctx, Error, Result};
use crate::sys::clone::ns_type;
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::os::fd::{AsRawFd, OwnedFd};

pub const CLONE_NEWTIME: i32 = 0x80;

pub struct Joined {
    pub flag: i32,
    pub name: &'static str,
    pub fd: OwnedFd,
}

#[derive(Default)]
pub struct Plan {
    /// CLONE_NEW* of every namespace to create.
    pub new: i32,
    /// Namespaces to join, user namespace excluded.
    pub join: Vec<Joined>,
    pub join_user: Option<Joined>,
    /// `exec` into a container without a mount namespace: its root (a
    /// chroot in the runtime's namespace), /proc/PID/root opened now.
    pub root: Option<OwnedFd>,
}

pub fn flag(t: T) -> i32 {
    match t {
        T::Mount => libc::CLONE_NEWNS,
        T::Cgroup => libc::CLONE_NEWCGROUP,
        T::Uts => libc::CLONE_NEWUTS,
        T::Ipc => libc::CLONE_NEWIPC,
        T::User => libc::CLONE_NEWUSER,
        T::Pid => libc::CLONE_NEWPID,
        T::Network => libc::CLONE_NEWNET,
        T::Time => CLONE_NEWTIME,
    }
}

pub fn name(t: T) -> &'static str {
    match t {
        T::Mount => "mount",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "network",
        T::Time => "time",
    }
}

/// The config's namespace list (empty when absent).
fn configured(spec: &Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

impl Plan {
    /// Validates the namespace list and opens every path (so a path that
    /// vanishes or is swapped later cannot change what we join).
    pub fn from_spec(spec: &Spec) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut seen = 0;
        let list = configured(spec);
        for ns in &list {
            let (f, n) = (flag(ns.typ()), name(ns.typ()));
            if seen & f != 0 {
                return Err(Error::invalid(format!(
                    "linux.namespaces: {n} namespace listed twice"
                )));
            }
            seen |= f;
            let Some(path) = ns.path() else {
                plan.new |= f;
                continue;
            };
            if !path.is_absolute() {
                return Err(Error::invalid(format!(
                    "linux.namespaces: {n} path {:?} must be absolute",
                    path
                )));
            }
            let fd = crate::sys::fd::openat(None, path, libc::O_RDONLY, 0)
                .ctx(|| format!("open {n} namespace {}", path.display()))?;
            match ns_type(fd.as_raw_fd()) {
                Ok(t) if t == f => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "linux.namespaces: {} is not a {n} namespace",
                        path.display()
                    )))
                }
            }
            plan.add_joined(Joined {
                flag: f,
                name: n,
                fd,
            });
        }
        let linux = spec.linux().as_ref();
        let has_maps = linux.is_some_and(|l| {
            l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
                || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        });
        if has_maps && plan.new & libc::CLONE_NEWUSER == 0 {
            return Err(Error::invalid(
                "linux.uidMappings/gidMappings need a new user namespace in linux.namespaces",
            ));
        }
        if plan.new & libc::CLONE_NEWUSER != 0 && !has_maps {
            return Err(Error::invalid("linux.namespaces: a new user namespace needs linux.uidMappings and linux.gidMappings"));
        }
        // Without a mount namespace the container shares the runtime's
        // (config-linux.md: a namespace not listed is inherited); the
        // rootfs is then set up inside the bundle and entered by chroot.
        //
        // A hostname goes into a uts namespace of the container's own:
        // a new one, or one joined by path that is not the runtime's
        // (setting it there would rename the host).
        let own_uts = (plan.new | plan.joined_private()) & libc::CLONE_NEWUTS != 0;
        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
            return Err(Error::invalid(
                "hostname: setting a hostname needs a uts namespace other than the runtime's",
            ));
        }
        if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !own_uts {
            return Err(Error::invalid(
                "domainname: setting a domainname needs a uts namespace other than the runtime's",
            ));
        }
        // Offsets can only be written into a time namespace nobody has
        // entered yet: without a new one they would be silently dropped.
        let offsets = linux.and_then(|l| l.time_offsets().as_ref());
        if offsets.is_some_and(|o| !o.is_empty()) && plan.new & CLONE_NEWTIME == 0 {
            return Err(Error::invalid(
                "linux.timeOffsets: needs a new time namespace in linux.namespaces",
            ));
        }
        if let Some(c) = offsets
            .into_iter()
            .flatten()
            .map(|(c, _)| c)
            .find(|c| !matches!(c.as_str(), "monotonic" | "boottime"))
        {
            return Err(Error::invalid(format!(
                "linux.timeOffsets: unknown clock {c:?} (valid: monotonic, boottime)"
            )));
        }
        for k in spec
            .linux()
            .as_ref()
            .and_then(|l| l.sysctl().as_ref())
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            crate::rootfs::sysctl::validate(k, plan.new | plan.joined_private())?;
        }
        Ok(plan)
    }

    /// `exec`: join every namespace the container's init is in, by its
    /// /proc/PID/ns links (opened now: a pid reused later cannot redirect us).
    pub fn join_container(spec: &Spec, pid: i32) -> Result<Plan> {
        let mut plan = Plan::default();
        let list = configured(spec);
        for ns in &list {
            let (f, n) = (flag(ns.typ()), name(ns.typ()));
            let link = match ns.typ() {
                T::Mount => "mnt",
                T::Network => "net",
                T::Time => "time",
                _ => n,
            };
            let path = format!("/proc/{pid}/ns/{link}");
            let fd = crate::sys::fd::openat(None, std::path::Path::new(&path), libc::O_RDONLY, 0)
                .ctx(|| format!("open {path}"))?;
            plan.add_joined(Joined {
                flag: f,
                name: n,
                fd,
            });
        }
        if !list.iter().any(|n| n.typ() == T::Mount) {
            let path = format!("/proc/{pid}/root");
            let fd = crate::sys::fd::openat(
                None,
                std::path::Path::new(&path),
                libc::O_PATH | libc::O_DIRECTORY,
                0,
            )
            .ctx(|| format!("open {path}"))?;
            plan.root = Some(fd);
        }
        Ok(plan)
    }

    /// CLONE_NEW* of the namespaces joined by path that are not the
    /// runtime's own (joining the host's namespace makes it no safer).
    pub fn joined_private(&self) -> i32 {
        use std::os::unix::fs::MetadataExt;
        let mut out = 0;
        for j in &self.join {
            let link = match j.flag {
                libc::CLONE_NEWNET => "net",
                libc::CLONE_NEWIPC => "ipc",
                libc::CLONE_NEWUTS => "uts",
                _ => continue,
            };
            let ours = std::fs::metadata(format!("/proc/self/ns/{link}"))
                .map(|m| m.ino())
                .ok();
            let theirs = crate::sys::fd::fstat(std::os::fd::AsFd::as_fd(&j.fd))
                .map(|s| s.st_ino)
                .ok();
            if ours.is_some() && ours != theirs {
                out |= j.flag;
            }
        }
        out
    }

    /// The user namespace is joined on its own, after the others.
    fn add_joined(&mut self, j: Joined) {
        if j.flag == libc::CLONE_NEWUSER {
            self.join_user = Some(j);
        } else {
            self.join.push(j);
        }
    }

    /// Whether the container has a namespace of this type of its own,
    /// new or joined by path.
    pub fn has(&self, flag: i32) -> bool {
        self.new & flag != 0
            || self.join.iter().any(|j| j.flag == flag)
            || (flag == libc::CLONE_NEWUSER && self.join_user.is_some())
    }

    pub fn user(&self) -> bool {
        self.new & libc::CLONE_NEWUSER != 0 || self.join_user.is_some()
    }

    /// Whether one clone(CLONE_NEW*) can make every namespace at once. Not
    /// when joining (ordering matters) or with a time namespace (offsets
    /// must be written before any process enters it).
    pub fn single_clone(&self) -> bool {
        self.join.is_empty() && self.join_user.is_none() && self.new & CLONE_NEWTIME == 0
    }

    /// Flags for that single clone. The cgroup namespace is left out: it
    /// must be unshared after the process sits in its cgroup, so the
    /// container sees its own cgroup as the root.
    pub fn clone_flags(&self) -> i32 {
        self.new & !libc::CLONE_NEWCGROUP
    }
}
