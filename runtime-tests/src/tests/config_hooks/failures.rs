//! Hook failures and timeouts (runtime.md Lifecycle: a failing hook before the user process
//! runs is an error that stops the container; poststop hooks still run), and bad timeouts.
use super::{add_hook, log, POSTSTART};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::tests::{one_line_error, require, sleeper, state_pid};
use crate::{ensure, ensure_eq, sys};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("config_hooks"; failing_create_hooks, timeout, timeout_unread_stdin);
    // runc 1.1.5 says `error running hook #1: ...`; later runc names the kind.
    v.push(
        Test::new("config_hooks::failure_names_hook", failure_names_hook)
            .deviates("runc", "does not name the hook's kind in the error"),
    );
    // runc 1.1.5 runs startContainer hooks in its init after `start` has returned, so their
    // failure never reaches the caller (runtime.md Lifecycle step 7: MUST generate an error).
    let why = "start succeeds although a startContainer hook failed";
    v.push(
        Test::new(
            "config_hooks::start_container_failure",
            start_container_failure,
        )
        .deviates("runc", why),
    );
    v.push(
        Test::new("config_hooks::poststart_failure", poststart_failure).deviates("runc", POSTSTART),
    );
    // runc kills only the hook's own process and then waits for its stdout pipe, which the
    // hook's child holds: it returns after the child's full sleep (security.md: kill the
    // hook's process group, do not wait for pipe EOF).
    v.push(
        Test::new(
            "config_hooks::timeout_kills_hook_children",
            timeout_kills_hook_children,
        )
        .deviates("runc", "waits for a timed-out hook's children"),
    );
    v
}

/// Lifecycle steps 3-5: a failing prestart, createRuntime or createContainer hook fails
/// `create` with one line and nothing left; the container is destroyed and (step 13)
/// poststop hooks still run.
fn failing_create_hooks(ctx: &Ctx) -> TResult {
    let mut errors = vec![];
    for kind in ["prestart", "createRuntime", "createContainer"] {
        if let Err(e) = failing_create_hook(ctx, kind) {
            errors.push(format!("{kind} failing: {e}"));
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(())
}

fn failing_create_hook(ctx: &Ctx, kind: &str) -> Result<(), String> {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, kind, true);
    add_hook(ctx, &mut b, &out, "poststop", false);
    b.write()?;
    let res = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    if res.ok() {
        ctx.destroy(&b.id)?;
        return Err("create succeeded".into());
    }
    ctx.ensure_clean(None, &b.cgroups_path())?;
    one_line_error(&res)?;
    let got = log(&out);
    require(
        got == [kind, "poststop"],
        format!("hooks run: got {got:?}, want [{kind:?}, \"poststop\"]"),
    )
}

/// Deletes what a failed `start` may have left (the container may be stopped or gone) and
/// checks the user process never ran, poststop ran once and nothing is left.
fn after_failed_start(ctx: &Ctx, b: &Bundle, out: &Path, pid: i32, first: &str) -> TResult {
    ensure!(
        sys::wait_for(30, || !sys::alive(pid)),
        "init {pid} still alive after the failed start"
    );
    let st = ctx.rt(&["state", &b.id])?;
    if st.ok() {
        ensure_eq!(
            ctx.status(&b.id)?,
            "stopped",
            "status after the failed start"
        );
        ctx.rt(&["delete", &b.id])?.check()?;
    }
    ensure_eq!(log(out), [first, "poststop"], "hooks run");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// Lifecycle step 7: a failing startContainer hook fails `start`, stops the container
/// before the user process runs, and poststop hooks run when it is destroyed.
fn start_container_failure(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "startContainer", true);
    add_hook(ctx, &mut b, &out, "poststop", false);
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let res = ctx.rt(&["start", &b.id])?;
    ensure!(
        !res.ok(),
        "start with a failing startContainer hook succeeded"
    );
    ensure!(!out.join("started").exists(), "the user process ran");
    after_failed_start(ctx, &b, &out, pid, "startContainer")
}

/// Lifecycle step 9 (runtime-spec 1.1+): "If any poststart hook fails, the runtime MUST
/// generate an error, stop the container, and continue the lifecycle at step 12."
fn poststart_failure(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "poststart", true);
    add_hook(ctx, &mut b, &out, "poststop", false);
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let res = ctx.rt(&["start", &b.id])?;
    ensure!(
        !res.ok(),
        "start with a failing poststart hook succeeded: {}",
        res.describe()
    );
    after_failed_start(ctx, &b, &out, pid, "poststart")
}

/// `timeout` aborts the hook: create fails without waiting for the hook's 10 s sleep. The
/// bound is only there to tell "aborted" from "waited it out".
fn timed_out(ctx: &Ctx, hook: Value) -> TResult {
    timed_out_with(ctx, hook, json!({}))
}

fn timed_out_with(ctx: &Ctx, hook: Value, annotations: Value) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["annotations"] = annotations;
    b.config["hooks"]["createRuntime"] = json!([hook]);
    b.write()?;
    let t0 = Instant::now();
    let res = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    let took = t0.elapsed();
    ensure!(!res.ok(), "create with a hanging hook succeeded");
    ensure!(
        took.as_secs() < 8,
        "create took {took:?}: it waited for the hook's 10 s sleep instead of its 1 s timeout"
    );
    ctx.ensure_clean(None, &b.cgroups_path())?;
    Ok(one_line_error(&res)?)
}

fn timeout(ctx: &Ctx) -> TResult {
    let env = [format!("RUNTIME_TESTS_TAG={}", ctx.tag)];
    timed_out(
        ctx,
        json!({"path": "/bin/sleep", "args": ["sleep", "10"], "env": env, "timeout": 1}),
    )
}

/// The hook's shell forks the sleep, which inherits the hook's stdout and stderr.
fn timeout_kills_hook_children(ctx: &Ctx) -> TResult {
    let env = [
        format!("RUNTIME_TESTS_TAG={}", ctx.tag),
        "PATH=/usr/bin:/bin".into(),
    ];
    let args = ["sh", "-c", "sleep 10; true"];
    timed_out(
        ctx,
        json!({"path": "/bin/sh", "args": args, "env": env, "timeout": 1}),
    )
}

/// security.md: writing the state to a hook's stdin counts within its timeout. A hook that
/// never reads, given a state bigger than a pipe holds (64 KiB of annotations), times out
/// like any other instead of hanging the runtime.
fn timeout_unread_stdin(ctx: &Ctx) -> TResult {
    let env = [format!("RUNTIME_TESTS_TAG={}", ctx.tag)];
    let big: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("org.example.big{i}"), json!("x".repeat(4096))))
        .collect();
    timed_out_with(
        ctx,
        json!({"path": "/bin/sleep", "args": ["sleep", "10"], "env": env, "timeout": 1}),
        Value::Object(big),
    )
}

/// runc's wording, which callers match: `error running KIND hook #N: ...`, N counting from 0.
fn failure_names_hook(ctx: &Ctx) -> TResult {
    let mut errors = vec![];
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let (mut b, _) = sleeper(ctx)?;
        b.config["hooks"][kind] = json!([{"path": "/bin/true"}, {"path": "/bin/false"}]);
        b.write()?;
        let res = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
        if res.ok() {
            ctx.destroy(&b.id)?;
            errors.push(format!("{kind}: create succeeded"));
            continue;
        }
        let want = format!("error running {kind} hook #1");
        if !res.stderr.contains(&want) {
            errors.push(format!("{kind}: no {want:?} in {:?}", res.stderr.trim()));
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(())
}
