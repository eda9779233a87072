//! process.terminal without --console-socket, in the foreground (`run`,
//! `exec -t`), as runc does it: the container's pty master comes back to
//! strata over a private socketpair, and strata relays it to its own
//! stdin/stdout. The caller's terminal (the first of stderr, stdout, stdin
//! that is one, else /dev/tty) is put in raw mode, restored on every return,
//! and its window size follows it onto the pty. One thread, one poll loop:
//! stdin, the master, and a signalfd for SIGCHLD, SIGWINCH and the signals
//! forwarded to the container.

use crate::error::{Ctx, Error, Result};
use crate::sys::{self, clone, fd};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, OutputFlags, SetArg, Termios};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The console fd for the container's init: a connection to `socket`, or,
/// when `relay` (terminal, foreground, no socket), one end of a pair whose
/// other end comes back as `Pending`.
pub fn console(socket: Option<&Path>, relay: bool) -> Result<(Option<OwnedFd>, Option<Pending>)> {
    if let Some(p) = socket {
        return Ok((Some(connect(p)?), None));
    }
    if !relay {
        return Ok((None, None));
    }
    let (ours, theirs) = fd::seqpacket_pair().ctx(|| "socketpair for the pty")?;
    Ok((Some(theirs), Some(Pending(ours))))
}

/// A connection to --console-socket `p`.
pub fn connect(p: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(p)
        .ctx(|| format!("connect to --console-socket {}", p.display()))?;
    Ok(OwnedFd::from(s))
}

/// Our end of the console pair; the master arrives on it before `Ready`.
pub struct Pending(OwnedFd);

impl Pending {
    /// Takes the master and sets up the caller's terminal.
    pub fn attach(self) -> Result<Tty> {
        let mut buf = Vec::with_capacity(64);
        let master = fd::recv_with_fd(self.0.as_fd(), &mut buf)
            .ctx(|| "receive the pty master")?
            .ok_or_else(|| Error::invalid("the container sent no pty master"))?;
        // The caller's terminal adds the \r (runc: ClearONLCR), so the
        // container's output is not translated twice.
        let mut t =
            termios::tcgetattr(&master).map_err(|e| Error::sys("tcgetattr pty", e.into()))?;
        t.output_flags.remove(OutputFlags::ONLCR);
        termios::tcsetattr(&master, SetArg::TCSANOW, &t)
            .map_err(|e| Error::sys("tcsetattr pty", e.into()))?;
        set_nonblock(master.as_fd())?;
        let host = Host::find()?;
        let tty = Tty { master, host };
        tty.resize();
        Ok(tty)
    }
}

/// The caller's terminal and its termios from before raw mode.
struct Host {
    fd: HostFd,
    saved: Termios,
}

enum HostFd {
    Std(i32),
    Opened(OwnedFd),
}

