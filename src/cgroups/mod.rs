//! Control groups: find the host layout (v1, hybrid or v2), turn
//! `cgroupsPath` into directories, create them, place the init, and remove
//! them on delete. `resources` turns linux.resources into file writes;
//! `apply` finds the directory of each.

mod devices_bpf;
mod layout;
mod manager;
mod path;
pub mod resources;
mod saved;
pub mod systemd;

pub use layout::{Hierarchy, Layout};
pub use manager::Manager;
pub use saved::{Paths, Saved};

use crate::error::{Ctx, Error, Result};
use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The container's cgroup as a command works on it: where it is, what
/// strata made of it, and what only the command that resolved it knows.
/// `resolve` makes one for a new container, `open` one from its state;
/// `saved` is what goes back into the state.
#[derive(Debug, Default)]
pub struct Cgroup {
    pub paths: Paths,
    /// `Saved::made`, predicted by `resolve` and corrected by `create`.
    made: Vec<Cell<bool>>,
    /// Index in `v1` of the cpuset hierarchy, from the layout (`resolve`;
    /// only `create` needs it).
    cpuset_v1: Option<usize>,
    /// strata's own cgroup in each v1 hierarchy, in the order of `v1`
    /// (`resolve`; for `enter_v1`'s way back).
    v1_own: Vec<PathBuf>,
    /// `create` made the leaf directory in every v1 hierarchy.
    v1_fresh: Cell<bool>,
    pub unit: Option<systemd::LiveUnit>,
}

/// The calling thread inside the container's v1 cgroups (`enter_v1`);
/// dropping it moves the thread back to strata's own.
pub struct InV1<'a> {
    own: &'a [PathBuf],
}

impl Drop for InV1<'_> {
    fn drop(&mut self) {
        for d in self.own {
            if let Err(e) = join_self(d) {
                tracing::warn!("cgroup: move back to {}: {e}", d.display());
            }
        }
    }
}

/// Moves the calling thread (not its whole process) into the v1 cgroup
/// `dir`: "0" in `tasks` is the only attach that skips the kernel's global
/// threadgroup lock (cgroup_procs_write_start: no pid, no threadgroup).
fn join_self(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("tasks"), "0")
}

/// Validates `cgroupsPath` and resolves it against the host layout.
/// Absolute paths are under each hierarchy's root; relative ones are
/// under strata's own cgroup; absent means `/<id>`, as runc does for the
/// cgroupfs driver. With `systemd`, cgroupsPath is the systemd driver's
/// `slice:prefix:name` (`systemd::resolve`).
pub fn resolve(cgroups_path: Option<&Path>, id: &str, systemd: bool) -> Result<Cgroup> {
    if systemd {
        return systemd::resolve(cgroups_path, id);
    }
    let raw = path::checked(cgroups_path, id)?;
    let mut cg = path::place(&raw, &Layout::detect()?);
    // Written to the state before `create`, so a create killed halfway
    // leaves a state that removes what it may have made, and only that.
    cg.made = cg.paths.dirs().map(|d| Cell::new(!d.exists())).collect();
    Ok(cg)
}

impl Cgroup {
    /// The handle on a cgroup that a container's state names (any command
    /// after `create`). What only `resolve` knows is absent: `create` is
    /// not run again, `enter_v1` declines (the clone's pid is written to
    /// cgroup.procs instead) and a systemd unit is taken as started.
    pub fn open(saved: &Saved) -> Cgroup {
        Cgroup {
            paths: saved.paths.clone(),
            made: saved.made.iter().map(|&m| Cell::new(m)).collect(),
            unit: saved.unit.clone().map(systemd::LiveUnit::new),
            ..Default::default()
        }
    }

    /// What the state keeps of it, with what `create` made.
    pub fn saved(&self) -> Saved {
        Saved {
            paths: self.paths.clone(),
            made: self.made.iter().map(Cell::get).collect(),
            unit: self.unit.as_ref().map(|u| u.saved().clone()),
        }
    }

