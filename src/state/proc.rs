//! Reading /proc/PID/stat: process state and start time.

use crate::error::{Ctx, Error, Result};

/// (state char, start time in clock ticks since boot) of `pid`; None when
/// it cannot be read (for `process_alive`, a process gone).
fn stat(pid: i32) -> Option<(u8, u64)> {
    let s = crate::sys::fd::read_small_bytes(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

fn parse_stat(s: &[u8]) -> Option<(u8, u64)> {
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let close = s.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(s.get(close + 2..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.as_bytes().first().copied()?;
    // starttime is field 22; `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The start time of `pid`, which the state records: without it the
/// container could not be told from a later process reusing its pid.
pub fn start_time(pid: i32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let s = crate::sys::fd::read_small_bytes(&path).ctx(|| format!("read {path}"))?;
    parse_stat(&s)
        .map(|(_, t)| t)
        .ok_or_else(|| Error::invalid(format!("{path}: no start time field")))
}

/// True when `pid` exists, is not a zombie, and is the process that
/// started at `start` (not a later process that reused the pid).
pub fn process_alive(pid: i32, start: u64) -> bool {
    // kill(pid, 0) answers ESRCH for a gone pid without a /proc path walk:
    // `list` asks this of every container, and most listed ones are gone.
    // Any other answer (alive, or EPERM for a process of another user)
    // still needs the start time, since pids are reused.
    let gone = || {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
    };
    pid > 0
        && !gone()
        && matches!(stat(pid), Some((st, t)) if t == start && st != b'Z' && st != b'X')
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_is_alive() {
        let pid = std::process::id() as i32;
        let t = super::start_time(pid).expect("own stat");
        assert!(super::process_alive(pid, t));
        assert!(!super::process_alive(pid, t + 1));
    }

    #[test]
    fn comm_with_parentheses() {
        let fields: Vec<String> = (4..22).map(|n| n.to_string()).collect();
        let line = format!("1 (a) b) S {} 777 0 0\n", fields.join(" "));
        assert_eq!(super::parse_stat(line.as_bytes()), Some((b'S', 777)));
        assert_eq!(super::parse_stat(b"1 (a)"), None);
    }
}
