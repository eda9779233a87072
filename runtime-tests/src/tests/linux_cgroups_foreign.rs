//! config-linux.md "Control groups" with a cgroupsPath naming a cgroup the runtime did not
//! make (security.md: a foreign or root cgroup named by cgroupsPath): the root is refused, a
//! cgroup that was there before survives a failed create and a delete with its processes,
//! and `delete --force` with someone else's process in the container's cgroup does what
//! runc 1.1 does: with a pid namespace only the container dies (exit 0, the busy cgroup
//! stays); without one everything in the cgroup is killed and the cgroup removed.
use super::{one_line_error, sleeper, state_pid, wait_started};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, ensure_eq, sys};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("linux_cgroups_foreign";
        populated_survives_delete_force, delete_force_spares_foreign,
        delete_force_without_pidns_kills_all);
    v.push(
        Test::new(
            "linux_cgroups_foreign::populated_survives_create_failure",
            populated_survives_create_failure,
        )
        .deviates_where(
            "runc",
            "with the systemd driver, runc 1.1.5's create in a unit that already holds another \
             process did not finish within 60 s (systemd guest, 2026-12-05)",
            crate::systemd::on,
        ),
    );
    v.push(
        Test::new(
            "linux_cgroups_foreign::root_path_refused",
            root_path_refused,
        )
        // runc's systemd driver refuses "/" (not slice:prefix:name), as the test wants.
        .deviates_where(
            "runc",
            "runc 1.1.5 accepts cgroupsPath \"/\": it puts the init in every hierarchy's root \
             cgroup, fails here on openat2 /sys/fs/cgroup/cpuset.cpus, and then tries to rmdir \
             each hierarchy's root",
            cgroupfs_driver,
        ),
    );
    v.push(
        Test::new(
            "linux_cgroups_foreign::empty_pre_existing_kept",
            empty_pre_existing_kept,
        )
        .deviates(
            "runc",
            "runc 1.1.5 removes the cgroup named by cgroupsPath at delete even when it existed \
             before the container",
        ),
    );
    v
}

