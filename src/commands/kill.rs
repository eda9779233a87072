//! `kill [--all] ID [SIGNAL]`: signal the init through a pidfd, or every
//! process in the container's cgroup.

use super::Global;
use crate::cgroups::{Cgroup, Manager};
use crate::container;
use crate::error::{Ctx, Error, Result};
use crate::state;

/// "9", "KILL", "SIGKILL", "sigkill" -> 9.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::invalid(format!("invalid signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| Error::invalid(format!("unknown signal {s:?}")))
}

pub fn run(g: &Global, id: &str, signal: Option<&str>, all: bool) -> Result<i32> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    let locked = state::lock(&g.root, id)?;
    let st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    let status = container::status(&st, &locked.dir);
    if all {
        Cgroup::open(&st.cgroup).signal_all(sig);
        return Ok(0);
    }
    if !status.can_kill() {
        return Err(Error::Status("container not running".into()));
    }
    signal_init(st.pid, st.start_time, sig)?;
    Ok(0)
}

/// Opens a pidfd, then checks the start time: if the pid was reused in
/// between, the pidfd points at the impostor and we do not signal it.
pub fn signal_init(pid: i32, start_time: u64, sig: i32) -> Result<()> {
    let fd = match crate::sys::pidfd::open(pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::Status("container not running".into()))
        }
        Err(e) => return Err(Error::sys(format!("pidfd_open {pid}"), e)),
    };
    if !state::process_alive(pid, start_time) {
        return Err(Error::Status("container not running".into()));
    }
    crate::sys::pidfd::send_signal(&fd, sig).ctx(|| format!("signal {sig} to pid {pid}"))
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert_eq!(parse_signal("KILL").ok(), Some(9));
        assert_eq!(parse_signal("SIGKILL").ok(), Some(9));
        assert_eq!(parse_signal("term").ok(), Some(15));
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
    }
}
