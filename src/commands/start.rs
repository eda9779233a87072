//! `start`: open the gate the created init waits at.

use super::Global;
use crate::container::{self, Status};
use crate::error::{Ctx, Error, Result};
use crate::state::{self, START_SOCKET};
use std::io::Read;

pub fn run(g: &Global, id: &str) -> Result<i32> {
    let locked = state::lock(&g.root, id)?;
    let mut st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    match container::status(&st, &locked.dir) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Status(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running | Status::Paused => {
            return Err(Error::Status(
                "cannot start an already running container".into(),
            ))
        }
        Status::Creating => {
            return Err(Error::Status(
                "cannot start a container that is still being created".into(),
            ))
        }
    }
    let mut conn = crate::sys::fd::connect_unix(locked.dirfd(), START_SOCKET).map_err(|e| {
        Error::Status(format!(
            "cannot start container {id}: its init process is gone ({})",
            e
        ))
    })?;
    // From here the container counts as started, whatever happens to us.
    let sock = locked.dir.join(START_SOCKET);
    std::fs::remove_file(&sock).ctx(|| format!("remove {}", sock.display()))?;
    // The init closes the connection by exec'ing (close-on-exec); anything
    // it wrote before is an error from execve.
    let mut msg = String::new();
    conn.read_to_string(&mut msg)
        .ctx(|| "read the start result")?;
    if !msg.is_empty() {
        return Err(Error::Child { errno: 0, msg });
    }
    st.status = "running".into();
    locked.write(&st)?;
    poststart(&st);
    Ok(0)
}

/// poststart hooks: after the payload started; failures only warn.
pub fn poststart(st: &crate::state::State) {
    if let Some(h) = &st.hooks {
        let doc = super::state::document(st, Status::Running).to_string();
        crate::hooks::run_warn(
            "poststart",
            h.poststart().as_deref().unwrap_or_default(),
            &doc,
        );
    }
}