    /// Whether strata made the `i`th directory of `Paths::dirs`.
    fn made(&self, i: usize) -> bool {
        self.made.get(i).is_some_and(|m| m.get())
    }

    /// What `resources::writes` sees of this cgroup. cgroup2 controllers
    /// are enabled down to it first, so its cgroup.controllers says what
    /// is usable. A hybrid host's cgroup2 mount is only touched for the
    /// fields that may live there (hugetlb, rdma, unified).
    fn host(&self, r: &oci_spec::runtime::LinuxResources) -> CgHost<'_> {
        let hybrid_needs = r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
            || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
            || r.unified().as_ref().is_some_and(|m| !m.is_empty());
        if let Some(d) = &self.paths.v2 {
            if self.paths.v1.is_empty() || hybrid_needs {
                enable_controllers(d);
            }
        }
        CgHost {
            cg: &self.paths,
            v2_ctrls: std::cell::OnceCell::new(),
        }
    }

    /// What `apply` would refuse (a bad field, checkBeforeUpdate), refused
    /// with nothing written: the systemd driver asks before it sets unit
    /// properties, since systemd applies a memory limit below the usage at
    /// once and the kernel then kills the container.
    pub(crate) fn check(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let host = self.host(r);
        resources::writes(r, &host)?;
        resources::check_before_update(r, &host)
    }

    fn write_plan(
        &self,
        r: &oci_spec::runtime::LinuxResources,
        defer_pids: bool,
    ) -> Result<Deferred> {
        let mut deferred = Deferred::default();
        let host = self.host(r);
        let plan = resources::writes(r, &host)?;
        resources::check_before_update(r, &host)?;
        if let Some(v2) = self.paths.v2.as_ref().filter(|_| self.paths.v1.is_empty()) {
            if let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) {
                attach_device_filter(v2, rules)?;
            }
        }
        // Consecutive writes to one file (the devices.allow rules) share
        // its fd: cgroupfs takes each write(2) as one command.
        let mut last: Option<(PathBuf, std::fs::File)> = None;
        for wr in plan {
            let dir = host.dir(wr.controller, wr.v2).ok_or_else(|| {
                Error::invalid(format!(
                    "linux.resources.{}: no {} controller on this host",
                    wr.field, wr.controller
                ))
            })?;
            let f = dir.join(&wr.file);
            if defer_pids && wr.controller == "pids" {
                deferred.writes.push((f, wr.value, wr.field));
                continue;
            }
            let file = match last.take() {
                Some((p, file)) if p == f => file,
                _ => open_file(&f, wr.field)?,
            };
            write_file(&file, &f, &wr.value, wr.field)?;
            last = Some((f, file));
        }
        for w in resources::warnings(r, &host) {
            tracing::warn!("{w}");
        }
        Ok(deferred)
    }

    /// An O_PATH|O_DIRECTORY fd for CLONE_INTO_CGROUP (cgroup2 only;
    /// none while a systemd unit waits for the init to start with).
    pub fn open_v2(&self) -> Option<OwnedFd> {
        if self.unit.as_ref().is_some_and(|u| u.starting()) {
            return None;
        }
        let d = self.paths.v2.as_ref()?;
        // None only costs the fast path: the pid is then moved in by a
        // cgroup.procs write, whose failure is reported.
        crate::sys::fd::openat(None, d, libc::O_PATH | libc::O_DIRECTORY, 0).ok()
    }

    /// Moves the calling thread into the container's cgroup in every v1
    /// hierarchy, so that a process it clones is born there, as
    /// CLONE_INTO_CGROUP does on cgroup2. Writing another process's pid to
    /// cgroup.procs takes the kernel's global threadgroup lock, which waits
    /// for an RCU grace period: 5-25 ms on the first join after idle here
    /// (docs/benchmarks.md); a thread moving itself does not.
    /// Only into cgroups `create` has just made (a cgroup that existed may
    /// have a pids limit already reached) and that are not frozen (a new
    /// v1 freezer cgroup under a frozen parent is): the runtime must not be
    /// caught there. None, after moving back, when a move fails: the caller
    /// then adds the pid after the clone as before.
    pub fn enter_v1(&self) -> Option<InV1<'_>> {
        if self.paths.v1.is_empty()
            || self.v1_own.len() != self.paths.v1.len()
            || !self.v1_fresh.get()
        {
            return None;
        }
        if let Some((f, _, thawed)) = self
            .paths
            .freezer()
            .filter(|(f, ..)| f.ends_with("freezer.state"))
        {
            if !crate::sys::fd::read_small(&f).is_ok_and(|s| s.trim() == thawed) {
                return None;
            }
        }
        for (i, d) in self.paths.v1.iter().enumerate() {
            if let Err(e) = join_self(d) {
                tracing::debug!("cgroup: join {} before the clone: {e}", d.display());
                drop(InV1 {
                    own: &self.v1_own[..i],
                });
                return None;
            }
        }
        Some(InV1 { own: &self.v1_own })
    }

    /// `exec`'s process, in the child right after the clone: moves itself
    /// into every v1 hierarchy, for the same reason as `enter_v1` (the
    /// parent writing its pid to cgroup.procs waits for an RCU grace
    /// period). Only the new process moves, so a frozen cgroup or one at its
    /// pids limit catches it as the parent's write would, never the runtime.
    pub fn join_v1_self(&self) -> Result<()> {
        for d in &self.paths.v1 {
            join_self(d).ctx(|| format!("join cgroup {}", d.display()))?;
        }
        Ok(())
    }

    /// Pids in the directories strata made (and below them).
    fn made_pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for (i, d) in self.paths.dirs().enumerate() {
            if self.made(i) {
                collect_pids(d, &mut out);
            }
        }
        out
    }

    /// Removes each directory strata made; the first error after trying
    /// them all (one busy hierarchy must not keep the others).
    fn rmdir_all(&self) -> Result<()> {
        let mut first = None;
        for (i, d) in self.paths.dirs().enumerate() {
            if self.made(i) {
                if let Err(e) = rmdir_tree(d) {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The driver of a cgroup: the systemd driver's when a unit holds it.
macro_rules! driver {
    ($cg:ident . $op:ident ( $($arg:expr),* )) => {
        match &$cg.unit {
            Some(unit) => systemd::Scope { cg: $cg, unit }.$op($($arg),*),
            _ => Fs($cg).$op($($arg),*),
        }
    };
}

impl Manager for Cgroup {
    fn create(&self) -> Result<bool> {
        driver!(self.create())
    }
    fn apply(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        driver!(self.apply(r))
    }
    fn apply_before_init(&self, r: &oci_spec::runtime::LinuxResources) -> Result<Deferred> {
        driver!(self.apply_before_init(r))
    }
    fn add_pid(&self, pid: i32, in_v1_already: bool, in_v2_already: bool) -> Result<()> {
        driver!(self.add_pid(pid, in_v1_already, in_v2_already))
    }
    fn is_frozen(&self) -> bool {
        driver!(self.is_frozen())
    }
    fn freeze(&self, on: bool) -> Result<()> {
        driver!(self.freeze(on))
    }
    fn pids(&self) -> Vec<i32> {
        driver!(self.pids())
    }
    fn signal_all(&self, sig: i32) {
        driver!(self.signal_all(sig))
    }
    fn destroy(&self, kill_all: bool) -> Result<()> {
        driver!(self.destroy(kill_all))
    }
}

/// A cgroup seen by the cgroupfs driver (the systemd driver uses it for
/// what works on any cgroup directory).
pub(crate) struct Fs<'a>(pub &'a Cgroup);

impl std::ops::Deref for Fs<'_> {
    type Target = Cgroup;
    fn deref(&self) -> &Cgroup {
        self.0
    }
}

/// The cgroupfs driver (v1, hybrid and v2 alike): each operation on the
/// directories `resolve` chose.
impl Manager for Fs<'_> {
    /// Creates every directory. cpuset (v1) needs cpus/mems before a task
    /// can join, so they are copied down from the parent. True when what
    /// was made differs from `resolve`'s prediction (a race with another
    /// creator): the caller writes the state again.
    fn create(&self) -> Result<bool> {
        let mut fresh = true;
        let mut changed = false;
        for (i, d) in self.paths.dirs().enumerate() {
            let made = create_dirs(d).ctx(|| format!("create cgroup {}", d.display()))?;
            fresh &= made > 0 || i >= self.paths.v1.len();
            if let Some(m) = self.made.get(i) {
                changed |= m.replace(made > 0) != (made > 0);
            }
            if self.cpuset_v1 == Some(i) {
                init_cpuset(&self.paths.v1_mounts[i], d, made)?;
            }
        }
        self.v1_fresh.set(fresh);
        Ok(changed)
    }

    /// Applies linux.resources (on update). Everything is translated and
    /// checked before the first write, so a field the host cannot apply
    /// changes nothing.
    fn apply(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        self.write_plan(r, false).map(drop)
    }

    /// `apply` for create, before the init exists: the pids limit is held
    /// back until `Deferred::finish`, once the init is in the cgroup.
    /// Cloning into the cgroup (and the pid-namespace fork) counts against
    /// pids.max, and runtime-spec 1.3 makes limits as low as 0 valid; runc
    /// also writes limits after the init joined.
    fn apply_before_init(&self, r: &oci_spec::runtime::LinuxResources) -> Result<Deferred> {
        self.write_plan(r, true)
    }

    /// Writes `pid` into cgroup.procs of every v1 hierarchy unless it was
    /// born there (`enter_v1`), and of the v2 directory unless it was born
    /// there (CLONE_INTO_CGROUP).
    fn add_pid(&self, pid: i32, in_v1_already: bool, in_v2_already: bool) -> Result<()> {
        let v2 = if in_v2_already {
            None
        } else {
            self.paths.v2.as_ref()
        };
        let v1 = if in_v1_already {
            &[][..]
        } else {
            &self.paths.v1[..]
        };
        for d in v1.iter().chain(v2) {
            let f = d.join("cgroup.procs");
            std::fs::write(&f, pid.to_string())
                .ctx(|| format!("write {} to {}", pid, f.display()))?;
        }
        Ok(())
    }

    fn is_frozen(&self) -> bool {
        let Some((f, frozen, _)) = self.paths.freezer() else {
            return false;
        };
        crate::sys::fd::read_small(f)
            .map(|s| s.trim() == frozen)
            .unwrap_or(false)
    }

    /// Freezes (or thaws) every process, waiting until the kernel says done.
    fn freeze(&self, on: bool) -> Result<()> {
        let (f, frozen, thawed) = self
            .paths
            .freezer()
            .ok_or_else(|| Error::invalid("no freezer cgroup on this host"))?;
        let want = if on { frozen } else { thawed };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            std::fs::write(&f, want).ctx(|| format!("write {want} to {}", f.display()))?;
            let now = if f.ends_with("cgroup.freeze") {
                let events = f.with_file_name("cgroup.events");
                let ev = crate::sys::fd::read_small(&events)
                    .ctx(|| format!("read {}", events.display()))?;
                ev.lines()
                    .any(|l| l == format!("frozen {}", if on { 1 } else { 0 }))
            } else {
                crate::sys::fd::read_small(&f)
                    .ctx(|| format!("read {}", f.display()))?
                    .trim()
                    == want
            };
            if now {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::invalid(format!(
                    "{}: still not {want} after 5s",
                    f.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Every pid in the container's cgroup and its descendants.
    fn pids(&self) -> Vec<i32> {
        let Some(d) = self.paths.v2.as_ref().or_else(|| self.paths.v1.first()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        collect_pids(d, &mut out);
        out
    }

    /// Signals every process in the cgroup tree.
    fn signal_all(&self, sig: i32) {
        for pid in self.pids() {
            // A process may exit between listing and signalling: ignore ESRCH.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::try_from(sig).ok(),
            );
        }
    }

    /// Removes every directory strata made, deepest first (sub-cgroups the
    /// container made included), retrying EBUSY while the kernel finishes
    /// tearing down exited tasks. With `kill_all` (no pid namespace of the
    /// container's own: killing its init kills nothing else) whatever is in
    /// the cgroup is killed first, as runc does. Without it the init is
    /// dead, so every container process is; a process still there is not
    /// the container's and is left alone (runc 1.1 too), and so is its
    /// cgroup: the error names it.
    fn destroy(&self, kill_all: bool) -> Result<()> {
        // A cgroup strata did not make is never removed, so no failing
        // rmdir would bring its stragglers to light: list them now.
        if kill_all && (0..self.paths.dirs().count()).any(|i| !self.made(i)) {
            self.signal_all(libc::SIGKILL);
        }
        // Usually every task is gone: the rmdirs alone do it. Tasks (or
        // sub-cgroups) left make one fail, and only then are they listed,
        // killed and thawed (~12 syscalls per delete).
        if self.rmdir_all().is_ok() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if kill_all {
                self.signal_all(libc::SIGKILL);
                // Killed tasks in a frozen cgroup only die once thawed. A
                // failed thaw leaves them there: the rmdir's EBUSY says so.
                if self.is_frozen() {
                    let _ = self.freeze(false);
                }
            }
            match self.rmdir_all() {
                Ok(()) => return Ok(()),
                Err(e) if !kill_all && !self.made_pids().is_empty() => return Err(e),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!("cgroup removal retry: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Opens a cgroup file to write; a file the kernel does not offer is named as
/// such rather than created (cgroupfs refuses O_CREAT with EACCES).
fn open_file(f: &Path, field: &str) -> Result<std::fs::File> {
    match std::fs::OpenOptions::new().write(true).open(f) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(format!(
            "linux.resources.{field}: {} does not exist (not offered by this kernel)",
            f.display()
        ))),
        Err(e) => Err(Error::sys(
            format!("linux.resources.{field}: open {}", f.display()),
            e,
        )),
    }
}

/// Writes `value` to the open cgroup file `f` (one write(2) on cgroupfs).
fn write_file(mut file: &std::fs::File, f: &Path, value: &str, field: &str) -> Result<()> {
    use std::io::Write;
    file.write_all(value.as_bytes()).ctx(|| {
        format!(
            "linux.resources.{field}: write {:?} to {}",
            value,
            f.display()
        )
    })
}

struct CgHost<'a> {
    cg: &'a Paths,
    /// The cgroup2 directory's cgroup.controllers (None without cgroup2),
    /// read on first use: with every field in a v1 hierarchy, nothing asks.
    v2_ctrls: std::cell::OnceCell<Option<Vec<String>>>,
}

impl CgHost<'_> {
    fn v2_ctrls(&self) -> Option<&Vec<String>> {
        self.v2_ctrls
            .get_or_init(|| {
                self.cg.v2.as_ref().map(|d| {
                    crate::sys::fd::read_small(d.join("cgroup.controllers"))
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect()
                })
            })
            .as_ref()
    }

    fn dir(&self, controller: &str, v2: bool) -> Option<&PathBuf> {
        if v2 {
            self.cg.v2.as_ref()
        } else {
            self.cg.v1_dir(controller)
        }
    }
}

impl resources::Host for CgHost<'_> {
    fn v2(&self, controller: &str) -> Option<bool> {
        if self.cg.v1_dir(controller).is_some() {
            return Some(false);
        }
        let name = if controller == "blkio" {
            "io"
        } else {
            controller
        };
        self.v2_ctrls()?.iter().any(|c| c == name).then_some(true)
    }
    fn has(&self, controller: &str, v2: bool, file: &str) -> bool {
        self.dir(controller, v2)
            .is_some_and(|d| d.join(file).exists())
    }
    fn read(&self, controller: &str, v2: bool, file: &str) -> Option<String> {
        let d = self.dir(controller, v2)?;
        crate::sys::fd::read_small(d.join(file))
            .ok()
            .map(|s| s.trim().to_string())
    }
    fn hugepage_sizes(&self) -> Vec<String> {
        resources::hugepage_sizes()
    }
    fn pure_v2(&self) -> bool {
        self.cg.v1.is_empty() && self.cg.v2.is_some()
    }
    fn unified(&self) -> Option<Vec<String>> {
        self.v2_ctrls().cloned()
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = crate::sys::fd::read_records(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

fn rmdir_tree(dir: &Path) -> Result<()> {
    // Usually the container made no sub-cgroups: one rmdir does it. Only
    // when that fails (EBUSY: sub-cgroups, or tasks still exiting) is the
    // directory read and emptied deepest first.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::sys(format!("read cgroup {}", dir.display()), e)),
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            rmdir_tree(&e.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::sys(format!("remove cgroup {}", dir.display()), e)),
    }
}

/// `create_dir_all` that also says how many trailing levels of `d` it
/// made (0: `d` was there). Errors as `create_dir_all`.
fn create_dirs(d: &Path) -> std::io::Result<usize> {
    match std::fs::create_dir(d) {
        Ok(()) => Ok(1),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(parent) = d.parent() else {
                return Err(e);
            };
            let made = create_dirs(parent)?;
            match std::fs::create_dir(d) {
                Ok(()) => Ok(made + 1),
                // Made meanwhile by someone else: say nothing was made
                // (the levels are then read, never assumed empty).
                Err(_) if d.is_dir() => Ok(0),
                Err(e) => Err(e),
            }
        }
        Err(_) if d.is_dir() => Ok(0),
        Err(e) => Err(e),
    }
}

/// Copies cpuset.cpus/mems from the nearest level that has them into every
/// empty level from the hierarchy's `mount` down to `d`, top-down. The
/// `made` deepest levels were just created: those are empty (or hold the
/// parent's values, with cgroup.clone_children), so they are written
/// without a read, and a value written or read is not read again below.
/// A hierarchy without cpuset.cpus (mounted noprefix) is left alone.
fn init_cpuset(mount: &Path, d: &Path, made: usize) -> Result<()> {
    const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];
    let Ok(rel) = d.strip_prefix(mount) else {
        return Ok(());
    };
    let mut levels = vec![mount.to_path_buf()];
    for c in rel.components() {
        let next = levels[levels.len() - 1].join(c);
        levels.push(next);
    }
    let first_made = levels.len() - made.min(levels.len() - 1);
    // The value of the level above, per file, once known.
    let mut above: [Option<String>; 2] = [None, None];
    for k in 1..levels.len() {
        for (f, known) in FILES.iter().zip(above.iter_mut()) {
            if k < first_made {
                // Unreadable counts as empty: the parent's value is then
                // written, and a real problem fails that write.
                let cur = crate::sys::fd::read_small(levels[k].join(f)).unwrap_or_default();
                if !cur.trim().is_empty() {
                    *known = Some(cur.trim().to_string());
                    continue;
                }
            }
            let parent = match known.take() {
                Some(v) => v,
                None => {
                    let src = levels[k - 1].join(f);
                    match crate::sys::fd::read_small(&src) {
                        Ok(v) => v.trim().to_string(),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                        Err(e) => return Err(Error::sys(format!("read {}", src.display()), e)),
                    }
                }
            };
            let dst = levels[k].join(f);
            std::fs::write(&dst, &parent).ctx(|| format!("write {}", dst.display()))?;
            *known = Some(parent);
        }
    }
    Ok(())
}

/// cgroup2: a controller's files exist in a cgroup only when every
/// ancestor lists it in cgroup.subtree_control. Enable what the root has,
/// one controller at a time (one refusal must not block the others).
fn enable_controllers(dir: &Path) {
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|p| p.join("cgroup.subtree_control").exists())
        .collect();
    chain.reverse();
    for p in chain {
        // Best effort (see above): a controller that cannot be enabled is
        // absent below, as on a host without it.
        let avail = crate::sys::fd::read_small(p.join("cgroup.controllers")).unwrap_or_default();
        for c in avail.split_whitespace() {
            let _ = std::fs::write(p.join("cgroup.subtree_control"), format!("+{c}"));
        }
    }
}

/// cgroup v2: the device rules (then runc's default allow-list) as an eBPF
/// program attached to the container's cgroup (before any task is in it on
/// create). Programs attached before (on `update`) are detached after the
/// new one is in: attached programs must all allow, so the old one would
/// keep denying; in between, both apply, never neither.
fn attach_device_filter(dir: &Path, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
    use std::os::fd::AsFd;
    let at = resources::defaults_at(rules);
    let mut all: Vec<devices_bpf::Rule> = rules[..at]
        .iter()
        .map(devices_bpf::Rule::from_spec)
        .collect();
    all.extend(
        resources::DEFAULT_ALLOW
            .iter()
            .filter_map(|s| devices_bpf::Rule::parse(s, true)),
    );
    all.extend(rules[at..].iter().map(devices_bpf::Rule::from_spec));
    let prog = devices_bpf::program(&devices_bpf::emulate_v1(all))?;
    let fd = crate::sys::bpf::load(crate::sys::bpf::PROG_TYPE_CGROUP_DEVICE, &prog)
        .ctx(|| "load the device filter (linux.resources.devices)")?;
    let cg = crate::sys::fd::openat(None, dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open {}", dir.display()))?;
    let old = crate::sys::bpf::query(cg.as_fd(), crate::sys::bpf::ATTACH_CGROUP_DEVICE)
        .ctx(|| format!("query the device filters of {}", dir.display()))?;
    crate::sys::bpf::attach(
        cg.as_fd(),
        fd.as_fd(),
        crate::sys::bpf::ATTACH_CGROUP_DEVICE,
        crate::sys::bpf::F_ALLOW_MULTI,
    )
    .ctx(|| format!("attach the device filter to {}", dir.display()))?;
    for id in old {
        let prog =
            crate::sys::bpf::prog_fd(id).ctx(|| format!("open device filter program {id}"))?;
        crate::sys::bpf::detach(
            cg.as_fd(),
            prog.as_fd(),
            crate::sys::bpf::ATTACH_CGROUP_DEVICE,
        )
        .ctx(|| format!("detach the old device filter from {}", dir.display()))?;
    }
    Ok(())
}

/// Cgroup writes held back by `Cgroup::apply_before_init`: (file, value,
/// spec field); for the systemd driver, the cgroup and all its resources.
#[derive(Default)]
pub struct Deferred {
    writes: Vec<(PathBuf, String, &'static str)>,
    systemd: Option<(Saved, oci_spec::runtime::LinuxResources)>,
}

impl Deferred {
    pub fn finish(self) -> Result<()> {
        if let Some((cg, r)) = &self.systemd {
            return systemd::finish(&Cgroup::open(cg), r);
        }
        for (f, value, field) in self.writes {
            write_file(&open_file(&f, field)?, &f, &value, field)?;
        }
        Ok(())
    }
}
