//! runtime.md "Kill" and "Delete".
use crate::ctx::{read_host, Ctx};
use crate::harness::{TResult, Test};
use crate::tests::{cmdline, sleeper, state_pid, wait_started};
use crate::{ensure, ensure_eq, sys};

pub fn tests() -> Vec<Test> {
    crate::tests!("lifecycle";
        kill_default_is_sigterm, kill_signal_forms, kill_created, kill_stopped_fails, kill_all,
        delete_running_needs_force, delete_missing_fails, delete_force_missing_succeeds)
}

fn kill_default_is_sigterm(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    ctx.rt(&["kill", &b.id])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    ensure_eq!(
        read_host(&out.join("signal")).as_deref().map(str::trim),
        Some("15"),
        "signal received"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// Numbers, names and SIG-prefixed names are all accepted.
fn kill_signal_forms(ctx: &Ctx) -> TResult {
    for (form, caught) in [
        ("9", None),
        ("KILL", None),
        ("SIGKILL", None),
        ("USR1", Some("10")),
        ("SIGUSR2", Some("12")),
    ] {
        let (b, out) = sleeper(ctx)?;
        ctx.create_start(&b)?;
        wait_started(&out)?;
        ctx.rt(&["kill", &b.id, form])?.check()?;
        ctx.wait_status(&b.id, "stopped")?;
        if let Some(sig) = caught {
            ensure_eq!(
                read_host(&out.join("signal")).as_deref().map(str::trim),
                Some(sig),
                "signal for {form}"
            );
        }
        ctx.rt(&["delete", &b.id])?.check()?;
    }
    Ok(())
}

/// runtime.md Kill: a `created` container can be signalled.
fn kill_created(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    ctx.rt(&["kill", &b.id, "KILL"])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// runtime.md Kill: neither created nor running -> error. containerd matches the phrase.
fn kill_stopped_fails(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    ctx.create_start(&b)?;
    ctx.wait_status(&b.id, "stopped")?;
    let out = ctx.rt(&["kill", &b.id, "KILL"])?;
    ensure!(!out.ok(), "kill of a stopped container succeeded");
    ensure!(
        out.stderr.contains("container not running"),
        "stderr lacks 'container not running': {}",
        out.describe()
    );
    ensure_eq!(
        ctx.status(&b.id)?,
        "stopped",
        "status after the failed kill"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `kill --all` reaches every process of the container, not only the init. Without a pid
/// namespace the children would survive the init, so this really tests --all.
fn kill_all(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    b.without_namespace("pid");
    b.args(&[
        "/probe",
        "sleep",
        "--children",
        "2",
        "--mark",
        "/out/started",
    ]);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let probes = || -> Vec<i32> {
        let all = sys::tagged_pids(&ctx.tag);
        all.into_iter()
            .filter(|p| cmdline(*p).first().map(String::as_str) == Some("/probe"))
            .collect()
    };
    let mut pids = vec![];
    ensure!(
        sys::wait_for(10, || {
            pids = probes();
            pids.len() == 3
        }),
        "expected the init and 2 children, found {pids:?}"
    );
    ctx.rt(&["kill", "--all", &b.id, "KILL"])?.check()?;
    ensure!(
        sys::wait_for(30, || pids.iter().all(|p| !sys::alive(*p))),
        "processes survive kill --all"
    );
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// runtime.md Delete: not stopped -> error and no effect; `--force` kills first.
fn delete_running_needs_force(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    ensure!(
        !ctx.rt(&["delete", &b.id])?.ok(),
        "delete of a running container succeeded"
    );
    ensure_eq!(
        ctx.status(&b.id)?,
        "running",
        "status after the refused delete"
    );
    ensure!(sys::alive(pid), "the refused delete killed the init");
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        sys::wait_for(10, || !sys::alive(pid)),
        "init {pid} alive after delete --force"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn delete_missing_fails(ctx: &Ctx) -> TResult {
    let id = ctx.new_id();
    let out = ctx.rt(&["delete", &id])?;
    ensure!(!out.ok(), "delete of a missing container succeeded");
    ensure!(
        out.stderr.contains("does not exist"),
        "stderr lacks 'does not exist': {}",
        out.describe()
    );
    Ok(())
}

/// callers.md: containerd deletes with --force whatever it may have half-made; a missing
/// container is then success (runc 1.1.5 exits 0 too).
fn delete_force_missing_succeeds(ctx: &Ctx) -> TResult {
    let id = ctx.new_id();
    ctx.rt(&["delete", "--force", &id])?.check()?;
    Ok(ctx.ensure_clean(Some(&id), &format!("/runtime-tests/{id}"))?)
}
