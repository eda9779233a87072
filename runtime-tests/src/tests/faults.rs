//! security.md "Faults": pid reuse after the init dies out of band, concurrent creates of one
//! id, `list` while containers are being deleted.
use super::{sleeper, state_pid, wait_started};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::runtime::run_logged;
use crate::{cgroups, ensure, ensure_eq, sys};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("faults"; init_killed_out_of_band);
    // runc 1.1.5 checks that the state dir does not exist, then creates it with MkdirAll
    // (which succeeds if it does): two racing creates can both "win".
    v.push(
        Test::new("faults::parallel_creates_one_id", parallel_creates_one_id)
            .deviates_sometimes("runc", "parallel creates of one id can both succeed"),
    );
    // runc 1.1.5's `list` stats each state dir it has just listed and fails when one has
    // gone in between (security.md: readers tolerate ENOENT).
    v.push(
        Test::new("faults::list_during_delete", list_during_delete).deviates_sometimes(
            "runc",
            "list fails when a container disappears while it lists",
        ),
    );
    v
}

/// Tries to start a host process (the probe sleeping, tagged) that gets pid `pid`, by setting
/// `ns_last_pid` just below it. Other processes may win the race; then there is no impostor.
fn impostor_at(ctx: &Ctx, pid: i32) -> Result<Option<Child>, String> {
    let sigfile = ctx.path("impostor-signal");
    for _ in 0..50 {
        let _ = std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string());
        let mut child = Command::new(&ctx.probe)
            .args(["sleep", "--sigfile"])
            .arg(&sigfile)
            .env("RUNTIME_TESTS_TAG", &ctx.tag)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ctx("spawn the impostor")?;
        if child.id() as i32 == pid {
            return Ok(Some(child));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(None)
}

/// SIGKILL the init behind the runtime's back: `state` says stopped, `kill` fails with
/// "container not running", and neither it nor `delete --force` signals a process that has
/// taken over the pid.
fn init_killed_out_of_band(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    sys::kill9(pid);
    ensure!(
        sys::wait_for(30, || !std::path::Path::new(&format!("/proc/{pid}"))
            .exists()),
        "the killed init {pid} was never reaped"
    );
    let mut impostor = impostor_at(ctx, pid)?;
    if impostor.is_none() {
        eprintln!("note: pid {pid} could not be reused; the impostor checks did not run");
    }
    ctx.wait_status(&b.id, "stopped")?;
    let kill = ctx.rt(&["kill", &b.id, "TERM"])?;
    ensure!(!kill.ok(), "kill of a dead init succeeded");
    ensure!(
        kill.stderr.contains("container not running"),
        "stderr lacks 'container not running': {}",
        kill.describe()
    );
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    if let Some(child) = impostor.as_mut() {
        // A signal sent by kill or delete is pending by now; give the handler a moment to
        // record it (this wait never makes the test pass, only lets it see a failure).
        let sig = ctx.path("impostor-signal");
        sys::wait_for(1, || sig.exists() || !sys::alive(pid));
        ensure!(
            sys::alive(pid) && !sig.exists(),
            "the process that reused pid {pid} was signalled"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// 20 `create`s of one id at once: exactly one wins; the others fail without touching the
/// winner (its state, init and cgroup) and leave nothing of their own.
fn parallel_creates_one_id(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    b.write()?;
    let logs = ctx.host_dir("parallel")?;
    let cmds: Vec<Command> = (0..20)
        .map(|_| {
            let mut cmd = ctx.command();
            cmd.arg("--root")
                .arg(&ctx.root)
                .args(["create", "--bundle"]);
            cmd.arg(&b.dir).arg(&b.id);
            cmd
        })
        .collect();
    let results: Vec<Result<crate::runtime::Out, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = cmds
            .into_iter()
            .enumerate()
            .map(|(i, cmd)| {
                let log = logs.join(i.to_string());
                s.spawn(move || run_logged(cmd, &log))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let outs: Vec<_> = results.into_iter().collect::<Result<_, _>>()?;
    let won = outs.iter().filter(|o| o.ok()).count();
    ensure_eq!(won, 1, "creates that succeeded");
    let st = ctx.state(&b.id)?;
    ensure_eq!(st["status"], "created", "status of the winner");
    let pid = state_pid(&st)?;
    let mut others = vec![];
    let settled = sys::wait_for(10, || {
        others = sys::tagged_pids(&ctx.tag);
        others.retain(|p| *p != pid);
        others.is_empty()
    });
    ensure!(settled, "processes besides the winner's init: {others:?}");
    let dirs = cgroups::dirs(&b.cgroups_path());
    ensure!(
        !dirs.is_empty() && dirs.iter().all(|d| cgroups::pids(d) == vec![pid]),
        "the winner's cgroup does not hold exactly its init {pid}: {dirs:?}"
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(None, &b.cgroups_path())?)
}

/// `list` (table and json) keeps succeeding while 8 containers are deleted one by one.
fn list_during_delete(ctx: &Ctx) -> TResult {
    let mut ids = vec![];
    for _ in 0..8 {
        let (b, _) = sleeper(ctx)?;
        ctx.create_start(&b)?;
        ids.push(b.id);
    }
    let logs = ctx.host_dir("deletes")?;
    let deletes: Vec<Command> = ids
        .iter()
        .map(|id| {
            let mut cmd = ctx.command();
            cmd.arg("--root")
                .arg(&ctx.root)
                .args(["delete", "--force", id]);
            cmd
        })
        .collect();
    let done = AtomicBool::new(false);
    let (lists, deleted) = std::thread::scope(|s| {
        let deleter = s.spawn(|| {
            let mut res = vec![];
            for (i, cmd) in deletes.into_iter().enumerate() {
                res.push(run_logged(cmd, &logs.join(i.to_string())));
            }
            done.store(true, Ordering::SeqCst);
            res
        });
        let mut lists = vec![];
        while !done.load(Ordering::SeqCst) {
            lists.push(ctx.rt(&["list"]));
            lists.push(ctx.rt(&["list", "--format", "json"]));
        }
        (lists, deleter.join().unwrap_or_default())
    });
    for d in deleted {
        d?.check()?;
    }
    for l in &lists {
        let out = l.as_ref().map_err(Clone::clone)?;
        ensure!(out.ok(), "list failed during delete: {}", out.describe());
        if out.cmdline.contains("json") {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out.stdout);
            ensure!(
                parsed.is_ok(),
                "list --format json printed {:?}",
                out.stdout
            );
        }
    }
    ensure!(!lists.is_empty(), "no list ran during the deletes");
    for id in &ids {
        ctx.ensure_clean(None, &format!("/runtime-tests/{id}"))?;
    }
    Ok(())
}
