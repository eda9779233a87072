//! A container's live status: the recorded one, corrected by what is true
//! now. The lifecycle rules are `Status`'s own (state/status.rs).

use crate::cgroups::Manager;
use crate::state::{self, State};
use std::os::fd::BorrowedFd;
use std::path::Path;

pub use crate::state::Status;

/// `status` from a `Summary`: the full state (for the cgroup's freezer) is
/// read from `root` only when the init still lives. A container deleted
/// meanwhile counts as not frozen.
pub fn listed_status(s: &state::Summary, root: BorrowedFd, dir: &Path) -> Status {
    let alive = state::process_alive(s.pid, s.start_time);
    s.status.live(
        alive,
        s.pid,
        || dir.join(state::START_SOCKET).exists(),
        || state::load_at(root, &s.id).is_ok_and(|st| st.cgroup.is_frozen()),
    )
}

/// Derives the live status: the recorded one, corrected by whether the
/// init (same pid *and* same start time) still lives, and by whether the
/// start gate is still open.
pub fn status(st: &State, dir: &Path) -> Status {
    let alive = state::process_alive(st.pid, st.start_time);
    st.status.live(
        alive,
        st.pid,
        || dir.join(state::START_SOCKET).exists(),
        || st.cgroup.is_frozen(),
    )
}
