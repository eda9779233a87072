//! `delete [--force]`: remove a stopped (or created) container; with
//! --force, kill a running one first. Idempotent for half-made containers.

use super::Global;
use crate::cgroups::{Cgroup, Manager};
use crate::container::{self, Status};
use crate::error::{Error, Result};
use crate::state::{self, Locked, State};
use std::time::{Duration, Instant};

pub fn run(g: &Global, id: &str, force: bool) -> Result<i32> {
    let locked = match state::lock(&g.root, id) {
        Ok(l) => l,
        Err(Error::NotExist(_)) if force => return Ok(0),
        Err(e) => return Err(e),
    };
    let Some(st) = locked.read()? else {
        // A create killed before its first state write: nothing but the dir.
        locked.remove()?;
        return Ok(0);
    };
    let status = container::status(&st, &locked.dir);
    if !force && !status.can_delete() {
        return Err(Error::Status(format!(
            "cannot delete container {id} that is not stopped: {}",
            status.as_str()
        )));
    }
    destroy_as(locked, &st, status)?;
    Ok(0)
}

/// Kills whatever still runs, removes the cgroup and the state directory.
pub fn destroy(locked: Locked, st: &State) -> Result<()> {
    let status = container::status(st, &locked.dir);
    destroy_as(locked, st, status)
}

/// `destroy` on the way out of a command that failed: the command's own
/// error is the one returned, so a failure here is logged, not lost.
pub fn destroy_after_failure(locked: Locked, st: &State) {
    if let Err(e) = destroy(locked, st) {
        tracing::warn!("destroy container {} after the failure: {e}", st.id);
    }
}

/// `destroy` for a caller that knows the live status already (delete
/// computed it under the lock; `run` reaped the init).
pub fn destroy_as(locked: Locked, st: &State, status: Status) -> Result<()> {
    let cgroup = Cgroup::open(&st.cgroup);
    if status != Status::Stopped && st.pid > 0 {
        let _ = super::kill::signal_init(st.pid, st.start_time, libc::SIGKILL);
        // With a pid namespace of its own, the init's death takes every
        // container process with it; anything else in the cgroup is not
        // the container's to kill (runc 1.1 kills only the init too).
        if !st.own_pid_ns {
            cgroup.signal_all(libc::SIGKILL);
        }
        // A frozen task only dies once thawed (delete --force of a paused
        // container).
        if status == Status::Paused {
            let _ = cgroup.freeze(false);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while state::process_alive(st.pid, st.start_time) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    } else if st.pid <= 0 {
        // A create killed before it recorded the init: that init dies with
        // it (PDEATHSIG), but under load it may still be exiting, and its
        // cgroup cannot go before it has.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cgroup.pids().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // A cgroup someone else's process still holds stays, and the
    // container is deleted all the same (runc 1.1: logged, exit 0): the
    // caller cannot do better by retrying.
    if let Err(e) = cgroup.destroy(!st.own_pid_ns) {
        tracing::warn!("delete {}: cgroup left in place: {e}", st.id);
    }
    locked.remove()?;
    poststop(st);
    Ok(())
}

/// The poststop hooks, given the state as `stopped` (also for a create that
/// failed after its hooks began); failures are warnings.
pub fn poststop(st: &State) {
    if let Some(h) = &st.hooks {
        let doc = super::state::document(st, Status::Stopped).to_string();
        crate::hooks::run_warn(
            "poststop",
            h.poststop().as_deref().unwrap_or_default(),
            &doc,
        );
    }
}
