//! Cgroup hierarchies on v1, hybrid and v2 hosts: where a cgroupsPath lives, what is in it,
//! and removing it.
use crate::sys;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mount points of every cgroup hierarchy (v1 controllers and the v2/unified mount).
pub fn mounts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = sys::mounts()
        .into_iter()
        .filter(|m| {
            (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.point.starts_with("/sys/fs/cgroup")
        })
        .map(|m| PathBuf::from(m.point))
        .collect();
    v.dedup();
    v
}

/// Pure cgroup v2: /sys/fs/cgroup is itself the cgroup2 mount.
pub fn pure_v2() -> bool {
    mounts().iter().all(|m| m == Path::new("/sys/fs/cgroup"))
}

pub fn is_cgroupfs(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
    statfs(path)
        .map(|s| {
            s.filesystem_type() == CGROUP_SUPER_MAGIC || s.filesystem_type() == CGROUP2_SUPER_MAGIC
        })
        .unwrap_or(false)
}

/// Where a cgroupsPath may appear: every cgroup mount, plus (when /sys/fs/cgroup is a tmpfs
/// of v1 mount points) every directory under it, so a runtime that writes into an unmounted
/// controller's directory (a plain tmpfs dir, e.g. hugetlb on a hybrid host) is caught too.
pub fn bases() -> Vec<PathBuf> {
    let mut v = mounts();
    let top = Path::new("/sys/fs/cgroup");
    if !is_cgroupfs(top) {
        for e in fs::read_dir(top).into_iter().flatten().flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) && !v.contains(&e.path()) {
                v.push(e.path());
            }
        }
    }
    v
}

/// Existing directories for cgroupsPath `cg` (absolute, e.g. `/runtime-tests/x`) in any base.
pub fn dirs(cg: &str) -> Vec<PathBuf> {
    bases()
        .into_iter()
        .map(|m| m.join(cg.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect()
}

/// Pids listed in `cgroup.procs` of `dir` and all its descendants.
pub fn pids(dir: &Path) -> Vec<i32> {
    let mut found: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            found.extend(pids(&e.path()));
        }
    }
    found
}

/// Kills what is left in a cgroup dir and removes it bottom-up (retrying while it drains).
/// A plain directory (not on a cgroup filesystem) is removed like any other tree.
pub fn remove(dir: &Path) -> Result<(), String> {
    if !is_cgroupfs(dir) {
        return sys::remove_tree(dir);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for pid in pids(dir) {
            sys::kill9(pid);
        }
        if rmdir_tree(dir).is_ok() || !dir.exists() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("cannot remove cgroup {}", dir.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rmdir_tree(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            rmdir_tree(&e.path())?;
        }
    }
    fs::remove_dir(dir)
}
