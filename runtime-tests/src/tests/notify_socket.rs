//! NOTIFY_SOCKET (sd_notify relay; callers.md: podman `--sdnotify=container`, systemd units
//! with `Type=notify`). Not in the OCI spec: runc's behaviour is the reference. The runtime
//! is started with NOTIFY_SOCKET naming a datagram socket the test owns; the container gets
//! its own socket and sends `READY=1` with the probe; `start`/`run` pass it on with
//! `MAINPID=<host pid of the init>` before they return.
use super::state_pid;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;

pub fn tests() -> Vec<Test> {
    crate::tests!("notify_socket";
        start_relays_ready_and_mainpid, run_relays_ready, exit_before_ready_does_not_hang)
}

/// The test's socket (a short path under the test dir) and its path.
fn listener(ctx: &Ctx) -> Result<(UnixDatagram, PathBuf), String> {
    let path = ctx.path("notify.sock");
    let sock = UnixDatagram::bind(&path).ctx(format!("bind {}", path.display()))?;
    sock.set_nonblocking(true).ctx("set_nonblocking")?;
    Ok((sock, path))
}

/// Every line received so far (the runtime has returned: what it relayed is queued).
fn received(sock: &UnixDatagram) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        lines.extend(text.lines().filter(|l| !l.is_empty()).map(String::from));
    }
    lines
}

/// `RUNTIME --root R ARGS...` with NOTIFY_SOCKET in its environment.
fn with_notify(ctx: &Ctx, sock: &PathBuf, args: &[&str]) -> Command {
    let mut cmd = ctx.command();
    cmd.env("NOTIFY_SOCKET", sock)
        .arg("--root")
        .arg(&ctx.root)
        .args(args);
    cmd
}

/// READY=1 forwarded, then MAINPID naming the init's host pid; a MAINPID the container
/// sends itself is not passed on (it would name a pid of the container's namespace).
fn check_relayed(lines: &[String], pid: i32) -> TResult {
    ensure!(
        lines.iter().any(|l| l == "READY=1"),
        "READY=1 not relayed; got {lines:?}"
    );
    let mainpids: Vec<&String> = lines.iter().filter(|l| l.starts_with("MAINPID=")).collect();
    ensure_eq!(
        mainpids,
        vec![&format!("MAINPID={pid}")],
        "MAINPID lines relayed"
    );
    Ok(())
}

fn start_relays_ready_and_mainpid(ctx: &Ctx) -> TResult {
    let (sock, path) = listener(ctx)?;
    let mut b = ctx.bundle()?;
    // The probe stays alive a while after READY, as a service would.
    b.args(&[
        "/probe",
        "notify",
        "READY=1\nMAINPID=1",
        "--after-ms",
        "2000",
    ]);
    b.write()?;
    let dir = b.dir.to_string_lossy().into_owned();
    ctx.exec(with_notify(
        ctx,
        &path,
        &["create", "--bundle", &dir, &b.id],
    ))?
    .check()?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    ensure!(
        received(&sock).is_empty(),
        "something was relayed before start"
    );
    ctx.exec(with_notify(ctx, &path, &["start", &b.id]))?
        .check()?;
    check_relayed(&received(&sock), pid)?;
    Ok(ctx.destroy(&b.id)?)
}

/// `run -d`: the same relay before it returns.
fn run_relays_ready(ctx: &Ctx) -> TResult {
    let (sock, path) = listener(ctx)?;
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "notify", "READY=1", "--after-ms", "2000"]);
    b.write()?;
    let dir = b.dir.to_string_lossy().into_owned();
    ctx.exec(with_notify(
        ctx,
        &path,
        &["run", "-d", "--bundle", &dir, &b.id],
    ))?
    .check()?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    check_relayed(&received(&sock), pid)?;
    Ok(ctx.destroy(&b.id)?)
}

/// A container that exits without READY: `start` returns (runc: success) instead of
/// waiting forever, and nothing is relayed.
fn exit_before_ready_does_not_hang(ctx: &Ctx) -> TResult {
    let (sock, path) = listener(ctx)?;
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    b.write()?;
    let dir = b.dir.to_string_lossy().into_owned();
    ctx.exec(with_notify(
        ctx,
        &path,
        &["create", "--bundle", &dir, &b.id],
    ))?
    .check()?;
    ctx.exec(with_notify(ctx, &path, &["start", &b.id]))?
        .check()?;
    ensure_eq!(received(&sock), Vec::<String>::new(), "relayed lines");
    ctx.wait_status(&b.id, "stopped")?;
    Ok(ctx.destroy(&b.id)?)
}
