//! OCI hooks: run with the state JSON on stdin, in their own process
//! group, killed with that group when `timeout` expires (never waiting on
//! a pipe a hung hook's children could hold open).

use crate::error::{Error, Result};
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

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

/// Runs `hooks` in order; the first failure is the error.
pub fn run(name: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for h in hooks {
        run_one(h, state)
            .map_err(|e| Error::invalid(format!("{name} hook {}: {e}", h.path().display())))?;
    }
    Ok(())
}

/// Runs `hooks`; failures are logged and the rest still run (poststart,
/// poststop: the spec says warn and continue).
pub fn run_warn(name: &str, hooks: &[Hook], state: &str) {
    for h in hooks {
        if let Err(e) = run_one(h, state) {
            tracing::warn!("{name} hook {}: {e}", h.path().display());
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
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state.as_bytes());
    }
    let pid = child.id() as i32;
    if let Some(secs) = h.timeout() {
        let fd = crate::sys::pidfd::open(pid).map_err(|e| format!("pidfd_open: {e}"))?;
        let ready =
            crate::sys::pidfd::poll_readable(&[fd.as_raw_fd()], (secs as i32).saturating_mul(1000))
                .map_err(|e| format!("poll: {e}"))?;
        if !ready[0] {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            return Err(format!("timed out after {secs}s"));
        }
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if !status.success() {
        return Err(format!("failed: {status}"));
    }
    Ok(())
}
