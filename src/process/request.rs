//! What the runtime asks of a new container process: read by `spawn`
//! (the parent's half) and by `init` (the child's), so neither module
//! depends on the other for it.

use crate::cgroups::Cgroup;
use crate::namespaces::Plan;
use crate::spec::Bundle;
use std::os::fd::OwnedFd;

/// How the container process learns it may exec.
pub enum Gate {
    /// `create`: it waits in accept() on this listening socket (start.sock).
    Socket(OwnedFd),
    /// `run`: the parent sends `Start` on the channel.
    Channel,
}

pub struct Request<'a> {
    pub bundle: &'a Bundle,
    pub ns: &'a Plan,
    pub cgroup: &'a Cgroup,
    pub gate: Gate,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The container id: names the session keyring init makes and exec joins.
    pub id: &'a str,
    pub console: Option<OwnedFd>,
    /// fds of the parent the child must not keep, such as the state
    /// directory's flock: held by a waiting init, it would block `start`.
    pub close_in_child: Vec<std::os::fd::RawFd>,
    /// linux.seccomp, compiled by the parent; the child loads it.
    pub seccomp: Option<crate::security::seccomp::Filter>,
    /// `exec`: join a running container; no rootfs, hostname or hooks.
    pub exec: bool,
    /// Image layers stacked on the rootfs (rootfs/layers.rs).
    pub layers: Option<crate::rootfs::layers::Layers>,
}
