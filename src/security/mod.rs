//! What the container process is allowed: capabilities, rlimits, user ids,
//! no_new_privs. Applied in the container process, in that order, last
//! before execve.

pub mod caps;
pub mod lsm;
pub mod rlimits;
pub mod seccomp;
pub mod user;
