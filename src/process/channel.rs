//! Typed messages between the runtime (parent) and the container process
//! (child) over a SOCK_SEQPACKET socketpair: one message per packet, JSON
//! encoded, with fds attached by SCM_RIGHTS where a message carries one.

use crate::error::{Error, Result};
use crate::sys::fd;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, OwnedFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// parent -> child: cgroups are joined (and id maps written when the
    /// clone made the user namespace): go on.
    Go,
    /// child -> parent: I unshared a user namespace; write my id maps.
    MapsRequest,
    /// parent -> child: the maps are written.
    MapsDone,
    /// intermediate -> parent: the container's init, as a host pid (sent
    /// when a pid or time namespace needed a second fork).
    Pid(i32),
    /// child -> parent: mounts are done; run createRuntime/prestart hooks
    /// now (before pivot_root).
    Hooks,
    /// parent -> child: hooks ran; the state JSON for the container's own
    /// hooks.
    HooksDone(String),
    /// child -> parent: the seccomp notify fd (attached), for
    /// linux.seccomp.listenerPath.
    SeccompFd,
    /// child -> parent: set up; waiting to exec.
    Ready,
    /// parent -> child (`run`, `exec`): exec now.
    Start,
    /// child -> parent: the step that failed, with its errno.
    Error { errno: i32, msg: String },
}

pub struct Channel(pub OwnedFd);

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = fd::seqpacket_pair().map_err(|e| Error::sys("socketpair", e))?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, m: &Msg) -> Result<()> {
        self.send_fd(m, None)
    }

    pub fn send_fd(&self, m: &Msg, extra: Option<std::os::fd::RawFd>) -> Result<()> {
        let data =
            serde_json::to_vec(m).map_err(|e| Error::invalid(format!("encode message: {e}")))?;
        fd::send_with_fd(self.0.as_fd(), &data, extra)
            .map_err(|e| Error::sys("send to the container process", e))
    }

    /// Next message, or None when the other end is gone (EOF, or it exec'd:
    /// the socket is close-on-exec).
    pub fn recv(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = Vec::with_capacity(64 * 1024);
        let f = fd::recv_with_fd(self.0.as_fd(), &mut buf)
            .map_err(|e| Error::sys("receive from the container process", e))?;
        if buf.is_empty() {
            return Ok(None);
        }
        let m = serde_json::from_slice(&buf)
            .map_err(|e| Error::invalid(format!("decode message: {e}")))?;
        Ok(Some((m, f)))
    }

    /// Waits for exactly `want`; an Error message becomes the error.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some((m, _)) if m == want => Ok(()),
            Some((Msg::Error { errno, msg }, _)) => Err(Error::Child { errno, msg }),
            Some((m, _)) => Err(Error::invalid(format!(
                "protocol error: expected {want:?}, got {m:?}"
            ))),
            None => Err(Error::invalid(format!(
                "protocol error: expected {want:?}, the other side exited"
            ))),
        }
    }
}