impl Host {
    fn fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            HostFd::Std(n) => sys::std_fd(*n),
            HostFd::Opened(f) => f.as_fd(),
        }
    }

    /// None when strata has no terminal at all (all stdio redirected, no
    /// controlling tty): then the relay runs without raw mode or resizing.
    fn find() -> Result<Option<Host>> {
        let mut fd = None;
        for n in [2, 1, 0] {
            if nix::unistd::isatty(sys::std_fd(n)).unwrap_or(false) {
                fd = Some(HostFd::Std(n));
                break;
            }
        }
        if fd.is_none() {
            fd = fd::openat(
                None,
                Path::new("/dev/tty"),
                libc::O_RDWR | libc::O_NOCTTY,
                0,
            )
            .ok()
            .map(HostFd::Opened);
        }
        let Some(fd) = fd else { return Ok(None) };
        let b = match &fd {
            HostFd::Std(n) => sys::std_fd(*n),
            HostFd::Opened(f) => f.as_fd(),
        };
        let saved = termios::tcgetattr(b).map_err(|e| Error::sys("tcgetattr", e.into()))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        // Output processing stays on, as with runc: the container's "\n"
        // (ONLCR off on its pty) becomes "\r\n" here.
        raw.output_flags.insert(OutputFlags::OPOST);
        termios::tcsetattr(b, SetArg::TCSANOW, &raw)
            .map_err(|e| Error::sys("tcsetattr raw mode", e.into()))?;
        Ok(Some(Host { fd, saved }))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Best effort on the way out: a terminal gone has nothing to restore.
        let _ = termios::tcsetattr(self.fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn set_nonblock(f: BorrowedFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let fl = fcntl(f, FcntlArg::F_GETFL).map_err(|e| Error::sys("fcntl F_GETFL pty", e.into()))?;
    fcntl(
        f,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
    )
    .map_err(|e| Error::sys("fcntl F_SETFL pty", e.into()))?;
    Ok(())
}

/// The pty master and the caller's terminal in raw mode (restored on drop).
pub struct Tty {
    master: OwnedFd,
    host: Option<Host>,
}

impl Tty {
    /// Copies the caller's window size onto the pty; the kernel then sends
    /// SIGWINCH to the container's foreground process group.
    fn resize(&self) {
        if let Some(h) = &self.host {
            // 0x0 is "unknown" (a terminal nobody sized): keep consoleSize.
            if let Some((rows, cols)) = sys::tty::get_size(h.fd()).ok().filter(|s| *s != (0, 0)) {
                // A missed resize only leaves the old size; the next SIGWINCH retries.
                let _ = sys::tty::set_size(self.master.as_fd(), rows, cols);
            }
        }
    }

    /// Relays until `pid` exits; returns its shell-style exit code. Every
    /// signal in `signals` must be blocked already: SIGCHLD reaps, SIGWINCH resizes,
    /// the rest go to `pid` (runc forwards what the runtime receives).
    pub fn relay(self, pid: i32, signals: &libc::sigset_t) -> Result<i32> {
        let set = sys::nix_sigset(signals);
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error::sys("signalfd", e.into()))?;
        let stdin = sys::std_fd(0);
        let stdout = sys::std_fd(1);
        let master = self.master.as_fd();
        let mut stdin_open = true;
        let mut master_open = true;
        let mut out_ok = true;
        // Input read but not yet taken by the pty: stdin is not read again
        // until it is, so a container that stops reading cannot make us
        // block on the master while its output piles up.
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16384];
        let mut exited = reap(pid)?;
        while exited.is_none() {
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            let mi = master_open.then(|| {
                let ev = if pending.is_empty() {
                    PollFlags::POLLIN
                } else {
                    PollFlags::POLLIN | PollFlags::POLLOUT
                };
                fds.push(PollFd::new(master, ev));
                fds.len() - 1
            });
            let si = (stdin_open && pending.is_empty()).then(|| {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
                fds.len() - 1
            });
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", e.into())),
            }
            let ready = |i: Option<usize>| {
                i.and_then(|i| fds[i].revents())
                    .unwrap_or(PollFlags::empty())
            };
            let (rm, rs) = (ready(mi), ready(si));
            let sig_ready = !ready(Some(0)).is_empty();
            drop(fds);
            if !rm.is_empty() {
                if rm.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    match nix::unistd::read(master, &mut buf) {
                        Ok(n) if n > 0 => out_ok = out_ok && put(stdout, &buf[..n]),
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                        // EIO: no process holds the pty any more. Stop
                        // polling it, or its POLLHUP would spin the loop.
                        _ => master_open = false,
                    }
                }
                if rm.contains(PollFlags::POLLOUT) && !pending.is_empty() {
                    match nix::unistd::write(master, &pending) {
                        Ok(n) => {
                            pending.drain(..n);
                        }
                        Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                        Err(_) => pending.clear(),
                    }
                }
            }
            if !rs.is_empty() {
                match nix::unistd::read(stdin, &mut buf) {
                    Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    // EOF: stop reading, as runc does; the container is not
                    // told (no EOF byte) and keeps running.
                    _ => stdin_open = false,
                }
            }
            if sig_ready {
                while let Ok(Some(si)) = sfd.read_signal() {
                    match si.ssi_signo as i32 {
                        libc::SIGCHLD => {}
                        libc::SIGWINCH => self.resize(),
                        // Forwarded; ESRCH is a container that just exited,
                        // which the reap below sees.
                        s => {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid),
                                Signal::try_from(s).ok(),
                            );
                        }
                    }
                }
                exited = reap(pid)?;
            }
        }
        // The process is gone: pass on what it wrote before it exited. Once
        // no process holds the pty, a read flushes the kernel's buffer and
        // then fails with EIO; EAGAIN means a survivor still holds it.
        while master_open && out_ok {
            match nix::unistd::read(master, &mut buf) {
                Ok(n) if n > 0 => out_ok = put(stdout, &buf[..n]),
                Err(Errno::EINTR) => {}
                _ => break,
            }
        }
        Ok(exited.unwrap_or(255))
    }
}

/// Writes to stdout; false once that fails (the output is then dropped,
/// but still read, so the container never blocks on a full pty).
fn put(out: BorrowedFd, data: &[u8]) -> bool {
    fd::write_all_fd(out, data).is_ok()
}

/// Reaps exited children; Some(code) once `pid` is among them.
fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        match clone::waitpid(-1, libc::WNOHANG) {
            Ok((0, _)) => return Ok(None),
            Ok((p, status)) if p == pid => return Ok(Some(clone::exit_code(status))),
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(Some(255)),
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}
