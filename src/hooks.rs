//! OCI hooks: run with the state JSON on stdin, in their own process
//! group, killed with that group when `timeout` expires (never waiting on
//! a pipe a hung hook's children could hold open).

use crate::error::{Error, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn validate(spec: &Spec) -> Result<()> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    for (name, list) in all(h) {
        for hook in list {
            if !hook.path().is_absolute() {
                return Err(Error::invalid(format!(
                    "hooks.{name}: path {:?} must be absolute",
                    hook.path()
                )));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::invalid(format!(
                    "hooks.{name}: {}: timeout must be greater than zero",
                    hook.path().display()
                )));
            }
        }
    }
    Ok(())
}

fn all(h: &Hooks) -> Vec<(&'static str, &[Hook])> {
    vec![
        ("prestart", h.prestart().as_deref().unwrap_or_default()),
        (
            "createRuntime",
            h.create_runtime().as_deref().unwrap_or_default(),
        ),
        (
            "createContainer",
            h.create_container().as_deref().unwrap_or_default(),
        ),
        (
            "startContainer",
            h.start_container().as_deref().unwrap_or_default(),
        ),
        ("poststart", h.poststart().as_deref().unwrap_or_default()),
        ("poststop", h.poststop().as_deref().unwrap_or_default()),
    ]
}

/// The runtime's hooks once the namespaces exist, before the container's
/// process runs (lifecycle steps 3 and 4): prestart, then createRuntime.
pub fn run_created(h: &oci_spec::runtime::Hooks, state: &str) -> Result<()> {
    run(
        "prestart",
        h.prestart().as_deref().unwrap_or_default(),
        state,
    )?;
    run(
        "createRuntime",
        h.create_runtime().as_deref().unwrap_or_default(),
        state,
    )
}

/// Runs `hooks` in order; the first failure is the error, worded as
/// runc's (`error running prestart hook #0: ...`), which callers match.
pub fn run(name: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|e| {
            Error::invalid(format!(
                "error running {name} hook #{i}: {}: {e}",
                h.path().display()
            ))
        })?;
    }
    Ok(())
}

/// Runs `hooks`; failures are logged and the rest still run (poststop:
/// the spec says warn and continue).
pub fn run_warn(name: &str, hooks: &[Hook], state: &str) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state) {
            tracing::warn!(
                "error running {name} hook #{i}: {}: {e}",
                h.path().display()
            );
        }
    }
}

fn run_one(h: &Hook, state: &str) -> std::result::Result<(), String> {
    let args = h.args().as_deref().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
        cmd.args(&args[1..]);
    }
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start: {}", crate::error::errstr(&e)))?;
    let pid = child.id() as i32;
    // On an error path, best effort: the hook's error is the one reported,
    // and the kill and the wait below only make sure nothing is left.
    let killpg = || {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    };
    let pidfd = match crate::sys::pidfd::open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            killpg();
            let _ = child.wait();
            return Err(format!("pidfd_open: {e}"));
        }
    };
    let deadline = h
        .timeout()
        .map(|secs| Instant::now() + Duration::from_secs(secs.max(0) as u64));
    // The state is written without blocking, within the timeout: a hook
    // that never reads its stdin would otherwise hold us forever once the
    // state outgrows the pipe (64 KiB, big annotations).
    let mut stdin = child.stdin.take();
    if let Some(s) = &stdin {
        nix::fcntl::fcntl(
            s,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| format!("fcntl O_NONBLOCK on the hook's stdin: {e}"))?;
    }
    let mut rest = state.as_bytes();
    loop {
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
            }
        };
        let (exited, writable) = {
            let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            if let Some(s) = &stdin {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
            }
            match nix::poll::poll(&mut fds, wait) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    killpg();
                    let _ = child.wait();
                    return Err(format!("poll: {e}"));
                }
                Ok(_) => {}
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds.get(1).is_some_and(ready))
        };
        if exited {
            break;
        }
        if writable {
            if let Some(s) = stdin.as_mut() {
                match s.write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    // A hook that closed its stdin is fine (EPIPE).
                    Err(_) => rest = &[],
                }
            }
            if rest.is_empty() {
                stdin = None; // EOF for the hook
            }
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            killpg();
            let _ = child.wait();
            return Err(format!(
                "timed out after {}s",
                h.timeout().unwrap_or_default()
            ));
        }
    }
    drop(stdin);
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!("{status}"));
    }
    Ok(())
}