/// A host process (tagged, so cleanup finds it) that is not the container's.
fn foreigner(ctx: &Ctx) -> Result<Child, String> {
    Command::new("/bin/sleep")
        .arg("300")
        .env("RUNTIME_TESTS_TAG", &ctx.tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ctx("spawn the foreign sleep")
}

/// The cgroupsPath `cg` in every hierarchy, made when missing (a v1 cpuset cgroup gets its
/// parent's cpus and mems, without which it takes no task), with `pid` moved into each.
fn join(cg: &str, pid: u32) -> Result<Vec<PathBuf>, String> {
    let mut dirs = Vec::new();
    for m in cgroups::mounts() {
        let d = m.join(cg.trim_start_matches('/'));
        std::fs::create_dir_all(&d).ctx(format!("mkdir {}", d.display()))?;
        for key in ["cpuset.cpus", "cpuset.mems"] {
            fill_down(&m, &d, key)?;
        }
        let procs = d.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .ctx(format!("move {pid} to {}", procs.display()))?;
        dirs.push(d);
    }
    Ok(dirs)
}

/// Copies a cpuset file down from `mount` to `dir` into every level where it is empty.
fn fill_down(mount: &Path, dir: &Path, key: &str) -> Result<(), String> {
    let Ok(rel) = dir.strip_prefix(mount) else {
        return Ok(());
    };
    let mut cur = mount.to_path_buf();
    for part in rel.components() {
        let above = std::fs::read_to_string(cur.join(key)).unwrap_or_default();
        cur.push(part);
        let here = std::fs::read_to_string(cur.join(key)).unwrap_or_default();
        if cur.join(key).exists() && here.trim().is_empty() && !above.trim().is_empty() {
            std::fs::write(cur.join(key), above.trim()).ctx(format!("set {key}"))?;
        }
    }
    Ok(())
}

/// Every directory in `dirs` still there with `pid` in it, and `pid` alive.
fn intact(dirs: &[PathBuf], pid: u32, when: &str) -> TResult {
    ensure!(
        sys::alive(pid as i32),
        "the foreign process {pid} died {when}"
    );
    for d in dirs {
        ensure!(d.is_dir(), "{} was removed {when}", d.display());
        ensure!(
            cgroups::pids(d).contains(&(pid as i32)),
            "{pid} no longer in {} {when}",
            d.display()
        );
    }
    Ok(())
}

/// Kills the foreigner and removes the cgroups the test made (or the runtime left).
fn finish(ctx: &Ctx, b: &Bundle, mut child: Child, dirs: &[PathBuf]) -> TResult {
    let _ = child.kill();
    let _ = child.wait();
    for d in dirs.iter().chain(cgroups::dirs(&b.cgroups_path()).iter()) {
        if d.exists() {
            cgroups::remove(d)?;
        }
    }
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// The state of `id` is gone.
fn no_state(ctx: &Ctx, id: &str) -> TResult {
    let st = ctx.rt(&["state", id])?;
    ensure!(!st.ok(), "state of {id} still there: {}", st.stdout);
    Ok(())
}

/// cgroupsPath "/" names each hierarchy's root (the host's own cgroup): refused in one line
/// that names the field, and nothing is made.
fn root_path_refused(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    b.config["linux"]["cgroupsPath"] = json!("/");
    // No limits: a runtime that accepts the path must not write the host's root cgroup.
    if let Some(l) = b.config["linux"].as_object_mut() {
        l.remove("resources");
    }
    b.write()?;
    let out = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    if out.ok() {
        // Never `delete` it: a runtime that took "/" may kill everything in the cgroup it
        // removes, which is every process on the host. Kill the init, drop the state entry
        // (so the harness's cleanup does not delete it either).
        if let Ok(pid) = ctx.state(&b.id).and_then(|s| state_pid(&s)) {
            sys::kill9(pid);
            sys::wait_for(5, || !sys::alive(pid));
        }
        let _ = sys::remove_tree(&ctx.root.join(&b.id));
        return Err("create accepted cgroupsPath \"/\" (the host's root cgroup)"
            .to_string()
            .into());
    }
    one_line_error(&out)?;
    ensure!(
        out.stderr.contains("cgroupsPath"),
        "the error does not name cgroupsPath: {}",
        out.describe()
    );
    Ok(ctx.ensure_clean(Some(&b.id), &format!("/runtime-tests/{}", b.id))?)
}

fn cgroupfs_driver() -> bool {
    !crate::systemd::on()
}

/// A cgroup that existed, with a process of someone else's in it, survives a create that
/// fails after the cgroups are set up (a bind mount of a missing source).
fn populated_survives_create_failure(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    b.mount(json!({"destination": "/mnt/missing", "type": "bind",
                   "source": "/nonexistent-runtime-tests-source", "options": ["bind"]}));
    let child = foreigner(ctx)?;
    let pid = child.id();
    let dirs = join(&b.cgroups_path(), pid)?;
    b.write()?;
    let out = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    let result = (|| -> TResult {
        ensure!(!out.ok(), "create with a missing bind source succeeded");
        intact(&dirs, pid, "after the failed create")?;
        no_state(ctx, &b.id)
    })();
    if out.ok() {
        let _ = ctx.destroy(&b.id);
    }
    result?;
    finish(ctx, &b, child, &dirs)
}

/// The same cgroup survives `delete --force` of a container that ran in it (with a pid
/// namespace: only the container's processes are killed).
fn populated_survives_delete_force(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    let child = foreigner(ctx)?;
    let pid = child.id();
    let dirs = join(&b.cgroups_path(), pid)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let init = state_pid(&ctx.state(&b.id)?)?;
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        sys::wait_for(5, || !sys::alive(init)),
        "init {init} survived"
    );
    intact(&dirs, pid, "after delete --force")?;
    no_state(ctx, &b.id)?;
    finish(ctx, &b, child, &dirs)
}

/// An empty cgroup that was there before the container stays after its delete: the runtime
/// removes only the cgroups it made.
fn empty_pre_existing_kept(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    let dirs: Vec<PathBuf> = cgroups::mounts()
        .iter()
        .map(|m| m.join(b.cgroups_path().trim_start_matches('/')))
        .collect();
    for d in &dirs {
        std::fs::create_dir_all(d).ctx(format!("mkdir {}", d.display()))?;
    }
    ctx.create_start(&b)?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    let gone: Vec<&PathBuf> = dirs.iter().filter(|d| !d.is_dir()).collect();
    for d in &dirs {
        if d.exists() {
            cgroups::remove(d)?;
        }
    }
    ensure!(
        gone.is_empty(),
        "pre-existing cgroups removed by delete: {gone:?}"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// A host process joins the container's (runtime-made) cgroup. `delete --force` kills the
/// container, not it, succeeds, and removes the state; the cgroup it holds stays.
fn delete_force_spares_foreign(ctx: &Ctx) -> TResult {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let init = state_pid(&ctx.state(&b.id)?)?;
    let child = foreigner(ctx)?;
    let pid = child.id();
    let dirs = join(&b.cgroups_path(), pid)?;
    let del = ctx.rt(&["delete", "--force", &b.id])?;
    ensure!(del.ok(), "delete --force failed: {}", del.describe());
    ensure!(
        sys::wait_for(5, || !sys::alive(init)),
        "init {init} survived"
    );
    intact(&dirs, pid, "after delete --force")?;
    no_state(ctx, &b.id)?;
    finish(ctx, &b, child, &dirs)
}

/// Without a pid namespace, killing the init kills nothing else, so `delete --force` kills
/// everything in the container's cgroup (the host process that joined it too, as runc does)
/// and removes the cgroup.
fn delete_force_without_pidns_kills_all(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    b.without_namespace("pid");
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let mut child = foreigner(ctx)?;
    let pid = child.id();
    join(&b.cgroups_path(), pid)?;
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    let died = sys::wait_for(5, || !sys::alive(pid as i32));
    let _ = child.kill();
    let _ = child.wait();
    ensure!(died, "the process in the container's cgroup survived");
    ensure_eq!(
        cgroups::dirs(&b.cgroups_path()),
        Vec::<PathBuf>::new(),
        "cgroups left"
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}
