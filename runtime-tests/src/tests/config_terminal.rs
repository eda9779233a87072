//! config.md Process `terminal` and `consoleSize`, with runc's `--console-socket`: the
//! runtime sends the pty master over the AF_UNIX socket by SCM_RIGHTS and the container's
//! stdio is the pty's other end (config-linux.md Default Devices: `/dev/console` too).
use super::one_line_error;
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, sys};
use serde_json::json;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    crate::tests!("config_terminal";
        console_socket_gets_pty_master, console_size, terminal_without_console_socket_fails)
}

fn terminal_bundle(ctx: &Ctx, script: &str) -> Result<Bundle, String> {
    let mut b = ctx.bundle()?;
    b.config["process"]["terminal"] = json!(true);
    b.args(&["/bin/sh", "-c", script]);
    Ok(b)
}

/// `create --console-socket S`, then the fd the runtime sent on S (the connection is queued
/// on the listener once create has returned).
fn create_with_console(ctx: &Ctx, b: &Bundle) -> Result<OwnedFd, String> {
    let sock = ctx.path("console.sock");
    let listener = UnixListener::bind(&sock).ctx("bind the console socket")?;
    listener.set_nonblocking(true).ctx("nonblocking")?;
    b.write()?;
    let (dir, s) = (b.dir.to_string_lossy(), sock.to_string_lossy());
    ctx.rt(&["create", "--bundle", &dir, "--console-socket", &s, &b.id])?
        .check()?;
    let mut conn = None;
    sys::wait_for(10, || {
        conn = listener.accept().ok();
        conn.is_some()
    });
    let (stream, _) = conn.ctx("no connection on the console socket")?;
    stream.set_nonblocking(false).ctx("blocking")?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ctx("read timeout")?;
    recv_fd(stream.as_raw_fd())
}

fn recv_fd(sock: RawFd) -> Result<OwnedFd, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx("recvmsg on the console socket")?;
    let mut fds = vec![];
    for c in msg.cmsgs().ctx("control messages")? {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v);
        }
    }
    // SAFETY: SCM_RIGHTS installed these fds in this process; each is owned once.
    let mut owned: Vec<OwnedFd> = fds
        .iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) })
        .collect();
    ensure_one(owned.len())?;
    Ok(owned.remove(0))
}

fn ensure_one(n: usize) -> Result<(), String> {
    super::require(
        n == 1,
        format!("{n} fds received on the console socket, want 1"),
    )
}

/// The pty number of a master fd (TIOCGPTN fails on anything else).
fn pty_number(fd: &OwnedFd) -> Option<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the valid pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    (r == 0).then_some(n)
}

/// Reads the master until every `want` string appeared (or 30 s passed, or the pty hung up).
pub fn read_until(master: &OwnedFd, want: &[&str]) -> String {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let mut text = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let s = String::from_utf8_lossy(&text);
        if want.iter().all(|w| s.contains(w)) {
            break;
        }
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, 200u16), Ok(n) if n > 0) {
            continue;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master, &mut buf) {
            Ok(n) if n > 0 => text.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The fd is a pty master; what the container prints arrives on it; its stdio is
/// /dev/pts/0 of its own devpts, and /dev/console is a char device.
fn console_socket_gets_pty_master(ctx: &Ctx) -> TResult {
    let script = "tty; [ -c /dev/console ] && echo console-ok; echo done; sleep 1000";
    let b = terminal_bundle(ctx, script)?;
    let master = create_with_console(ctx, &b)?;
    ensure!(
        pty_number(&master).is_some(),
        "the fd received is not a pty master"
    );
    ctx.start(&b.id)?;
    let text = read_until(&master, &["done"]);
    for want in ["/dev/pts/0", "console-ok", "done"] {
        ensure!(
            text.contains(want),
            "{want:?} not in the console output {text:?}"
        );
    }
    Ok(ctx.destroy(&b.id)?)
}

/// consoleSize is the size `stty size` reports (rows columns).
fn console_size(ctx: &Ctx) -> TResult {
    let mut b = terminal_bundle(ctx, "echo size=$(stty size); sleep 1000")?;
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    let master = create_with_console(ctx, &b)?;
    ctx.start(&b.id)?;
    let text = read_until(&master, &["size=30 100"]);
    ensure!(
        text.contains("size=30 100"),
        "stty size in the container: {text:?}"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `create` cannot keep a terminal without somewhere to send its master.
fn terminal_without_console_socket_fails(ctx: &Ctx) -> TResult {
    let b = terminal_bundle(ctx, "tty")?;
    b.write()?;
    let out = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    ensure!(
        !out.ok(),
        "create with terminal and no console socket succeeded"
    );
    ctx.ensure_clean(None, &b.cgroups_path())?;
    Ok(one_line_error(&out)?)
}
