//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient unit that systemd makes, a scope (or a slice) with
//! Delegate=yes, started over D-Bus with the init as its process. Limits
//! systemd knows become unit properties; every limit is also written to
//! the unit's cgroup files as the cgroupfs driver writes them (runc does
//! both), and freeze, pids and signals work on that directory as on any
//! cgroup. cgroup v2 only. A rootless caller's units are its user
//! manager's (systemd --user), in the cgroup delegated to it, as runc's.

mod bus;
pub mod name;
pub mod props;
mod wire;

use super::Cgroup;
use crate::error::{Error, Result};
use bus::{Bus, Manager};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};

/// The unit holding a container's cgroup, as the state file keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Unit {
    pub name: String,
    /// Its Slice= (Wants= for a slice unit).
    pub slice: String,
    /// The unit is the user manager's (a rootless caller's), not pid 1's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

/// The unit as a command works on it: the saved `Unit`, and in the
/// `create` that makes it, the start still to come. A unit opened from
/// the state is started.
#[derive(Debug, Default)]
pub struct LiveUnit {
    unit: Unit,
    /// `create` ran and the unit is not started yet: it starts when the
    /// init is there to be its process (`add_pid`).
    starting: Cell<bool>,
    /// linux.resources from create, for the unit's properties at start.
    pending: RefCell<Option<LinuxResources>>,
}

impl LiveUnit {
    pub fn new(unit: Unit) -> LiveUnit {
        LiveUnit {
            unit,
            ..Default::default()
        }
    }

    /// What the state keeps of it.
    pub fn saved(&self) -> &Unit {
        &self.unit
    }

    /// The cgroup does not exist yet: the init must not be cloned into it.
    pub fn starting(&self) -> bool {
        self.starting.get()
    }
}

impl std::ops::Deref for LiveUnit {
    type Target = Unit;
    fn deref(&self) -> &Unit {
        &self.unit
    }
}

impl Unit {
    fn bus(&self) -> Result<Bus> {
        Bus::connect(if self.user {
            Manager::User
        } else {
            Manager::System
        })
    }
}

/// The cgroup of the unit that `cgroups_path` names, on this pure
/// cgroup v2 host: pid 1's unit for root, the user manager's for a
/// rootless caller (its path is below the manager's own cgroup).
pub fn resolve(cgroups_path: Option<&std::path::Path>, id: &str) -> Result<Cgroup> {
    let user = crate::rootless::active();
    let raw = cgroups_path.map(|p| p.to_string_lossy());
    let place = name::parse(raw.as_deref(), id, user)?;
    let layout = super::Layout::detect()?;
    let v2 = match (&layout.v2, layout.v1.is_empty()) {
        (Some(h), true) => h.mount.clone(),
        _ => {
            return Err(Error::invalid(
                "--systemd-cgroup: the systemd cgroup driver needs a pure cgroup v2 host (the unified hierarchy only)",
            ))
        }
    };
    let path = if user {
        // Asked of the manager now: where its slices are is its own cgroup.
        let base = Bus::connect(Manager::User)?.manager_cgroup()?;
        format!("{}{}", base.trim_end_matches('/'), place.path)
    } else {
        place.path.clone()
    };
    let dir = v2.join(path.trim_start_matches('/'));
    Ok(Cgroup {
        paths: super::Paths {
            path,
            v2: Some(dir),
            v2_mount: Some(v2),
            ..Default::default()
        },
        made: vec![Cell::new(true)],
        unit: Some(LiveUnit::new(Unit {
            name: place.unit,
            slice: place.slice,
            user,
        })),
        ..Default::default()
    })
}

pub use driver::{finish, Scope};

mod driver {
    use super::props::{self, Prop, Val};
    use super::{LiveUnit, Unit};
    use crate::cgroups::{Cgroup, Deferred, Fs, Manager};
    use crate::error::Result;
    use oci_spec::runtime::LinuxResources;

