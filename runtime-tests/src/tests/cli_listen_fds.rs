//! Socket activation (runc's CLI, systemd's sd_listen_fds(3)): a runtime started with
//! LISTEN_FDS=N and LISTEN_PID=<its own pid> passes its fds 3..3+N into the container (as
//! fds 3..3+N) and sets LISTEN_FDS=N, LISTEN_PID=1 there. runc takes the fds with go-systemd's
//! activation.Files, which ignores them unless LISTEN_PID is the runtime's pid, so the
//! runtime is started through `sh -c 'LISTEN_PID=$$ exec RUNTIME ...'` (exec keeps the pid),
//! and the fds are made non-CLOEXEC at 3 and 4 in that shell only.
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

pub fn tests() -> Vec<Test> {
    crate::tests!("cli_listen_fds"; passed_to_container, other_pid_ignored)
}

/// The container writes its LISTEN_* values to fd 3 and a word to fd 4 (each fails quietly
/// when the fd is not there).
const SCRIPT: &str =
    r#"echo "fds=$LISTEN_FDS pid=$LISTEN_PID" >&3; echo four >&4; echo "done" "$LISTEN_FDS""#;

fn listen_file(ctx: &Ctx, name: &str) -> Result<(PathBuf, File), String> {
    let p = ctx.path(name);
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .ctx(format!("open {}", p.display()))?;
    Ok((p, f))
}

/// `run` with two files at fds 3 and 4 and LISTEN_FDS=2; LISTEN_PID is the runtime's pid
/// (`$$`) or `pid` when given. Returns the two files' contents and the container's stdout.
fn run_activated(ctx: &Ctx, pid: Option<&str>) -> Result<(String, String, String), String> {
    let mut b = ctx.bundle()?;
    b.args(&["/bin/sh", "-c", SCRIPT]);
    b.write()?;
    let (pa, fa) = listen_file(ctx, "listen-3")?;
    let (pb, fb) = listen_file(ctx, "listen-4")?;
    let (a, bfd) = (fa.as_raw_fd(), fb.as_raw_fd());
    let pid_expr = pid.unwrap_or("$$");
    let mut cmd = Command::new("/bin/sh");
    cmd.current_dir("/")
        .env("RUNTIME_TESTS_TAG", &ctx.tag)
        .env("LISTEN_FDS", "2")
        .arg("-c")
        .arg(format!(r#"LISTEN_PID={pid_expr} exec "$0" "$@""#))
        .arg(&ctx.rt.path)
        .arg("--root")
        .arg(&ctx.root)
        .arg("run")
        .arg("--bundle")
        .arg(&b.dir)
        .arg(&b.id);
    // SAFETY: only dup2/close (async-signal-safe) between fork and exec. Going through
    // high numbers first: the sources may themselves sit at 3 or 4, and dup2 onto a
    // different number is what clears FD_CLOEXEC (dup2(3, 3) would keep it).
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in [(a, 200), (bfd, 201), (200, 3), (201, 4)] {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::close(200);
            libc::close(201);
            Ok(())
        });
    }
    let out = ctx.exec(cmd)?.check()?;
    drop((fa, fb));
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
    Ok((read(&pa), read(&pb), out.stdout))
}

fn passed_to_container(ctx: &Ctx) -> TResult {
    let (a, b, out) = run_activated(ctx, None)?;
    ensure_eq!(out.trim(), "done 2", "container output");
    ensure_eq!(a, "fds=2 pid=1\n", "written to fd 3");
    ensure_eq!(b, "four\n", "written to fd 4");
    Ok(())
}

/// LISTEN_PID of another process (here 1): the variables belong to an ancestor, nothing is
/// passed and the container's environment gets no LISTEN_FDS.
fn other_pid_ignored(ctx: &Ctx) -> TResult {
    let (a, b, out) = run_activated(ctx, Some("1"))?;
    ensure_eq!(out.trim(), "done", "container output");
    ensure!(
        a.is_empty() && b.is_empty(),
        "the container wrote to the fds: {a:?} {b:?}"
    );
    Ok(())
}
