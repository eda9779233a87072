//! `run`: create + start in one process; in the foreground it also waits,
//! forwards signals, and deletes the container when it exits.

use super::create;
use super::Global;
use crate::cli::CreateArgs;
use crate::container::Status;
use crate::error::{Error, Result};
use crate::process::channel::Msg;
use crate::state;
use crate::sys::{self, clone};

/// Signals a foreground `run` passes on to the container.
const FORWARD: [i32; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

pub fn run(g: &Global, o: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    // Block SIGCHLD (and what we forward) before the clone: an init that
    // exits at once still leaves its SIGCHLD pending for sigwaitinfo, so it
    // can never be lost. The child restores an empty mask before execve.
    let mut wait_set: Vec<i32> = FORWARD.to_vec();
    wait_set.push(libc::SIGCHLD);
    let set = sys::sigset(&wait_set);
    if !detach {
        sys::sigmask(libc::SIG_BLOCK, &set).map_err(|e| Error::sys("sigprocmask", e))?;
    }
    let mut c = create::create(g, o, true, !detach)?;
    // Before `Start`: the caller's terminal is raw, and the pty has its
    // size, before the container's first read.
    let tty = match c.tty.take().map(|p| p.attach()).transpose() {
        Ok(t) => t,
        Err(e) => {
            super::delete::destroy_after_failure(c.locked, &c.state);
            return Err(e);
        }
    };
    let mut relay = None;
    let start = (|| {
        relay = crate::process::notify::Relay::bind(&c.locked, c.pid)?;
        c.chan.send(&Msg::Start)?;
        match c.chan.recv()? {
            None => Ok(()),
            Some((Msg::Error { errno, msg }, _)) => Err(Error::Child { errno, msg }),
            Some((m, _)) => Err(Error::invalid(format!("protocol error: unexpected {m:?}"))),
        }
    })();
    if let Err(e) = start {
        super::delete::destroy_after_failure(c.locked, &c.state);
        return Err(e);
    }
    // No state write: with no start socket the live status reads running.
    if let Err(e) = super::start::poststart(&c.state) {
        super::delete::destroy_after_failure(c.locked, &c.state);
        return Err(e);
    }
    // Let `kill`, `state` and `delete` in while the container runs; the
    // directory stays open for the relock below.
    c.locked.unlock()?;
    if let Some(r) = relay {
        if let Err(e) = r.wait() {
            drop(c.locked);
            // Like a failed poststart hook: `run` leaves nothing behind.
            if let Ok(l) = state::lock(&g.root, &o.id) {
                if let Ok(Some(st)) = l.read() {
                    super::delete::destroy_after_failure(l, &st);
                }
            }
            return Err(e);
        }
    }
    if detach {
        return Ok(0);
    }
    let code = match tty {
        Some(t) => t.relay(c.pid, &set)?,
        None => wait_init(c.pid, &set)?,
    };
    // Unless a `delete` came first: the init is reaped, so the container is
    // stopped, and its state is the one in memory (only create and start
    // write state.json, and start refuses a container made by run).
    if !keep && c.locked.relock()? {
        super::delete::destroy_as(c.locked, &c.state, Status::Stopped)?;
    }
    Ok(code)
}

/// Waits for `pid` (our child), forwarding the blocked signals in `set`
/// to it; returns its shell-style exit code.
pub fn wait_init(pid: i32, set: &libc::sigset_t) -> Result<i32> {
    loop {
        // Reap first: SIGCHLD may have been consumed for an earlier child.
        loop {
            match clone::waitpid(-1, libc::WNOHANG) {
                Ok((0, _)) => break,
                Ok((p, status)) if p == pid => return Ok(clone::exit_code(status)),
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(255),
                Err(e) => return Err(Error::sys("waitpid", e)),
            }
        }
        let (sig, _) = sys::sigwaitinfo(set).map_err(|e| Error::sys("sigwaitinfo", e))?;
        // Forwarded; ESRCH is a container that just exited, reaped above.
        if sig != libc::SIGCHLD {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::try_from(sig).ok(),
            );
        }
    }
}
