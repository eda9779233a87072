//! The seam between the commands and a cgroup driver. The cgroupfs
//! driver (`Fs`, for v1, hybrid and v2 hosts) implements it; the systemd
//! driver (`systemd::Scope`) is one more implementation, and `Cgroup`
//! hands each call to its cgroup's. Callers use only these operations,
//! plus `open_v2`/`enter_v1` (born in the cgroup at clone) and the
//! directories in `Paths` (the container's cgroup mount, stats). An
//! implementation must not add syscalls to `create` beyond what the
//! placement needs: it is on every `run`.

use super::Deferred;
use crate::error::Result;
use oci_spec::runtime::LinuxResources;

pub trait Manager {
    /// Makes the container's cgroup; true when it is new (none of it was
    /// there before), so limits and devices are the container's own.
    fn create(&self) -> Result<bool>;
    /// Applies linux.resources (update): all checked before one write.
    fn apply(&self, r: &LinuxResources) -> Result<()>;
    /// `apply` at create, before the init exists; what must wait for the
    /// init to be inside (the pids limit) is returned to finish then.
    fn apply_before_init(&self, r: &LinuxResources) -> Result<Deferred>;
    /// Places `pid`, unless the clone already put it in the v1 hierarchies
    /// (`in_v1_already`) or in the cgroup2 directory (`in_v2_already`).
    fn add_pid(&self, pid: i32, in_v1_already: bool, in_v2_already: bool) -> Result<()>;
    fn is_frozen(&self) -> bool;
    /// Freezes (`on`) or thaws every task, waiting until the kernel says so.
    fn freeze(&self, on: bool) -> Result<()>;
    /// Every pid in the container's cgroup.
    fn pids(&self) -> Vec<i32>;
    /// Sends `sig` to every task of the cgroup.
    fn signal_all(&self, sig: i32);
    /// Removes what the driver made; `kill_all` first kills tasks left in
    /// a cgroup it did not make (no pid namespace of its own).
    fn destroy(&self, kill_all: bool) -> Result<()>;
}
