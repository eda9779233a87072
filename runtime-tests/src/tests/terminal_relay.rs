//! runc's foreground terminal (runc's docs/terminals.md, "new terminal" in the
//! foreground): `run` and `exec -t` with process.terminal and no --console-socket make the
//! pty themselves and relay it to their own stdio. The test plays the user's terminal: it
//! opens a pty pair, runs the runtime with its stdio on the peer (its controlling terminal,
//! as in a shell), types on the master and reads what appears there.
use super::config_terminal::read_until;
use super::one_line_error;
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("terminal_relay";
        shell_output_and_exit_status, window_size_followed, caller_terminal_restored,
        exec_tty_into_running, stdin_pipe_eof_keeps_container, run_detached_without_socket_fails,
        exit_statuses, signal_to_runtime_forwarded);
    v.push(
        Test::new("terminal_relay::no_terminal_at_all", no_terminal_at_all).deviates(
            "runc",
            "fails: open /dev/tty: no such device or address (it needs a terminal on one of its stdio or a controlling one)",
        ),
    );
    v
}

/// The user's terminal: a pty pair of `rows` x `cols`.
struct Term {
    master: OwnedFd,
    peer: OwnedFd,
}

fn term(rows: u16, cols: u16) -> Result<Term, String> {
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let p = nix::pty::openpty(Some(&ws), None).ctx("openpty")?;
    Ok(Term {
        master: p.master,
        peer: p.slave,
    })
}

fn stdio(fd: &OwnedFd) -> Result<Stdio, String> {
    Ok(Stdio::from(fd.try_clone().ctx("dup the pty peer")?))
}

/// Starts `cmd` as a shell would in a terminal: its own session, the pty peer its
/// controlling terminal and its stdio (stdin from `stdin` when given).
fn spawn_on(mut cmd: Command, t: &Term, stdin: Option<Stdio>) -> Result<Child, String> {
    cmd.stdin(match stdin {
        Some(s) => s,
        None => stdio(&t.peer)?,
    })
    .stdout(stdio(&t.peer)?)
    .stderr(stdio(&t.peer)?);
    // SAFETY: setsid and ioctl are async-signal-safe; fd 1 is the pty peer here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(1, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().ctx("spawn the runtime")
}

fn shell_bundle(ctx: &Ctx) -> Result<Bundle, String> {
    let mut b = ctx.bundle()?;
    b.config["process"]["terminal"] = json!(true);
    b.args(&["/bin/sh"]);
    Ok(b)
}

fn type_in(t: &Term, s: &str) -> Result<(), String> {
    let n = nix::unistd::write(t.master.as_fd(), s.as_bytes()).ctx("write to the pty master")?;
    crate::tests::require(n == s.len(), format!("short write {n} of {}", s.len()))
}

