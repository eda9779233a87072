//! Starting the container process.
//!
//! One clone3 (with CLONE_INTO_CGROUP and every new namespace) when that is
//! enough; otherwise the child joins namespaces itself and forks once more
//! for a pid or time namespace. The protocol, in order:
//!
//! | step | parent (runtime)                         | child (container process)                     |
//! |------|------------------------------------------|-----------------------------------------------|
//! | 1    | open ns paths, cgroup fd; clone3         | PDEATHSIG, non-dumpable; wait `Go`            |
//! | 2    | v1 cgroup.procs; id maps if cloned userns; send `Go` | join ns (non-user first), user ns  |
//! | 3    | on `MapsRequest`: write maps, `MapsDone` | unshare the rest; fork if pid/time ns; `Pid`  |
//! | 4    | on `Pid`: reap intermediate              | cgroupns, rootfs, pivot, hostname, user, caps |
//! | 5    | on `Ready`: record state                 | send `Ready`; wait at the gate                |
//! | 6    | `start` connects to start.sock / `run` sends `Start` | close fds, execve; errors go back the same way |
//!
//! Any failure in the child crosses as `Error { errno, msg }` and is what
//! the user sees.

pub mod attrs;
pub mod channel;
mod console;
pub mod cpus;
mod exec_path;
pub mod init;
pub mod notify;
pub mod readonly_exe;
pub mod relay;
mod sched;
pub mod spawn;
