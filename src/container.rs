//! A container's live status: the recorded one, corrected by what is true
//! now. The lifecycle rules are `Status`'s own (state/status.rs).

use crate::cgroups::{Cgroup, Manager};
use crate::state::{self, State};
use std::os::fd::BorrowedFd;
use std::path::Path;

pub use crate::state::Status;

/// `status` from a `Summary`: the full state (for the cgroup's freezer) is
/// read from `root` only when the init still lives. None when it can no
/// longer be read (deleted meanwhile): `list` then leaves the container
/// out, as it does one whose state.json is gone.
pub fn listed_status(s: &state::Summary, root: BorrowedFd, dir: &Path) -> Option<Status> {
    let alive = state::process_alive(s.pid, s.start_time);
    let mut readable = true;
    let status = s.status.live(
        alive,
        s.pid,
        || dir.join(state::START_SOCKET).exists(),
        || match state::load_at(root, &s.id) {
            Ok(st) => Cgroup::open(&st.cgroup).is_frozen(),
            Err(_) => {
                readable = false;
                false
            }
        },
    );
    readable.then_some(status)
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
        || Cgroup::open(&st.cgroup).is_frozen(),
    )
}
