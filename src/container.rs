//! A container's live status and the lifecycle rules that follow from it.

use crate::state::{self, State};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// The runtime spec: kill needs created or running.
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }

    /// start needs created.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    /// delete without --force: stopped, or created (runc kills a created
    /// container on delete, and containerd's shim relies on that).
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }
}

/// Derives the live status: the recorded one, corrected by whether the
/// init (same pid *and* same start time) still lives, and by whether the
/// start gate is still open.
pub fn status(st: &State, dir: &Path) -> Status {
    let alive = state::process_alive(st.pid, st.start_time);
    match st.status.as_str() {
        "creating" if alive || st.pid == 0 => Status::Creating,
        "created" | "running" if alive => {
            if dir.join(state::START_SOCKET).exists() {
                Status::Created
            } else if st.cgroup.is_frozen() {
                Status::Paused
            } else {
                Status::Running
            }
        }
        _ => Status::Stopped,
    }
}