    /// A cgroup whose unit systemd holds.
    pub struct Scope<'a> {
        pub cg: &'a Cgroup,
        pub unit: &'a LiveUnit,
    }

    /// /proc/devices, a seq_file of one record per major.
    fn proc_devices() -> Result<String> {
        crate::sys::fd::read_records("/proc/devices")
            .map_err(|e| crate::error::Error::sys("read /proc/devices", e))
    }

    /// The unit's properties at start: runc's (Delegate, accounting on,
    /// no default dependencies) and the limits systemd knows.
    fn start_props(u: &Unit, pid: i32, r: Option<&LinuxResources>) -> Result<Vec<Prop>> {
        let mut p: Vec<Prop> = vec![(
            "Description",
            Val::Str(format!("strata container {}", u.name)),
        )];
        if u.name.ends_with(".slice") {
            p.push(("Wants", Val::Strs(vec![u.slice.clone()])));
        } else {
            p.push(("Slice", Val::Str(u.slice.clone())));
            p.push(("Delegate", Val::Bool(true)));
            p.push(("PIDs", Val::U32s(vec![pid as u32])));
        }
        for a in [
            "MemoryAccounting",
            "CPUAccounting",
            "IOAccounting",
            "TasksAccounting",
        ] {
            p.push((a, Val::Bool(true)));
        }
        p.push(("DefaultDependencies", Val::Bool(false)));
        if let Some(r) = r {
            p.extend(props::resources(r, Some(&proc_devices()?))?);
        }
        // No pids limit given: none, as with the cgroupfs driver, not
        // systemd's DefaultTasksMax (15% of pid_max), which runc leaves.
        // A limit given is set once the init is in the unit (`finish`).
        if r.and_then(|r| r.pids().as_ref()).is_none() {
            p.push(("TasksMax", Val::U64(u64::MAX)));
        }
        Ok(p)
    }

    /// An update with a CPU period and no quota (Docker's `update` sends
    /// quota 0 for "unchanged") gets the quota in force, from cpu.max:
    /// systemd given the period alone writes its own idea of the quota
    /// with it, which undid an earlier `--cpus`.
    fn with_current_quota(cg: &Cgroup, r: &LinuxResources) -> LinuxResources {
        let mut r = r.clone();
        let Some(cpu) = r.cpu().clone() else {
            return r;
        };
        if cpu.quota().is_some_and(|q| q != 0) || cpu.period().is_none_or(|p| p == 0) {
            return r;
        }
        let current = cg
            .paths
            .v2
            .as_ref()
            .and_then(|d| crate::sys::fd::read_small(d.join("cpu.max")).ok())
            .and_then(|m| {
                m.split_whitespace()
                    .next()
                    .and_then(|q| q.parse::<i64>().ok())
            });
        if let Some(q) = current {
            let mut cpu = cpu;
            cpu.set_quota(Some(q));
            r.set_cpu(Some(cpu));
        }
        r
    }

    /// What `Deferred::finish` does for this driver once the init is in
    /// the unit: the pids limit, then every cgroup file.
    pub fn finish(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
        if let (Some(u), Some(t)) = (&cg.unit, props::tasks_max(r)) {
            u.bus()?.set(&u.name, &[t])?;
        }
        Fs(cg).apply(r)
    }

    impl Manager for Scope<'_> {
        /// Nothing to make: systemd makes the cgroup when the unit starts.
        fn create(&self) -> Result<bool> {
            self.unit.starting.set(true);
            Ok(false)
        }

        fn apply(&self, r: &LinuxResources) -> Result<()> {
            self.cg.check(r)?;
            let r = &with_current_quota(self.cg, r);
            let mut p = props::resources(r, Some(&proc_devices()?))?;
            p.extend(props::tasks_max(r));
            if !p.is_empty() {
                self.unit.bus()?.set(&self.unit.name, &p)?;
            }
            Fs(self.cg).apply(r)
        }

        /// Checks the properties now (a bad value fails before the init
        /// exists); all of it applies once the unit holds the init.
        fn apply_before_init(&self, r: &LinuxResources) -> Result<Deferred> {
            props::resources(r, None)?;
            *self.unit.pending.borrow_mut() = Some(r.clone());
            Ok(Deferred {
                systemd: Some((self.cg.saved(), r.clone())),
                ..Default::default()
            })
        }

        /// At create, starts the unit with `pid` as its process (a slice
        /// unit holds no PIDs: the pid is written to its cgroup). Later
        /// (`exec`) the pid joins the running unit's cgroup as with
        /// cgroupfs.
        fn add_pid(&self, pid: i32, in_v1: bool, in_v2: bool) -> Result<()> {
            if !self.unit.starting.replace(false) {
                let joined = Fs(self.cg).add_pid(pid, in_v1, in_v2);
                // Rootless exec from outside the manager's tree (a login
                // shell's session scope): the kernel refuses the move, the
                // manager can have it done.
                return match joined {
                    Err(e) if self.unit.user => self
                        .unit
                        .bus()?
                        .attach(&self.unit.name, pid)
                        .map_err(|a| crate::error::Error::invalid(format!("{e}; {a}"))),
                    r => r,
                };
            }
            let pending = self.unit.pending.borrow();
            let p = start_props(self.unit, pid, pending.as_ref())?;
            self.unit.bus()?.start(&self.unit.name, &p)?;
            if self.unit.name.ends_with(".slice") {
                return Fs(self.cg).add_pid(pid, in_v1, false);
            }
            Ok(())
        }

        fn is_frozen(&self) -> bool {
            Fs(self.cg).is_frozen()
        }
        fn freeze(&self, on: bool) -> Result<()> {
            Fs(self.cg).freeze(on)
        }
        fn pids(&self) -> Vec<i32> {
            Fs(self.cg).pids()
        }
        fn signal_all(&self, sig: i32) {
            Fs(self.cg).signal_all(sig)
        }

        /// Stops the unit (systemd removes its cgroup; an empty scope is
        /// gone already), then removes whatever directory is left.
        fn destroy(&self, kill_all: bool) -> Result<()> {
            if kill_all {
                self.signal_all(libc::SIGKILL);
                // As Fs::destroy: the killed die once thawed, and a failed
                // thaw shows as the cgroup that cannot be removed.
                if self.is_frozen() {
                    let _ = self.freeze(false);
                }
            }
            let stopped = self.unit.bus().and_then(|mut b| b.stop(&self.unit.name));
            let removed = Fs(self.cg).destroy(kill_all);
            stopped.and(removed)
        }
    }
}