/// Waits (60 s at most) for the child's exit status, reading the master meanwhile so
/// that output never blocks it; returns (code, output read).
fn wait_exit(child: &mut Child, t: &Term) -> Result<(Option<i32>, String), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text = String::new();
    loop {
        if let Some(st) = child.try_wait().ctx("wait for the runtime")? {
            text.push_str(&drain(t));
            return Ok((st.code(), text));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the runtime did not exit in 60 s; output {text:?}"));
        }
        text.push_str(&drain(t));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the master has now, without waiting.
fn drain(t: &Term) -> String {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut out = Vec::new();
    loop {
        let mut fds = [PollFd::new(t.master.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, 0u16), Ok(n) if n > 0) {
            break;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(&t.master, &mut buf) {
            Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The prompt of busybox sh, once it reads commands.
fn wait_prompt(t: &Term) -> Result<(), String> {
    let text = read_until(&t.master, &["# "]);
    crate::tests::require(text.contains("# "), format!("no shell prompt: {text:?}"))
}

/// A command typed in the container's shell prints its output on the user's terminal,
/// and the runtime exits with the shell's status; the container is gone after.
fn shell_output_and_exit_status(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let t = term(24, 80)?;
    let mut child = spawn_on(ctx.run_command(&b)?, &t, None)?;
    wait_prompt(&t)?;
    // The echoed command line holds the expression, only the shell's output the value.
    type_in(&t, "echo hi-$((6*7))\n")?;
    let text = read_until(&t.master, &["hi-42"]);
    ensure!(text.contains("hi-42"), "no command output: {text:?}");
    type_in(&t, "exit 3\n")?;
    let (code, _) = wait_exit(&mut child, &t)?;
    ensure_eq!(code, Some(3), "exit status of run");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// A SIGTERM sent to the runtime itself reaches the container's process (runc forwards
/// what it receives), here a shell whose trap prints and exits 9.
fn signal_to_runtime_forwarded(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let t = term(24, 80)?;
    let mut child = spawn_on(ctx.run_command(&b)?, &t, None)?;
    wait_prompt(&t)?;
    // The quotes keep the markers out of the echoed command line.
    type_in(
        &t,
        "trap 'echo got\"-term\"; exit 9' TERM; echo rea\"dy\"; while :; do sleep 0.1; done\n",
    )?;
    let text = read_until(&t.master, &["ready"]);
    ensure!(text.contains("ready"), "the trap is not set: {text:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .ctx("kill -TERM the runtime")?;
    let (code, text) = wait_exit(&mut child, &t)?;
    ensure!(
        text.contains("got-term"),
        "the shell did not get SIGTERM: {text:?}"
    );
    ensure_eq!(code, Some(9), "exit status of run");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// The pty has the user's window size at start, and again after the user's terminal is
/// resized (TIOCSWINSZ on it, SIGWINCH to the runtime, as a terminal emulator does).
fn window_size_followed(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let t = term(25, 81)?;
    let mut child = spawn_on(ctx.run_command(&b)?, &t, None)?;
    wait_prompt(&t)?;
    type_in(&t, "echo size=$(stty size)\n")?;
    let text = read_until(&t.master, &["size=25 81"]);
    ensure!(text.contains("size=25 81"), "initial size: {text:?}");
    let ws = libc::winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid pointer.
    let r = unsafe { libc::ioctl(t.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    ensure!(r == 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGWINCH,
    );
    // Polled inside, so the result does not depend on when the runtime handles the signal;
    // the quotes keep "now=" out of the echoed command line.
    type_in(
        &t,
        "for i in $(seq 100); do [ \"$(stty size)\" = '50 132' ] && break; sleep 0.1; done; echo now\"=$(stty size)\"\n",
    )?;
    let text = read_until(&t.master, &["now="]);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("now="))
        .unwrap_or("");
    ensure_eq!(line.trim(), "now=50 132", "size after the resize");
    type_in(&t, "exit\n")?;
    let (code, _) = wait_exit(&mut child, &t)?;
    ensure_eq!(code, Some(0), "exit status of run");
    Ok(())
}

fn termios(fd: &OwnedFd) -> Result<libc::termios, String> {
    // SAFETY: tcgetattr writes one termios to the valid pointer.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd.as_raw_fd(), &mut t) != 0 {
            return Err(format!("tcgetattr: {}", std::io::Error::last_os_error()));
        }
        Ok(t)
    }
}

fn same(a: &libc::termios, b: &libc::termios) -> bool {
    a.c_iflag == b.c_iflag
        && a.c_oflag == b.c_oflag
        && a.c_cflag == b.c_cflag
        && a.c_lflag == b.c_lflag
        && a.c_cc == b.c_cc
}

/// The user's terminal is raw while the container runs (no echo, no line editing: the
/// container's pty does those) and exactly as before once the runtime exited, also when
/// the run failed.
fn caller_terminal_restored(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let t = term(24, 80)?;
    let before = termios(&t.peer)?;
    ensure!(
        before.c_lflag & libc::ICANON != 0,
        "the test's pty does not start canonical"
    );
    let mut child = spawn_on(ctx.run_command(&b)?, &t, None)?;
    wait_prompt(&t)?;
    let during = termios(&t.peer)?;
    ensure!(
        during.c_lflag & (libc::ICANON | libc::ECHO) == 0,
        "the user's terminal is not raw while the container runs (lflag {:o})",
        during.c_lflag
    );
    type_in(&t, "exit 0\n")?;
    let (code, _) = wait_exit(&mut child, &t)?;
    ensure_eq!(code, Some(0), "exit status of run");
    let after = termios(&t.peer)?;
    ensure!(
        same(&before, &after),
        "termios after the run differs: lflag {:o} -> {:o}, iflag {:o} -> {:o}, oflag {:o} -> {:o}",
        before.c_lflag,
        after.c_lflag,
        before.c_iflag,
        after.c_iflag,
        before.c_oflag,
        after.c_oflag
    );
    // The error path too: execve fails (ENOEXEC, a file neither ELF nor script) after
    // the start, so after raw mode was set.
    let mut b = shell_bundle(ctx)?;
    let bad = b.rootfs().join("not-a-program");
    std::fs::write(&bad, [0u8, 1, 2, 3]).ctx("write not-a-program")?;
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .ctx("chmod not-a-program")?;
    b.args(&["/not-a-program"]);
    let mut child = spawn_on(ctx.run_command(&b)?, &t, None)?;
    let (code, text) = wait_exit(&mut child, &t)?;
    ensure!(code != Some(0), "run of /not-a-program succeeded: {text:?}");
    let after = termios(&t.peer)?;
    ensure!(
        same(&before, &after),
        "termios after a failed run differs: lflag {:o} -> {:o}",
        before.c_lflag,
        after.c_lflag
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `exec -t ID sh` into a running (terminal-less) container: a new pty of its own, the
/// exec's exit status passed through, the container still running.
fn exec_tty_into_running(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/bin/sleep", "1000"]);
    ctx.create_start(&b)?;
    let t = term(24, 80)?;
    let mut cmd = ctx.command();
    cmd.arg("--root")
        .arg(&ctx.root)
        .args(["exec", "-t", &b.id, "/bin/sh"]);
    let mut child = spawn_on(cmd, &t, None)?;
    wait_prompt(&t)?;
    type_in(&t, "tty; echo ex-$((2*21)); exit 4\n")?;
    let (code, text) = wait_exit(&mut child, &t)?;
    ensure!(text.contains("ex-42"), "no exec output: {text:?}");
    ensure!(
        text.contains("/dev/pts/"),
        "exec's stdin is not a pty: {text:?}"
    );
    ensure_eq!(code, Some(4), "exit status of exec -t");
    ensure_eq!(ctx.status(&b.id)?, "running", "container status after exec");
    Ok(ctx.destroy(&b.id)?)
}

/// stdin a pipe (stdout still the user's terminal): its lines reach the shell; at its
/// EOF the runtime stops reading it, and the container is not killed for it.
fn stdin_pipe_eof_keeps_container(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let t = term(24, 80)?;
    let (r, w) = nix::unistd::pipe().ctx("pipe")?;
    let script = "echo piped-$((5*5)); sleep 1; echo after-eof; exit 5\n";
    nix::unistd::write(&w, script.as_bytes()).ctx("write the pipe")?;
    drop(w);
    let mut child = spawn_on(ctx.run_command(&b)?, &t, Some(Stdio::from(r)))?;
    let (code, text) = wait_exit(&mut child, &t)?;
    ensure!(
        text.contains("piped-25"),
        "no output for piped input: {text:?}"
    );
    ensure!(
        text.contains("after-eof"),
        "the container did not outlive stdin's EOF: {text:?}"
    );
    ensure_eq!(code, Some(5), "exit status of run");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// No terminal anywhere (all stdio pipes, no controlling tty): strata still relays, with
/// no raw mode and no size to copy.
fn no_terminal_at_all(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let mut cmd = ctx.run_command(&b)?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe; it drops any controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().ctx("spawn the runtime")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ctx("stdin")?;
        stdin
            .write_all(b"echo nt-$((3*3)); exit 6\n")
            .ctx("write stdin")?;
    }
    let out = child.wait_with_output().ctx("wait for the runtime")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        text.contains("nt-9"),
        "stdout {text:?}, stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure_eq!(out.status.code(), Some(6), "exit status of run");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `run -d` has nowhere to relay to: without --console-socket it is one clear error and
/// leaves nothing behind.
fn run_detached_without_socket_fails(ctx: &Ctx) -> TResult {
    let b = shell_bundle(ctx)?;
    let out = ctx.run(&b, &["-d"])?;
    one_line_error(&out)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// runc's exit statuses for a process that cannot start: `run` exits 1, `exec` 255 (as
/// for any failure of exec itself), so a caller can tell them from the process's own.
fn exit_statuses(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/nonexistent"]);
    let out = ctx.run(&b, &[])?;
    ensure_eq!(
        out.code(),
        Some(1),
        "run of a missing program ({})",
        out.describe()
    );
    ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
    let mut b = ctx.bundle()?;
    b.args(&["/bin/sleep", "1000"]);
    ctx.create_start(&b)?;
    for v in [
        ["exec", &b.id, "/nonexistent"].as_slice(),
        &["exec", "-u", "abc", &b.id, "true"],
    ] {
        let out = ctx.rt(v)?;
        ensure_eq!(out.code(), Some(255), "{v:?} ({})", out.describe());
    }
    Ok(ctx.destroy(&b.id)?)
}
