//! A container's status: the lowercase strings of state.json and of the
//! `state` document (runtime.md "state"), and the lifecycle rules that
//! follow from it. Re-exported as `container::Status`, which derives the
//! live status from the recorded one.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

    /// The live status of a container recorded as `self`: its init is
    /// `alive` (same pid and start time), `pid` is 0 until the clone,
    /// `gate_open` tells whether the start socket still exists and
    /// `frozen` whether its cgroup is. The closures run only when needed.
    pub fn live(
        self,
        alive: bool,
        pid: i32,
        gate_open: impl FnOnce() -> bool,
        frozen: impl FnOnce() -> bool,
    ) -> Status {
        match self {
            Status::Creating if alive || pid == 0 => Status::Creating,
            Status::Created | Status::Running if alive => {
                if gate_open() {
                    Status::Created
                } else if frozen() {
                    Status::Paused
                } else {
                    Status::Running
                }
            }
            // Recorded as paused or stopped (strata records neither), or
            // its init is gone.
            _ => Status::Stopped,
        }
    }

    /// The runtime spec: kill needs created or running (runc: paused too).
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }

    /// start needs created; the error says why not (runc's wording).
    pub fn check_start(self) -> Result<()> {
        let why = match self {
            Status::Created => return Ok(()),
            Status::Stopped => "cannot start a container that has stopped",
            Status::Running | Status::Paused => "cannot start an already running container",
            Status::Creating => "cannot start a container that is still being created",
        };
        Err(Error::Status(why.into()))
    }

    /// delete without --force: stopped, or created (runc kills a created
    /// container on delete, and containerd's shim relies on that).
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    const ALL: [Status; 5] = [Creating, Created, Running, Paused, Stopped];

    #[test]
    fn state_json_strings() {
        for s in ALL {
            let json = serde_json::to_string(&s).expect("encode");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            let back: Status = serde_json::from_str(&json).expect("decode");
            assert_eq!(back, s);
        }
        assert!(serde_json::from_str::<Status>("\"Running\"").is_err());
    }

    #[test]
    fn lifecycle_rules() {
        let start: Vec<_> = ALL.iter().map(|s| s.check_start().is_ok()).collect();
        assert_eq!(start, [false, true, false, false, false]);
        let kill: Vec<_> = ALL.iter().map(|s| s.can_kill()).collect();
        assert_eq!(kill, [false, true, true, true, false]);
        let delete: Vec<_> = ALL.iter().map(|s| s.can_delete()).collect();
        assert_eq!(delete, [false, true, false, false, true]);
        let msg = Running.check_start().expect_err("running").to_string();
        assert_eq!(msg, "cannot start an already running container");
    }

    #[test]
    fn live_status() {
        let no = || false;
        let yes = || true;
        // Before the clone (pid 0) a creating container is creating.
        assert_eq!(Creating.live(false, 0, no, no), Creating);
        assert_eq!(Creating.live(true, 7, no, no), Creating);
        // Its init died before create finished.
        assert_eq!(Creating.live(false, 7, no, no), Stopped);
        // Waiting at the gate; started; frozen.
        assert_eq!(Created.live(true, 7, yes, no), Created);
        assert_eq!(Created.live(true, 7, no, no), Running);
        assert_eq!(Running.live(true, 7, no, yes), Paused);
        assert_eq!(Running.live(true, 7, yes, yes), Created);
        // Gone, whatever was recorded.
        for s in ALL {
            assert_eq!(s.live(false, 7, yes, yes), Stopped, "{s:?}");
        }
        // Recorded paused or stopped never reads as live.
        assert_eq!(Paused.live(true, 7, no, no), Stopped);
        assert_eq!(Stopped.live(true, 7, no, no), Stopped);
    }
}
