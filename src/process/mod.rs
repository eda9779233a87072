//! Starting the container process.
//!
//! One clone3 (with CLONE_INTO_CGROUP and every new namespace) when that is
//! enough; otherwise the child joins namespaces itself and forks once more
//! for a pid or time namespace (`exec`'s parent enters a joined pid
//! namespace itself, so its child need not). The protocol between the runtime, the
//! child and the init, message by message, and the start gate's: the
//! "Parent/child protocol" section of docs/architecture.md (the one table,
//! kept to the code of spawn.rs and init.rs).

pub mod attrs;
pub mod channel;
mod console;
pub mod cpus;
mod exec_path;
pub mod init;
pub mod notify;
pub mod readonly_exe;
pub mod relay;
pub mod request;
mod sched;
pub mod spawn;
