//! The criu process: `criu swrk FD`, CRIU's RPC over a SOCK_SEQPACKET
//! socketpair (one protobuf message per packet), as runc drives it. CRIU
//! opens the image and work directories through /proc/<strata>/fd/N (the
//! socket's peer), so only the socket and fds named by `inherit_fd` need
//! to be in criu's own fd table.

use super::rpc::{Req, ReqType, Resp};
use crate::error::{Ctx, Error, Result};
use prost::Message;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where criu is looked for: $PATH, then the sbin directories a non-root
/// PATH often lacks.
pub fn find() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("criu"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::invalid(
                "criu not found (in $PATH, /usr/local/sbin, /usr/sbin, /sbin): checkpoint and restore need CRIU",
            )
        })
}

/// A running `criu swrk`.
pub struct Swrk {
    child: Child,
    sock: OwnedFd,
    /// criu's stderr when it is not the caller's (its start-up errors come
    /// before it opens its log file).
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// What a notification (CRIU's "action scripts") is answered with: Ok
/// continues, an error makes CRIU abort and is returned by `call`.
pub type OnNotify<'a> = dyn FnMut(&str, i32, Option<OwnedFd>) -> Result<()> + 'a;

impl Swrk {
    /// Starts `criu swrk`. `inherit`: fds that keep their numbers in criu
    /// (their CLOEXEC is cleared for the exec; strata execs nothing else
    /// meanwhile). `own_stdio`: criu's stdio are strata's (restore: the
    /// restored process's pipes are inherited from them); otherwise stdin
    /// and stdout are /dev/null and stderr is collected for errors.
    pub fn start(exe: &Path, inherit: &[RawFd], own_stdio: bool) -> Result<Swrk> {
        let (ours, theirs) = crate::sys::fd::seqpacket_pair().ctx(|| "socketpair for criu")?;
        for fd in inherit.iter().copied().chain([theirs.as_raw_fd()]) {
            crate::sys::fd::set_cloexec(fd, false).ctx(|| format!("clear CLOEXEC on fd {fd}"))?;
        }
        let mut cmd = Command::new(exe);
        cmd.arg("swrk").arg(theirs.as_raw_fd().to_string());
        if !own_stdio {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
        }
        let spawned = cmd.spawn();
        for fd in inherit {
            let _ = crate::sys::fd::set_cloexec(*fd, true);
        }
        drop(theirs);
        let mut child = spawned.ctx(|| format!("run {} swrk", exe.display()))?;
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                s
            })
        });
        Ok(Swrk {
            child,
            sock: ours,
            stderr,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `req` and answers CRIU's notifications until its response to
    /// `req` comes. An `Err` means no response (criu died or the socket
    /// failed); a response may still say `success: false`.
    pub fn call(&mut self, req: &Req, on_notify: &mut OnNotify) -> Result<Resp> {
        self.send(req)?;
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            let fd = crate::sys::fd::recv_with_fd(self.sock.as_fd(), &mut buf)
                .ctx(|| "read criu's answer")?;
            if buf.is_empty() {
                return Err(Error::invalid(format!(
                    "criu exited without answering{}",
                    self.finish_stderr()
                )));
            }
            let resp = Resp::decode(&buf[..])
                .map_err(|e| Error::invalid(format!("decode criu's answer: {e}")))?;
            if resp.r#type != ReqType::Notify as i32 {
                return Ok(resp);
            }
            let (script, pid) = resp
                .notify
                .as_ref()
                .map(|n| (n.script.clone().unwrap_or_default(), n.pid.unwrap_or(0)))
                .unwrap_or_default();
            let r = on_notify(&script, pid, fd);
            self.send(&Req {
                r#type: ReqType::Notify as i32,
                opts: None,
                notify_success: Some(r.is_ok()),
            })?;
            r.map_err(|e| Error::invalid(format!("criu notification {script:?}: {e}")))?;
        }
    }

    fn send(&self, req: &Req) -> Result<()> {
        crate::sys::fd::send_with_fd(self.sock.as_fd(), &req.encode_to_vec(), None)
            .ctx(|| "send a request to criu")
    }

    /// criu's collected stderr as " (criu: LINE)", its last error line.
    fn finish_stderr(&mut self) -> String {
        let text = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match last_error_line(&text) {
            Some(l) => format!(" (criu: {l})"),
            None => String::new(),
        }
    }

    /// Closes the socket and reaps criu.
    pub fn finish(mut self) {
        drop(self.sock);
        let _ = self.child.wait();
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
    }
}

/// The last line of a CRIU log that reports an error ("Error (file:line):
/// ..."), trimmed of its timestamp.
pub fn last_error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .find_map(|l| l.find("Error (").map(|i| l[i..].trim().to_string()))
}

/// The one error line of a failed request: CRIU's message, the last error
/// of its log, and whether CRIU can work on this kernel at all.
pub fn failure(what: &str, resp: Option<&Resp>, log: &Path) -> String {
    let mut msg = format!("criu {what} failed");
    if let Some(r) = resp {
        match (&r.cr_errmsg, r.cr_errno) {
            (Some(m), _) if !m.is_empty() => msg.push_str(&format!(": {m}")),
            (_, Some(e)) if e != 0 => {
                msg.push_str(&format!(": {}", std::io::Error::from_raw_os_error(e)))
            }
            _ => {}
        }
    }
    if let Some(l) = std::fs::read_to_string(log)
        .ok()
        .and_then(|t| last_error_line(&t))
    {
        msg.push_str(&format!(": {l}"));
    }
    msg.push_str(&format!(" (log: {})", log.display()));
    if let Err(why) = super::check_kernel() {
        msg.push_str(&format!("; {why}"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_is_the_last_one() {
        let log = "(00.001) note\n(00.002) Error (criu/a.c:1): first\n(00.003) Error (criu/b.c:2): vdso: bad\n(00.004) x\n";
        assert_eq!(
            last_error_line(log).as_deref(),
            Some("Error (criu/b.c:2): vdso: bad")
        );
        assert_eq!(last_error_line("all fine\n"), None);
    }
}
