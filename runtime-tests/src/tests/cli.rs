//! The runc command line as callers use it (callers.md): flag spellings, logging, defaults.
//! Only forms runc 1.1.5 itself accepts are tested (its CLI takes global flags only before
//! the subcommand).
use super::{sleeper, state_pid};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::Value;

pub fn tests() -> Vec<Test> {
    crate::tests!("cli";
        version, one_dash_long_flags, flag_equals_value, bundle_defaults_to_cwd, log_format_json,
        rootless_false_accepted, missing_id_fails, delete_created_without_force,
        state_to_closed_pipe)
}

fn version(ctx: &Ctx) -> TResult {
    let mut cmd = ctx.command();
    cmd.arg("--version");
    let out = ctx.exec(cmd)?.check()?;
    ensure!(
        out.stdout.contains("version"),
        "--version printed {:?}",
        out.stdout
    );
    Ok(())
}

/// `-root R create -bundle B ID` (Go's flag package style; containerd's shim sends such flags).
fn one_dash_long_flags(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let mut cmd = ctx.command();
    cmd.arg("-root")
        .arg(&ctx.root)
        .arg("create")
        .arg("-bundle")
        .arg(&b.dir)
        .arg(&b.id);
    ctx.exec(cmd)?.check()?;
    ensure_eq!(ctx.status(&b.id)?, "created", "status");
    Ok(ctx.destroy(&b.id)?)
}

fn flag_equals_value(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let pid_file = ctx.path("init.pid");
    let mut cmd = ctx.command();
    cmd.arg(format!("--root={}", ctx.root.display()))
        .arg("create")
        .arg(format!("--bundle={}", b.dir.display()))
        .arg(format!("--pid-file={}", pid_file.display()))
        .arg(&b.id);
    ctx.exec(cmd)?.check()?;
    let text = std::fs::read_to_string(&pid_file).ctx("pid file")?;
    ensure_eq!(
        text.trim().parse::<i32>().ok(),
        Some(state_pid(&ctx.state(&b.id)?)?),
        "pid file"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `create` without --bundle uses the current directory.
fn bundle_defaults_to_cwd(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let mut cmd = ctx.command();
    cmd.current_dir(&b.dir)
        .arg("--root")
        .arg(&ctx.root)
        .arg("create")
        .arg(&b.id);
    ctx.exec(cmd)?.check()?;
    let st = ctx.state(&b.id)?;
    let same = st["bundle"]
        .as_str()
        .and_then(|p| std::fs::canonicalize(p).ok())
        == std::fs::canonicalize(&b.dir).ok();
    ensure!(
        same,
        "state bundle {} is not {}",
        st["bundle"],
        b.dir.display()
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `--log F --log-format json`: logrus-shaped lines; containerd reads the last `error` msg.
fn log_format_json(ctx: &Ctx) -> TResult {
    let log = ctx.path("log.json");
    let mut cmd = ctx.command();
    cmd.arg("--root")
        .arg(&ctx.root)
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "state", &ctx.new_id()]);
    let out = ctx.exec(cmd)?;
    ensure!(!out.ok(), "state of a missing container succeeded");
    let text = std::fs::read_to_string(&log).ctx("read the --log file")?;
    let mut found = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).ctx(format!("log line {line:?} is not JSON"))?;
        for key in ["level", "msg", "time"] {
            ensure!(v[key].is_string(), "log line {line:?} lacks string {key:?}");
        }
        found |= v["level"] == "error"
            && v["msg"]
                .as_str()
                .is_some_and(|m| m.contains("does not exist"));
    }
    ensure!(
        found,
        "no {{\"level\":\"error\"}} line mentioning 'does not exist' in {text:?}"
    );
    Ok(())
}

/// go-runc passes `--rootless=false` as a global flag.
fn rootless_false_accepted(ctx: &Ctx) -> TResult {
    let mut cmd = ctx.command();
    cmd.arg("--rootless=false")
        .arg("--root")
        .arg(&ctx.root)
        .arg("list");
    ctx.exec(cmd)?.check()?;
    Ok(())
}

/// runtime.md: every operation "MUST generate an error if it is not provided the container ID".
fn missing_id_fails(ctx: &Ctx) -> TResult {
    for verb in ["state", "start", "kill", "delete"] {
        let out = ctx.rt(&[verb])?;
        ensure!(!out.ok(), "`{verb}` without an id succeeded");
    }
    Ok(())
}

/// Deliberately NOT runtime.md's rule ("delete of a container that is not stopped MUST
/// generate an error"): containerd's shim deletes a task that was created but never started
/// with a plain `runc delete ID` (no --force) and relies on runc tearing it down. A drop-in
/// replacement must do the same.
fn delete_created_without_force(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    ctx.rt(&["delete", &b.id])?.check()?;
    ensure!(
        crate::sys::wait_for(10, || !crate::sys::alive(pid)),
        "init {pid} alive after delete"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `strata state ID | head -c0`: a reader that has gone is no error. runc (Go) dies of SIGPIPE
/// without a word; a panic message or an error line would be noise in scripts.
fn state_to_closed_pipe(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    let cmd = ctx.create_command(&b)?;
    ctx.exec(cmd)?.check()?;
    // The read end is closed before the runtime starts, so its write gets EPIPE for sure.
    let (reader, writer) = std::io::pipe().ctx("pipe")?;
    drop(reader);
    let mut cmd = ctx.command();
    cmd.arg("--root").arg(&ctx.root).arg("state").arg(&b.id);
    cmd.stdout(writer).stderr(std::process::Stdio::piped());
    let out = cmd.output().ctx("run state")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        stderr.trim().is_empty(),
        "state into a closed pipe printed {stderr:?} (status {:?})",
        out.status
    );
    Ok(ctx.destroy(&b.id)?)
}
