//! runc's `exec` (callers.md; containerd and podman use it): a new process joins a running
//! container, in the foreground or detached.
use super::{cmdline, rep_caps, sleeper, state_pid, wait_started};
use crate::bundle::Bundle;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, ensure_eq, sys};
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("cli_exec";
        foreground_output_and_status, env_and_cwd, user, detached_pid_file,
        joins_namespaces, sees_container_processes_and_files, same_cgroup, process_json,
        stopped_container_fails, missing_program_fails, home_from_passwd, process_json_without_user, cap_not_ambient);
    // runc 1.1.5 `exec` loads its defaults from the bundle's config.json as it is now.
    v.push(
        Test::new(
            "cli_exec::config_rewritten_after_create",
            config_rewritten_after_create,
        )
        .deviates("runc", "exec re-reads the bundle's config.json"),
    );
    v
}

/// A started sleeper: (bundle, out dir, init pid).
fn running(ctx: &Ctx) -> Result<(Bundle, PathBuf, i32), String> {
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    Ok((b, out, pid))
}

/// `exec ID ARGS...` with `flags` before the id; fails unless it exits 0.
fn exec(ctx: &Ctx, id: &str, flags: &[&str], args: &[&str]) -> Result<crate::runtime::Out, String> {
    let mut v = vec!["exec"];
    v.extend_from_slice(flags);
    v.push(id);
    v.extend_from_slice(args);
    ctx.rt(&v)?.check()
}

fn exec_report(ctx: &Ctx, id: &str, flags: &[&str]) -> Result<Value, String> {
    parse_report(&exec(ctx, id, flags, &["/probe", "report"])?.stdout)
}

/// Output passes through and `exec` exits with the process's status.
fn foreground_output_and_status(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    let out = ctx.rt(&["exec", &b.id, "/probe", "exit", "7", "hello from exec"])?;
    ensure_eq!(
        out.code(),
        Some(7),
        "exit status of exec ({})",
        out.describe()
    );
    ensure!(
        out.stdout.contains("hello from exec"),
        "stdout {:?}",
        out.stdout
    );
    ensure_eq!(ctx.status(&b.id)?, "running", "container status after exec");
    Ok(ctx.destroy(&b.id)?)
}

fn env_and_cwd(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    let rep = exec_report(
        ctx,
        &b.id,
        &["--env", "FOO=bar", "--env", "TWO=a b", "--cwd", "/tmp"],
    )?;
    let env: Vec<&str> = rep["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for want in ["FOO=bar", "TWO=a b"] {
        ensure!(env.contains(&want), "{want:?} missing from {env:?}");
    }
    ensure_eq!(rep["cwd"], "/tmp", "cwd");
    Ok(ctx.destroy(&b.id)?)
}

