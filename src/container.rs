//! A container's live status: the recorded one, corrected by what is true
//! now. The lifecycle rules are `Status`'s own (state/status.rs).

use crate::cgroups::Manager;
use crate::state::{self, State};
use std::path::Path;

pub use crate::state::Status;

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
