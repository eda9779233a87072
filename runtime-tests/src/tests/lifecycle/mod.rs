//! runtime.md "Lifecycle" and "Operations": create, start, `run` (kill and delete: stop.rs).
mod stop;

use super::{cmdline, sleeper, state_pid, wait_started};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, sys};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("lifecycle";
        create_does_not_run_process, start_runs_process, process_exit_stops,
        config_change_after_create_ignored, start_not_created_fails, run_foreground_exit_status,
        run_detached, create_pid_file, pid_file_temp_symlink);
    // runc 1.1.5 refuses the config at create ("process property must not be empty").
    v.push(
        Test::new("lifecycle::create_without_process", create_without_process)
            .deviates("runc", "create fails without process"),
    );
    v.extend(stop::tests());
    v
}

fn create_does_not_run_process(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create(&b)?;
    let st = ctx.state(&b.id)?;
    ensure_eq!(st["status"], "created", "status after create");
    let pid = state_pid(&st)?;
    ensure!(sys::alive(pid), "state pid {pid} is not a live process");
    // The user program must not have been executed yet: no mark, and the init is not the probe.
    ensure!(
        !out.join("started").exists(),
        "the process ran before start"
    );
    ensure!(
        cmdline(pid).first().map(String::as_str) != Some("/probe"),
        "init already execs the probe: {:?}",
        cmdline(pid)
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn start_runs_process(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let st = ctx.state(&b.id)?;
    ensure_eq!(st["status"], "running", "status after start");
    let pid = state_pid(&st)?;
    ensure_eq!(
        cmdline(pid).first().map(String::as_str),
        Some("/probe"),
        "argv[0] of the state pid"
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn process_exit_stops(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    ctx.create_start(&b)?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    let out = ctx.rt(&["state", &b.id])?;
    ensure!(
        !out.ok() && out.stderr.contains("does not exist"),
        "state after delete: {}",
        out.describe()
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// runtime.md: "Any updates to config.json after this step MUST NOT affect the container."
fn config_change_after_create_ignored(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    ctx.create(&b)?;
    b.args(&["/probe", "write", "/out/changed", "x"]);
    b.write()?;
    ctx.start(&b.id)?;
    wait_started(&out)?;
    ensure!(
        !out.join("changed").exists(),
        "start ran the args written after create"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// runtime.md Start: a container that is not `created` -> error and no effect.
fn start_not_created_fails(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let again = ctx.rt(&["start", &b.id])?;
    ensure!(!again.ok(), "second start succeeded");
    let st = ctx.state(&b.id)?;
    ensure!(
        st["status"] == "running" && state_pid(&st)? == pid,
        "second start changed the container: {st}"
    );
    ctx.rt(&["kill", &b.id, "KILL"])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    ensure!(
        !ctx.rt(&["start", &b.id])?.ok(),
        "start of a stopped container succeeded"
    );
    ensure_eq!(
        ctx.status(&b.id)?,
        "stopped",
        "status after start of a stopped container"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `run` without -d: the container's stdout passes through and its exit status is returned;
/// the container is deleted afterwards.
fn run_foreground_exit_status(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "3", "hello from the container"]);
    let out = ctx.run(&b, &[])?;
    ensure_eq!(
        out.code(),
        Some(3),
        "exit status of run ({})",
        out.describe()
    );
    ensure!(
        out.stdout.contains("hello from the container"),
        "stdout {:?}",
        out.stdout
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn run_detached(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.run(&b, &["-d"])?.check()?;
    wait_started(&out)?;
    ensure_eq!(ctx.status(&b.id)?, "running", "status after run -d");
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn create_pid_file(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let pid_file = ctx.path("init.pid");
    let (dir, pf) = (b.dir.to_string_lossy(), pid_file.to_string_lossy());
    ctx.rt(&["create", "--bundle", &dir, "--pid-file", &pf, &b.id])?
        .check()?;
    let text = std::fs::read_to_string(&pid_file).ctx("read the pid file")?;
    let pid: i32 = text
        .trim()
        .parse()
        .ctx(format!("pid file content {text:?}"))?;
    ensure_eq!(pid, state_pid(&ctx.state(&b.id)?)?, "pid file vs state pid");
    Ok(ctx.destroy(&b.id)?)
}

/// security.md: the pid file is written through a temp file beside it; a symlink planted
/// at the temp name (strata's `.NAME.tmp`, runc's `.NAME`) pointing at a host file must
/// not make the runtime write there. Failing the create is a safe outcome too.
fn pid_file_temp_symlink(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let dir = ctx.host_dir("pid")?;
    let canary = ctx.path("canary");
    std::fs::write(&canary, "canary").ctx("write canary")?;
    for tmp in [".init.pid.tmp", ".init.pid"] {
        std::os::unix::fs::symlink(&canary, dir.join(tmp)).ctx("plant symlink")?;
    }
    let pid_file = dir.join("init.pid");
    let (bd, pf) = (b.dir.to_string_lossy(), pid_file.to_string_lossy());
    let out = ctx.rt(&["create", "--bundle", &bd, "--pid-file", &pf, &b.id])?;
    let text = std::fs::read_to_string(&canary).ctx("read canary")?;
    ensure_eq!(text, "canary", "the host file behind the planted symlink");
    if out.ok() {
        let got = std::fs::read_to_string(&pid_file).ctx("read the pid file")?;
        let want = state_pid(&ctx.state(&b.id)?)?;
        ensure_eq!(got.trim(), want.to_string(), "pid file vs state pid");
        ensure!(
            !std::fs::symlink_metadata(&pid_file)
                .ctx("lstat pid file")?
                .file_type()
                .is_symlink(),
            "the pid file is a symlink"
        );
        ctx.destroy(&b.id)?;
    }
    Ok(())
}

/// config.md: `process` is REQUIRED only when start is called. `create` without it
/// succeeds; `start` fails in one line, leaves the container stopped, and `delete` cleans up.
fn create_without_process(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    if let Some(c) = b.config.as_object_mut() {
        c.remove("process");
    }
    ctx.create(&b)?;
    ensure_eq!(ctx.status(&b.id)?, "created", "status after create");
    let out = ctx.rt(&["start", &b.id])?;
    super::one_line_error(&out)?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}
