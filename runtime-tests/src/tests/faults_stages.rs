//! security.md "Faults" that need the runtime interrupted or starved: SIGKILL at each create
//! stage (a hook holds the runtime there), a state dir without a state file, an init that
//! dies before `start`, a full / read-only state root, a tiny fd limit, and a container whose
//! processes sit in sub-cgroups of its cgroup.
use super::{one_line_error, sleeper, state_pid, wait_started};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, sys};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("faults_stages";
        delete_dir_without_state, init_dies_before_start, root_on_full_tmpfs, root_read_only,
        cgroup_stragglers);
    // runc 1.1.5 writes state.json only once the init is ready, after the create hooks: a
    // create killed in one leaves a directory without it, and `delete --force` then removes
    // the directory but not the cgroup (the init itself dies with its parent).
    const KILLED: &str = "a create killed in a create hook leaves its cgroup behind";
    v.push(
        Test::new("faults_stages::killed_in_prestart", killed_in_prestart).deviates("runc", KILLED),
    );
    v.push(
        Test::new(
            "faults_stages::killed_in_create_runtime",
            killed_in_create_runtime,
        )
        .deviates("runc", KILLED),
    );
    v.push(
        Test::new(
            "faults_stages::killed_in_create_container",
            killed_in_create_container,
        )
        .deviates("runc", KILLED),
    );
    // Go's runtime aborts with a multi-line goroutine dump when it cannot get an epoll fd.
    v.push(
        Test::new("faults_stages::low_fd_limit", low_fd_limit).deviates(
            "runc",
            "under `ulimit -n 4` it dies with a Go stack dump, not one line",
        ),
    );
    v
}

/// A create hook that marks `at-<name>` in `D`, then holds the runtime until `D/go` exists
/// (at most a minute, so nothing hangs if the test dies).
const HOLD: &str = r#"echo > "$D/at-$0"; i=0; while [ ! -e "$D/go" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"#;

/// SIGKILLs `create` while the `stage` hook runs (every create hook runs before pivot_root, so
/// host paths work for all of them), then: `state` parses or says the container does not
/// exist, `delete --force` exits 0, and nothing is left.
fn killed_at(ctx: &Ctx, stage: &str) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    let d = ctx.host_dir("hook")?;
    let env = [
        format!("D={}", d.display()),
        format!("RUNTIME_TESTS_TAG={}", ctx.tag),
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    ];
    b.config["hooks"][stage] =
        json!([{"path": "/bin/sh", "args": ["sh", "-c", HOLD, stage], "env": env}]);
    b.write()?;
    let log = ctx.path("create.log");
    let mut cmd = ctx.command();
    cmd.arg("--root")
        .arg(&ctx.root)
        .args(["create", "--bundle"])
        .arg(&b.dir)
        .arg(&b.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).ctx("create log")?);
    let mut child = cmd.spawn().ctx("spawn create")?;
    let reached = sys::wait_for(30, || d.join(format!("at-{stage}")).exists());
    let _ = child.kill();
    let status = child.wait().ctx("wait for create")?;
    std::fs::write(d.join("go"), "").ctx("release the hook")?;
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    ensure!(
        reached,
        "the {stage} hook never ran (create: {status}; {stderr:?})"
    );
    state_parses_or_absent(ctx, &b.id)?;
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `state` after a crash: a parsable document, or a failure saying there is no container.
fn state_parses_or_absent(ctx: &Ctx, id: &str) -> Result<(), String> {
    let out = ctx.rt(&["state", id])?;
    if out.ok() {
        serde_json::from_str::<Value>(&out.stdout)
            .map(drop)
            .ctx(format!("state output {:?}", out.stdout))
    } else if out.stderr.contains("not exist") {
        Ok(())
    } else {
        Err(format!(
            "state neither parses nor says absent: {}",
            out.describe()
        ))
    }
}

fn killed_in_prestart(ctx: &Ctx) -> TResult {
    killed_at(ctx, "prestart")
}

fn killed_in_create_runtime(ctx: &Ctx) -> TResult {
    killed_at(ctx, "createRuntime")
}

fn killed_in_create_container(ctx: &Ctx) -> TResult {
    killed_at(ctx, "createContainer")
}

/// A create killed between claiming the id and its first state write leaves a bare dir.
fn delete_dir_without_state(ctx: &Ctx) -> TResult {
    let id = ctx.new_id();
    std::fs::create_dir_all(ctx.root.join(&id)).ctx("mkdir the state dir")?;
    ctx.rt(&["delete", "--force", &id])?.check()?;
    ensure!(
        !ctx.root.join(&id).exists(),
        "delete --force left the state dir"
    );
    Ok(())
}