/// `--user UID:GID`, checked with busybox `id`.
fn user(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    let out = exec(ctx, &b.id, &["--user", "1000:1000"], &["id"])?;
    ensure!(
        out.stdout.trim().starts_with("uid=1000 gid=1000"),
        "id printed {:?}",
        out.stdout
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `-d --pid-file F`: exec returns while the process runs; F holds its host pid, which
/// `ps --format json` lists and which is in the container's cgroup.
fn detached_pid_file(ctx: &Ctx) -> TResult {
    let (b, out, init) = running(ctx)?;
    let pid_file = ctx.path("exec.pid");
    let pf = pid_file.to_string_lossy();
    let args = ["/probe", "sleep", "--mark", "/out/exec-started"];
    exec(ctx, &b.id, &["-d", "--pid-file", &pf], &args)?;
    let text = std::fs::read_to_string(&pid_file).ctx("exec pid file")?;
    let pid: i32 = text.trim().parse().ctx(format!("pid file {text:?}"))?;
    ensure!(
        sys::wait_for(30, || out.join("exec-started").exists()),
        "the detached process never started"
    );
    ensure!(sys::alive(pid), "pid {pid} from the pid file is not alive");
    ensure_eq!(cmdline(pid), args, "cmdline of the pid-file pid");
    let ps = ctx.rt(&["ps", "--format", "json", &b.id])?.check()?;
    let listed: Vec<i64> = serde_json::from_str(&ps.stdout).ctx(format!("ps {:?}", ps.stdout))?;
    ensure!(
        listed.contains(&(pid as i64)) && listed.contains(&(init as i64)),
        "ps lists {listed:?}, not init {init} and exec {pid}"
    );
    let dirs = cgroups::dirs(&b.cgroups_path());
    ensure!(
        !dirs.is_empty() && dirs.iter().all(|d| cgroups::pids(d).contains(&pid)),
        "exec pid {pid} is not in every cgroup dir of the container: {dirs:?}"
    );
    ctx.destroy(&b.id)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// The exec'd process is in the init's pid, network, ipc, uts and mount namespaces and sees
/// the container's hostname.
fn joins_namespaces(ctx: &Ctx) -> TResult {
    let (b, _, init) = running(ctx)?;
    let rep = exec_report(ctx, &b.id, &[])?;
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        let want = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).ctx(ns)?;
        ensure_eq!(
            rep["ns"][ns].as_str(),
            Some(want.to_string_lossy().as_ref()),
            "{ns} namespace of the exec'd process"
        );
    }
    ensure_eq!(rep["hostname"], "runtime-tests", "hostname");
    let pid = rep["pid"].as_i64().unwrap_or(0);
    ensure!(
        pid > 1 && pid < 100,
        "pid {pid} is not a small pid of the container's namespace"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// Its /proc is the container's (pid 1 is there, the host pids are not) and its / is the
/// container's rootfs.
fn sees_container_processes_and_files(ctx: &Ctx) -> TResult {
    let (b, _, init) = running(ctx)?;
    std::fs::write(b.rootfs().join("marker"), "in the rootfs").ctx("write marker")?;
    let ls = exec(ctx, &b.id, &[], &["/probe", "ls", "/proc"])?;
    let pids: Vec<i64> = ls.stdout.lines().filter_map(|l| l.parse().ok()).collect();
    ensure!(
        pids.contains(&1) && !pids.contains(&(init as i64)) && pids.len() < 20,
        "/proc in the exec'd process lists pids {pids:?} (host init pid {init})"
    );
    let cat = exec(ctx, &b.id, &[], &["/probe", "cat", "/marker"])?;
    ensure_eq!(cat.stdout, "in the rootfs", "/marker");
    Ok(ctx.destroy(&b.id)?)
}

fn same_cgroup(ctx: &Ctx) -> TResult {
    let (b, _, init) = running(ctx)?;
    let rep = exec_report(ctx, &b.id, &[])?;
    let own = std::fs::read_to_string(format!("/proc/{init}/cgroup")).ctx("init's cgroup")?;
    let mut want: Vec<&str> = own.lines().collect();
    let mut got: Vec<&str> = rep["cgroup"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    want.sort();
    got.sort();
    ensure_eq!(
        got,
        want,
        "/proc/self/cgroup of the exec'd process vs the init's"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `--process F`: args, env and cwd come from a process.json.
fn process_json(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    let path = ctx.path("process.json");
    let args = ["/probe", "report", "from-process-json"];
    let env = [
        "PATH=/bin",
        "A=b",
        &format!("RUNTIME_TESTS_TAG={}", ctx.tag),
    ];
    let p = json!({"terminal": false, "user": {"uid": 0, "gid": 0}, "args": args, "env": env, "cwd": "/tmp"});
    std::fs::write(&path, p.to_string()).ctx("write process.json")?;
    let rep =
        parse_report(&exec(ctx, &b.id, &["--process", &path.to_string_lossy()], &[])?.stdout)?;
    ensure_eq!(rep["args"], json!(args), "args");
    ensure_eq!(rep["cwd"], "/tmp", "cwd");
    let has_a = rep["env"]
        .as_array()
        .is_some_and(|e| e.iter().any(|v| v == "A=b"));
    ensure!(has_a, "A=b missing from {}", rep["env"]);
    Ok(ctx.destroy(&b.id)?)
}

fn stopped_container_fails(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "exit", "0"]);
    ctx.create_start(&b)?;
    ctx.wait_status(&b.id, "stopped")?;
    let out = ctx.rt(&["exec", &b.id, "/probe", "exit", "0"])?;
    ensure!(!out.ok(), "exec into a stopped container succeeded");
    ensure_eq!(
        ctx.status(&b.id)?,
        "stopped",
        "status after the failed exec"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// A missing program (absolute, or not on PATH) fails with a message saying so.
fn missing_program_fails(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    for prog in ["/no-such-program", "no-such-program"] {
        let out = ctx.rt(&["exec", &b.id, prog])?;
        ensure!(!out.ok(), "exec of {prog} succeeded");
        let err = out.stderr.to_lowercase();
        ensure!(
            err.contains("executable file not found") || err.contains("no such file"),
            "exec of {prog}: {}",
            out.describe()
        );
    }
    ensure_eq!(
        ctx.status(&b.id)?,
        "running",
        "status after the failed execs"
    );
    Ok(ctx.destroy(&b.id)?)
}

fn env_of(rep: &Value) -> Vec<String> {
    rep["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// runtime.md Lifecycle step 2: "Any updates to config.json after this step MUST NOT
/// affect the container." `exec` takes its defaults from what create used, whether the
/// bundle's config.json became garbage or a different valid config.
fn config_rewritten_after_create(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    let env = b.config["process"]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut with = env.clone();
    with.push(json!("FROM_CONFIG=orig"));
    b.config["process"]["env"] = json!(with);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let config = b.dir.join("config.json");
    std::fs::write(&config, "{ not json").ctx("overwrite config.json")?;
    let rep = exec_report(ctx, &b.id, &[])?;
    let got = env_of(&rep);
    ensure!(
        got.iter().any(|e| e == "FROM_CONFIG=orig"),
        "garbage config.json: env {got:?}"
    );
    let mut changed = env;
    changed.push(json!("FROM_CONFIG=changed"));
    b.config["process"]["env"] = json!(changed);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write()?;
    let rep = exec_report(ctx, &b.id, &[])?;
    let got = env_of(&rep);
    ensure!(
        got.iter().any(|e| e == "FROM_CONFIG=orig"),
        "rewritten config.json: env {got:?}"
    );
    ensure_eq!(rep["uid"], 0, "uid after config.json was rewritten");
    Ok(ctx.destroy(&b.id)?)
}

/// Without HOME in the env, HOME is the user's home from the container's /etc/passwd, and
/// "/" for a user it does not list (as runc does), for the init and for exec.
fn home_from_passwd(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    let passwd = b.rootfs().join("etc/passwd");
    let mut text = std::fs::read_to_string(&passwd).ctx("read passwd")?;
    text.push_str("user:x:1000:1000::/home/user:/bin/sh\n");
    std::fs::write(&passwd, text).ctx("write passwd")?;
    let envs = b.config["process"]["env"].to_string();
    ensure!(!envs.contains("HOME="), "the template sets HOME: {envs}");
    ctx.create_start(&b)?;
    let home = |rep: &Value| env_of(rep).into_iter().find(|e| e.starts_with("HOME="));
    let mut errors = vec![];
    for (flags, want) in [
        (vec![], "HOME=/root"),
        (vec!["--user", "1000:1000"], "HOME=/home/user"),
        (vec!["--user", "1234:1234"], "HOME=/"),
        (vec!["--env", "HOME=/set"], "HOME=/set"),
    ] {
        let got = home(&exec_report(ctx, &b.id, &flags)?);
        if got.as_deref() != Some(want) {
            errors.push(format!("exec {flags:?}: {got:?}, want {want:?}"));
        }
    }
    ctx.destroy(&b.id)?;
    let mut b2 = ctx.bundle()?;
    let init = home(&ctx.report(&mut b2)?);
    if init.as_deref() != Some("HOME=/root") {
        errors.push(format!("init: {init:?}, want \"HOME=/root\""));
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(())
}

/// runc: a process.json without `user` runs as uid 0, gid 0.
fn process_json_without_user(ctx: &Ctx) -> TResult {
    let (b, _, _) = running(ctx)?;
    let path = ctx.path("process.json");
    let env = ["PATH=/bin", &format!("RUNTIME_TESTS_TAG={}", ctx.tag)];
    let p = json!({"args": ["/probe", "report"], "env": env, "cwd": "/"});
    std::fs::write(&path, p.to_string()).ctx("write process.json")?;
    let rep =
        parse_report(&exec(ctx, &b.id, &["--process", &path.to_string_lossy()], &[])?.stdout)?;
    ensure_eq!(
        (rep["uid"].clone(), rep["gid"].clone()),
        (json!(0), json!(0)),
        "uid, gid"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `exec --cap C` adds C to the bounding, effective and permitted sets only, as runc 1.1.5
/// does: not to the inheritable or ambient sets, even when the config has both.
fn cap_not_ambient(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    let caps = b.config["process"]["capabilities"]["bounding"].clone();
    b.config["process"]["capabilities"]["inheritable"] = caps.clone();
    b.config["process"]["capabilities"]["ambient"] = caps;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let plain = exec_report(ctx, &b.id, &[])?;
    let with = exec_report(ctx, &b.id, &["--cap", "CAP_SYS_ADMIN"])?;
    let admin = super::cap_mask(&["CAP_SYS_ADMIN"]);
    for key in ["CapBnd", "CapEff", "CapPrm"] {
        ensure!(
            rep_caps(&with, key)? & admin != 0,
            "{key} lacks CAP_SYS_ADMIN"
        );
    }
    for key in ["CapInh", "CapAmb"] {
        let (a, b2) = (rep_caps(&plain, key)?, rep_caps(&with, key)?);
        ensure!(
            a != 0,
            "{key} is empty without --cap: the config's set was not applied"
        );
        ensure_eq!(
            format!("{b2:x}"),
            format!("{a:x}"),
            "{key} with --cap vs without"
        );
    }
    Ok(ctx.destroy(&b.id)?)
}
