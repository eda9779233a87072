//! sd_notify relay (`NOTIFY_SOCKET`, podman `--sdnotify=container`, systemd
//! units running a runtime with `Type=notify`), as runc 1.1 does it:
//!
//! - `create`/`run` with NOTIFY_SOCKET set: make `<state>/notify/`, bind it
//!   read-only at `/run/notify` in the container and set
//!   `NOTIFY_SOCKET=/run/notify/notify.sock` in the process env.
//! - `start` (or `run`) with NOTIFY_SOCKET set: bind the datagram socket
//!   `<state>/notify/notify.sock` before opening the gate, wait for a
//!   datagram with a `READY=` line, forward it to the caller's socket, then
//!   send `MAINPID=<host pid of the init>`. If the init exits first, give up
//!   with a warning instead of hanging.

use crate::error::{Ctx, Error, Result};
use crate::state::Locked;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// `<state dir>/DIR/SOCKET` on the host.
const DIR: &str = "notify";
const SOCKET: &str = "notify.sock";
/// Where the directory appears in the container (runc's path).
const IN_CONTAINER_DIR: &str = "/run/notify";

/// The caller's socket, if the runtime was started with NOTIFY_SOCKET.
fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// create/run: when NOTIFY_SOCKET is set, adds the notify directory mount
/// and the container's NOTIFY_SOCKET to `spec`. `state_dir` is the claimed
/// container directory (removed with it on failure).
pub fn prepare(spec: &mut oci_spec::runtime::Spec, state_dir: &Path) -> Result<()> {
    if host_socket().is_none() {
        return Ok(());
    }
    let dir = crate::spec::absolute(&state_dir.join(DIR))?;
    std::fs::create_dir(&dir).ctx(|| format!("mkdir {}", dir.display()))?;
    let mnt = oci_spec::runtime::MountBuilder::default()
        .destination(IN_CONTAINER_DIR)
        .typ("bind")
        .source(&dir)
        .options(
            ["bind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        )
        .build()
        .map_err(|e| Error::invalid(format!("notify socket mount: {e}")))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mnt);
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        // Ours replaces any NOTIFY_SOCKET from the config: the container
        // can only reach the relay, never the caller's socket directly.
        let mut env: Vec<String> = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={IN_CONTAINER_DIR}/{SOCKET}"));
        p.set_env(Some(env));
    }
    Ok(())
}

/// The bound relay socket of one `start`/`run`, and the init it waits on.
pub struct Relay {
    sock: UnixDatagram,
    host: String,
    target: Target,
    pid: i32,
    pidfd: OwnedFd,
}

impl Relay {
    /// start/run: binds `<state>/notify/notify.sock` when NOTIFY_SOCKET is
    /// set and the container was created with the notify directory; call
    /// before opening the gate so no datagram is lost. `pid` is the init,
    /// just checked by the caller (its pidfd is opened now, before the pid
    /// could be reused).
    pub fn bind(locked: &Locked, pid: i32) -> Result<Option<Relay>> {
        let Some(host) = host_socket() else {
            return Ok(None);
        };
        let dir = locked.dir.join(DIR);
        if !dir.is_dir() {
            tracing::debug!("NOTIFY_SOCKET is set, but the container was created without it");
            return Ok(None);
        }
        // Opened now: a bad NOTIFY_SOCKET fails before the container starts.
        let target = Target::open(&host)?;
        // Through /proc/self/fd: long state paths never hit sun_path's limit.
        let path = format!(
            "/proc/self/fd/{}/{DIR}/{SOCKET}",
            locked.dirfd().as_raw_fd()
        );
        // A failed earlier `start` may have left the file behind.
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path)
            .ctx(|| format!("bind notify socket {}/{SOCKET}", dir.display()))?;
        // Any container user may send to it (sendto needs write permission).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .ctx(|| format!("chmod {}/{SOCKET}", dir.display()))?;
        let pidfd = crate::sys::pidfd::open(pid).ctx(|| format!("pidfd_open {pid}"))?;
        Ok(Some(Relay {
            sock,
            host,
            target,
            pid,
            pidfd,
        }))
    }

    /// Waits for `READY=` from the container or the exit of the init
    /// (through its pidfd, so a zombie counts as gone), then forwards.
    /// Returns once the caller has been told, or the init is gone.
    pub fn wait(&self) -> Result<()> {
        let pid = self.pid;
        let mut buf = vec![0u8; 4096];
        loop {
            let ready = crate::sys::pidfd::poll_readable(
                &[self.sock.as_raw_fd(), self.pidfd.as_raw_fd()],
                -1,
            )
            .ctx(|| "poll the notify socket")?;
            if ready[0] {
                let n = match self.sock.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::sys("recv on the notify socket", e)),
                };
                if let Some(msg) = ready_message(&buf[..n]) {
                    return self.forward(&msg, pid);
                }
                continue;
            }
            if ready[1] {
                tracing::warn!(
                    "notify socket: the container's process {pid} exited before it sent READY=1"
                );
                return Ok(());
            }
        }
    }

    fn forward(&self, msg: &str, pid: i32) -> Result<()> {
        let out = UnixDatagram::unbound().ctx(|| "socket for NOTIFY_SOCKET")?;
        self.target
            .send(&out, format!("{msg}\n").as_bytes(), &self.host)?;
        // systemd watches this pid from now on (the host pid of the init).
        self.target
            .send(&out, format!("MAINPID={pid}\n").as_bytes(), &self.host)
    }
}

/// The lines of one datagram to pass on, if it has a `READY=` line. A
/// `MAINPID=` from the container is dropped: it names a pid in the
/// container's namespace, and would let the container point the host's
/// service manager at an arbitrary host process.
fn ready_message(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with("MAINPID="))
        .collect();
    lines
        .iter()
        .any(|l| l.starts_with("READY="))
        .then(|| lines.join("\n"))
}

/// The caller's socket: a path (possibly longer than sun_path allows, so
/// reached through its directory's fd) or an abstract `@name`.
enum Target {
    Path { _dir: OwnedFd, via: PathBuf },
    Abstract(std::os::unix::net::SocketAddr),
}

impl Target {
    fn open(host: &str) -> Result<Target> {
        if let Some(name) = host.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .ctx(|| format!("NOTIFY_SOCKET {host}"))?;
            return Ok(Target::Abstract(a));
        }
        let p = Path::new(host);
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            return Err(Error::invalid(format!(
                "NOTIFY_SOCKET {host}: not a socket path"
            )));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let dir = crate::sys::fd::openat(None, parent, libc::O_PATH | libc::O_DIRECTORY, 0)
            .ctx(|| format!("NOTIFY_SOCKET {host}: open {}", parent.display()))?;
        let via = PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd())).join(name);
        Ok(Target::Path { _dir: dir, via })
    }

    fn send(&self, sock: &UnixDatagram, data: &[u8], host: &str) -> Result<()> {
        let r = match self {
            Target::Path { via, .. } => sock.send_to(data, via),
            Target::Abstract(a) => sock.send_to_addr(data, a),
        };
        r.map(drop).ctx(|| format!("send to NOTIFY_SOCKET {host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::ready_message;

    #[test]
    fn ready_lines_pass_mainpid_does_not() {
        assert_eq!(ready_message(b"STATUS=starting"), None);
        assert_eq!(ready_message(b"READY=1").as_deref(), Some("READY=1"));
        assert_eq!(
            ready_message(b"STATUS=up\nREADY=1\nMAINPID=1\n").as_deref(),
            Some("STATUS=up\nREADY=1")
        );
    }
}