/// The init is SIGKILLed while created: `start` fails with one line (the command timeout only
/// catches a hang), the container reads as stopped and deletes cleanly.
fn init_dies_before_start(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    sys::kill9(pid);
    let out = ctx.rt(&["start", &b.id])?;
    one_line_error(&out)?;
    ctx.wait_status(&b.id, "stopped")?;
    ctx.rt(&["delete", &b.id])?.check()?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// Mounts a tmpfs (`data`, read-only if `ro`) on the state root.
fn mount_root(ctx: &Ctx, data: &str, ro: bool) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    std::fs::create_dir_all(&ctx.root).ctx("mkdir root")?;
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if ro {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(Some("tmpfs"), &ctx.root, Some("tmpfs"), flags, Some(data)).ctx("mount tmpfs on root")
}

/// `create` fails with one line; the state root holds nothing but `keep`; once it is
/// unmounted no cgroup, mount or process of the container remains.
fn create_fails_cleanly(ctx: &Ctx, b: &Bundle, keep: &[&str]) -> TResult {
    b.write()?;
    let out = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    if out.ok() {
        let _ = ctx.rt(&["delete", "--force", &b.id]);
    }
    let entries: Vec<String> = std::fs::read_dir(&ctx.root)
        .ctx("read the state root")?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    let _ = nix::mount::umount2(&ctx.root, nix::mount::MntFlags::MNT_DETACH);
    one_line_error(&out)?;
    ensure!(entries.is_empty(), "left in the state root: {entries:?}");
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// ENOSPC: the state root is a 64 KiB tmpfs, filled up before `create`.
fn root_on_full_tmpfs(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    mount_root(ctx, "size=64k,mode=700", false)?;
    let fill = ctx.root.join("fill");
    let chunk = vec![0u8; 4096];
    let mut f = std::fs::File::create(&fill).ctx("create the filler")?;
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    create_fails_cleanly(ctx, &b, &["fill"])
}

/// EROFS: the state root is a read-only mount.
fn root_read_only(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    mount_root(ctx, "mode=700", true)?;
    create_fails_cleanly(ctx, &b, &[])
}

/// EMFILE: `create` under `ulimit -n N` for N from 3 (nothing but stdio) to 24. Each run
/// either succeeds (and the container deletes cleanly) or fails with one line leaving nothing
/// behind; the smallest limits must fail.
fn low_fd_limit(ctx: &Ctx) -> TResult {
    let mut failed = vec![];
    for n in 3..=24u64 {
        let (mut b, _) = sleeper(ctx)?;
        // Raising the hard limit back may need CAP_SYS_RESOURCE, which the host may lack.
        b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]);
        b.write()?;
        let mut cmd = ctx.command();
        cmd.arg("--root")
            .arg(&ctx.root)
            .args(["create", "--bundle"])
            .arg(&b.dir)
            .arg(&b.id);
        let lim = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
        let out = ctx.exec(cmd)?;
        if out.ok() {
            ctx.destroy(&b.id)
                .map_err(|e| format!("ulimit -n {n}: {e}"))?;
        } else {
            failed.push(n);
            one_line_error(&out).map_err(|e| format!("ulimit -n {n}: {e}"))?;
        }
        ctx.ensure_clean(Some(&b.id), &b.cgroups_path())
            .map_err(|e| format!("ulimit -n {n}: {e}"))?;
    }
    ensure!(
        failed.contains(&3),
        "create succeeded with only stdio open (failed at {failed:?})"
    );
    Ok(())
}

/// Moves `pid` into `<dir>/<sub>` (made first; a v1 cpuset child gets its parent's cpus and
/// mems, without which it takes no tasks).
fn move_into(dir: &Path, sub: &str, pid: i32) -> Result<(), String> {
    let child = dir.join(sub);
    std::fs::create_dir_all(&child).ctx(format!("mkdir {}", child.display()))?;
    for key in ["cpuset.cpus", "cpuset.mems"] {
        let mut cur = dir.to_path_buf();
        for part in Path::new(sub).components() {
            let v = std::fs::read_to_string(cur.join(key)).unwrap_or_default();
            cur.push(part);
            if cur.join(key).exists() && !v.trim().is_empty() {
                std::fs::write(cur.join(key), v.trim()).ctx(format!("set {key}"))?;
            }
        }
    }
    let procs = child.join("cgroup.procs");
    std::fs::write(&procs, pid.to_string()).ctx(format!("move {pid} to {}", procs.display()))
}

/// Stragglers: without a pid namespace (killing the init kills nothing else), the init's two
/// children are moved into nested sub-cgroups of the container's cgroup in every hierarchy.
/// `delete --force` must kill them all and remove the whole tree.
fn cgroup_stragglers(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    b.without_namespace("pid");
    b.args(&[
        "/probe",
        "sleep",
        "--children",
        "2",
        "--mark",
        "/out/started",
        "--sigfile",
        "/out/signal",
    ]);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let init = state_pid(&ctx.state(&b.id)?)?;
    let dirs = cgroups::dirs(&b.cgroups_path());
    ensure!(!dirs.is_empty(), "no cgroup for {}", b.cgroups_path());
    let mut kids: Vec<i32> = dirs.iter().flat_map(|d| cgroups::pids(d)).collect();
    kids.sort();
    kids.dedup();
    kids.retain(|p| *p != init);
    ensure!(
        kids.len() == 2,
        "want the init's 2 children in its cgroup, found {kids:?}"
    );
    for d in &dirs {
        move_into(d, "straggler", kids[0])?;
        move_into(d, "straggler/deeper", kids[1])?;
    }
    ctx.rt(&["delete", "--force", &b.id])?.check()?;
    for p in &kids {
        ensure!(
            sys::wait_for(5, || !sys::alive(*p)),
            "straggler {p} survived delete --force"
        );
    }
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}
