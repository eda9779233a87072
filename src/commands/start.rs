//! `start`: open the gate the created init waits at.

use super::Global;
use crate::container::{self, Status};
use crate::error::{Ctx, Error, Result};
use crate::state::{self, START_ACK, START_SOCKET};
use std::io::Read;

pub fn run(g: &Global, id: &str) -> Result<i32> {
    let locked = state::lock(&g.root, id)?;
    let mut st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    container::status(&st, &locked.dir).check_start()?;
    if state::config_has_process(&g.root, id)? == Some(false) {
        // config.md: process is REQUIRED when start is called. The init
        // waiting at the gate has nothing to run: stop it (one already
        // gone is as good; the error below is the one to report).
        let _ = super::kill::signal_init(st.pid, st.start_time, libc::SIGKILL);
        return Err(Error::invalid(format!(
            "cannot start container {id}: config.json has no process (REQUIRED for start); the container is stopped"
        )));
    }
    let relay = crate::process::notify::Relay::bind(&locked, st.pid)?;
    let mut conn = crate::sys::fd::connect_unix(locked.dirfd(), START_SOCKET).map_err(|e| {
        Error::Status(format!(
            "cannot start container {id}: its init process is gone ({})",
            e
        ))
    })?;
    // From here the container counts as started, whatever happens to us.
    let sock = locked.dir.join(START_SOCKET);
    std::fs::remove_file(&sock).ctx(|| format!("remove {}", sock.display()))?;
    // The init acknowledges the connection, then closes it by exec'ing
    // (close-on-exec); anything it wrote in between is an error. No
    // acknowledgement: it died at the gate (killed before or while we
    // connected).
    let mut buf = Vec::new();
    let read = conn.read_to_end(&mut buf);
    let Some((&START_ACK, rest)) = buf.split_first().filter(|_| read.is_ok()) else {
        return Err(Error::Status(format!(
            "cannot start container {id}: its init process died before start"
        )));
    };
    let msg = String::from_utf8_lossy(rest).into_owned();
    if !msg.is_empty() {
        // A failed startContainer hook (or execve): runtime.md says stop
        // the container and destroy it (poststop hooks included).
        super::delete::destroy_after_failure(locked, &st);
        return Err(Error::Child { errno: 0, msg });
    }
    st.status = Status::Running;
    locked.write(&st)?;
    if let Err(e) = poststart(&st) {
        super::delete::destroy_after_failure(locked, &st);
        return Err(e);
    }
    if let Some(r) = relay {
        // Unlocked: `kill` and `delete` must work while the service starts.
        drop(locked);
        r.wait()?;
    }
    Ok(0)
}

/// poststart hooks, after the payload started. A failure is an error and
/// the caller destroys the container (runtime.md lifecycle step 9).
pub fn poststart(st: &crate::state::State) -> Result<()> {
    let Some(h) = &st.hooks else { return Ok(()) };
    let doc = super::state::document(st, Status::Running).to_string();
    crate::hooks::run(
        "poststart",
        h.poststart().as_deref().unwrap_or_default(),
        &doc,
    )
}
