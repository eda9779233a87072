//! AppArmor profiles and SELinux labels: process.apparmorProfile and
//! process.selinuxLabel become the container process's domain at its
//! execve (`attr/exec`); the SELinux label also labels the session keyring
//! (`attr/keycreate`). Written only through a procfs handle checked to be
//! procfs, with no mount crossed below it: a fake /proc in the image, or a
//! volume over /proc, would otherwise swallow the write and the container
//! would run unconfined (CVE-2019-16884).
//!
//! Like runc, a field set for an LSM the host does not have is an error,
//! never ignored (runc fails writing attr/exec, or on the kernel's refusal
//! of `context=`); strata says so up front, naming the field.

use crate::error::{Error, Result};
use crate::sys::{self, fd};
use oci_spec::runtime::{Linux, Process};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::rootfs::sysctl::PROC_SUPER_MAGIC;
/// Only a plain symlink (thread-self) may be followed below /proc, and no
/// mount crossed.
const RESOLVE: u64 = fd::RESOLVE_NO_MAGICLINKS | fd::RESOLVE_BENEATH | fd::RESOLVE_NO_XDEV;

/// Host probes, as runc's: AppArmor's module parameter; SELinux's
/// selinuxfs (mounted only when SELinux is on).
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The labels the process execs into (empty fields count as unset).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Labels<'a> {
    pub apparmor: Option<&'a str>,
    pub selinux: Option<&'a str>,
}

impl<'a> Labels<'a> {
    pub fn of(p: &'a Process) -> Self {
        Labels {
            apparmor: set(p.apparmor_profile()),
            selinux: set(p.selinux_label()),
        }
    }
}

/// Refuses, naming the field, what this host's LSMs cannot apply. The
/// probes run only for a field that is set: a plain config costs nothing.
pub fn check_host(p: Option<&Process>, l: Option<&Linux>) -> Result<()> {
    let labels = p.map(Labels::of).unwrap_or_default();
    let mount = l.and_then(|l| set(l.mount_label()));
    if labels.apparmor.is_some() && !apparmor_enabled() {
        return Err(Error::invalid(
            "process.apparmorProfile: AppArmor is not enabled on this host",
        ));
    }
    for (on, field) in [
        (labels.selinux.is_some(), "process.selinuxLabel"),
        (mount.is_some(), "linux.mountLabel"),
    ] {
        if on && !selinux_enabled() {
            return Err(Error::invalid(format!(
                "{field}: SELinux is not enabled on this host"
            )));
        }
    }
    for (v, field) in [
        (labels.apparmor, "process.apparmorProfile"),
        (labels.selinux, "process.selinuxLabel"),
        (mount, "linux.mountLabel"),
    ] {
        // The label is written as one line of attr/exec or quoted in a
        // mount option: nothing may end it early or add another.
        if let Some(v) = v.filter(|v| v.contains(['\n', '\0', '"'])) {
            return Err(Error::invalid(format!("{field} {v:?}: invalid character")));
        }
    }
    Ok(())
}

/// The current root's /proc, checked to be procfs (not a directory or a
/// tmpfs of the image's).
fn procfs() -> Result<OwnedFd> {
    let dir = fd::openat(
        None,
        Path::new("/proc"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map_err(|e| Error::sys("open /proc (an LSM label needs procfs mounted)", e))?;
    match sys::statfs_type(dir.as_fd()) {
        Ok(PROC_SUPER_MAGIC) => Ok(dir),
        Ok(_) => Err(Error::invalid(
            "/proc is not procfs: refusing to write an LSM label there",
        )),
        Err(e) => Err(Error::sys("statfs /proc", e)),
    }
}

/// Writes `value` to /proc/thread-self/`attr`: only a plain symlink
/// (thread-self) may be followed and no mount crossed, so a bind mount
/// over attr/ cannot take the write (CVE-2019-16884).
fn write_attr(proc: &OwnedFd, attr: &str, value: &str) -> std::io::Result<()> {
    let f = fd::openat2(
        proc.as_fd(),
        &Path::new("thread-self").join(attr),
        libc::O_WRONLY,
        0,
        RESOLVE,
    )?;
    std::fs::File::from(f).write_all(value.as_bytes())
}

/// Called last before the start gate: both take effect at the process's
/// execve. Does nothing, not even a syscall, when neither is set.
pub fn set_exec(l: Labels) -> Result<()> {
    if l == Labels::default() {
        return Ok(());
    }
    let proc = procfs()?;
    if let Some(profile) = l.apparmor {
        // attr/apparmor/ since Linux 5.8 (LSM stacking); attr/exec before.
        let attr = if fd::openat2(
            proc.as_fd(),
            Path::new("thread-self/attr/apparmor"),
            libc::O_PATH,
            0,
            RESOLVE,
        )
        .is_ok()
        {
            "attr/apparmor/exec"
        } else {
            "attr/exec"
        };
        let r = write_attr(&proc, attr, &format!("exec {profile}"));
        r.map_err(|e| apparmor_error(profile, attr, e))?;
    }
    if let Some(label) = l.selinux {
        write_attr(&proc, "attr/exec", label).map_err(|e| {
            Error::sys(
                format!("process.selinuxLabel {label:?}: write /proc/thread-self/attr/exec"),
                e,
            )
        })?;
    }
    Ok(())
}

fn apparmor_error(profile: &str, attr: &str, e: std::io::Error) -> Error {
    let what = format!("write /proc/thread-self/{attr}");
    match e.raw_os_error() {
        // The write of a name the kernel has no profile for.
        Some(libc::ENOENT) => Error::invalid(format!(
            "process.apparmorProfile {profile:?}: no such AppArmor profile is loaded ({what}: {e})"
        )),
        _ => Error::sys(format!("process.apparmorProfile {profile:?}: {what}"), e),
    }
}

/// runc labels the session keyring it creates with the process label:
/// written before the keyring is made (the kernel resets it at execve).
pub fn set_keycreate(label: Option<&str>) -> Result<()> {
    let Some(label) = label else {
        return Ok(());
    };
    let proc = procfs()?;
    write_attr(&proc, "attr/keycreate", label).map_err(|e| {
        Error::sys(
            format!("process.selinuxLabel {label:?}: write /proc/thread-self/attr/keycreate"),
            e,
        )
    })
}

/// Back to the default key label (SELinux takes a lone newline as "none";
/// an empty write would not reach the kernel).
pub fn clear_keycreate() -> Result<()> {
    let proc = procfs()?;
    write_attr(&proc, "attr/keycreate", "\n")
        .map_err(|e| Error::sys("clear /proc/thread-self/attr/keycreate", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_labels_ask_nothing_of_the_host() {
        let mut p = Process::default();
        p.set_apparmor_profile(Some(String::new()));
        p.set_selinux_label(Some(String::new()));
        assert_eq!(Labels::of(&p), Labels::default());
        assert!(check_host(Some(&p), None).is_ok());
        assert!(set_exec(Labels::of(&p)).is_ok());
        let mut l = Linux::default();
        l.set_mount_label(Some(String::new()));
        assert!(check_host(None, Some(&l)).is_ok());
    }

    #[test]
    fn a_label_that_would_end_the_line_is_refused() {
        let mut p = Process::default();
        p.set_apparmor_profile(Some("a\nchangeprofile b".into()));
        if apparmor_enabled() {
            let e = check_host(Some(&p), None).unwrap_err().to_string();
            assert!(e.contains("invalid character"), "{e}");
        } else {
            let e = check_host(Some(&p), None).unwrap_err().to_string();
            assert!(e.contains("process.apparmorProfile"), "{e}");
        }
    }
}
