//! config.md "POSIX-platform Hooks" and runtime.md "Lifecycle" steps 3-13: when each hook
//! runs, in which namespace, with which state on stdin (failures and timeouts: failures.rs).
//!
//! Every hook is `/bin/sh -c SCRIPT NAME` writing into the sleeper's out dir: host hooks use
//! the host's shell and the host path, container hooks (startContainer resolves in the
//! container) busybox's shell and `/out`. Each appends its name to `log` and saves its stdin
//! as `NAME.json` and its network namespace as `NAME.net`; a startContainer hook that finds
//! the user process already started logs `NAME:late`.
mod failures;

use super::{require, sleeper, state_pid, wait_started};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};
use std::path::Path;

const SCRIPT: &str = r#"cat > "$D/$0.json"; readlink /proc/self/ns/net > "$D/$0.net"; [ -n "$EARLY" ] && [ -e "$D/started" ] && echo "$0:late" >> "$D/log"; echo "$0" >> "$D/log"; exit "${FAIL:-0}""#;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("config_hooks";
        create_hooks_in_order, start_container_hook, poststop_hook, hook_namespaces,
        container_hooks_see_container_pid, hook_args_env, once_with_seccomp_notify);
    v.push(Test::new("config_hooks::poststart_hook", poststart_hook).deviates("runc", POSTSTART));
    v.push(
        Test::new(
            "config_hooks::create_hooks_see_created",
            create_hooks_see_created,
        )
        .deviates(
            "runc",
            "sends status creating to the prestart, createRuntime and createContainer hooks",
        ),
    );
    v.extend(failures::tests());
    v
}

/// runc 1.1.5 runs poststart hooks at the end of `create` (status "created"), not after the
/// user process was executed during `start` (config.md Poststart).
const POSTSTART: &str = "runs poststart hooks during create, not during start";

/// A hook entry; `inside` hooks run busybox's shell and see the out dir at /out.
fn hook(ctx: &Ctx, out: &Path, name: &str, inside: bool, fail: bool) -> Value {
    let dir = if inside {
        "/out".to_string()
    } else {
        out.display().to_string()
    };
    let mut env = vec![
        format!("D={dir}"),
        format!("RUNTIME_TESTS_TAG={}", ctx.tag),
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    ];
    if fail {
        env.push("FAIL=1".into());
    }
    if inside {
        // startContainer: the user process must not have started yet.
        env.push("EARLY=1".into());
    }
    json!({"path": "/bin/sh", "args": ["sh", "-c", SCRIPT, name], "env": env})
}

/// Sets `hooks.<kind>` to one hook named like its kind (startContainer runs inside).
fn add_hook(ctx: &Ctx, b: &mut Bundle, out: &Path, kind: &str, fail: bool) {
    let h = hook(ctx, out, kind, kind == "startContainer", fail);
    b.config["hooks"][kind] = json!([h]);
}

fn log(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The state a hook got on stdin.
fn hook_state(out: &Path, name: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(out.join(format!("{name}.json"))).ctx(name)?;
    serde_json::from_str(&text).ctx(format!("{name} hook stdin {text:?}"))
}

fn check_state(out: &Path, name: &str, id: &str, status: &[&str]) -> Result<Value, String> {
    let st = hook_state(out, name)?;
    require(st["id"] == id, format!("{name} hook: id in {st}"))?;
    let got = st["status"].as_str().unwrap_or_default();
    require(
        status.contains(&got),
        format!("{name} hook: status {got:?}, want one of {status:?}"),
    )?;
    Ok(st)
}

/// prestart, createRuntime and createContainer run during `create`, in that order (nothing
/// else does); the runtime-namespace ones get the init's host pid.
fn create_hooks_in_order(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    // poststart is left out: runc runs it during create (see poststart_hook).
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststop",
    ] {
        add_hook(ctx, &mut b, &out, kind, false);
    }
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let want = ["prestart", "createRuntime", "createContainer"];
    ensure_eq!(log(&out), want, "hooks run by create, in order");
    for name in want {
        // "creating" (lifecycle step 2 not finished) or "created" are both defensible.
        let st = check_state(&out, name, &b.id, &["creating", "created"])?;
        if name != "createContainer" {
            ensure_eq!(st["pid"], pid, "{name} hook: pid (as seen by the runtime)");
        }
    }
    Ok(ctx.destroy(&b.id)?)
}

/// runtime.md State: `created` is "after step 2 in the lifecycle"; prestart, createRuntime and
/// createContainer are steps 3 to 5, so the state on their stdin says `created` (the
/// conformance file hooks_stdin asserts it for prestart).
fn create_hooks_see_created(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    let kinds = ["prestart", "createRuntime", "createContainer"];
    for kind in kinds {
        add_hook(ctx, &mut b, &out, kind, false);
    }
    ctx.create(&b)?;
    for name in kinds {
        check_state(&out, name, &b.id, &["created"])?;
    }
    Ok(ctx.destroy(&b.id)?)
}

/// startContainer runs during `start`, before the user process, with status `created`.
fn start_container_hook(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "startContainer", false);
    ctx.create(&b)?;
    ensure_eq!(log(&out), Vec::<String>::new(), "hooks run by create");
    ctx.start(&b.id)?;
    wait_started(&out)?;
    ensure_eq!(log(&out), ["startContainer"], "hooks run by start");
    check_state(&out, "startContainer", &b.id, &["created"])?;
    Ok(ctx.destroy(&b.id)?)
}

/// poststart runs during `start`, after the user process was executed: status `running`.
fn poststart_hook(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "poststart", false);
    ctx.create(&b)?;
    ensure_eq!(log(&out), Vec::<String>::new(), "hooks run by create");
    ctx.start(&b.id)?;
    ensure_eq!(log(&out), ["poststart"], "hooks run by start");
    let st = check_state(&out, "poststart", &b.id, &["running"])?;
    ensure_eq!(st["pid"], state_pid(&ctx.state(&b.id)?)?, "poststart: pid");
    Ok(ctx.destroy(&b.id)?)
}

/// poststop runs during `delete`, not when the process exits: status `stopped`.
fn poststop_hook(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "poststop", false);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    ctx.rt(&["kill", &b.id, "KILL"])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    ensure_eq!(log(&out), Vec::<String>::new(), "hooks run before delete");
    ctx.rt(&["delete", &b.id])?.check()?;
    ensure_eq!(log(&out), ["poststop"], "hooks run by delete");
    check_state(&out, "poststop", &b.id, &["stopped"])?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// Runtime-namespace hooks run in the harness's network namespace, container-namespace hooks
/// (createContainer, startContainer) in the container's.
fn hook_namespaces(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    let all = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ];
    for kind in all {
        add_hook(ctx, &mut b, &out, kind, false);
    }
    ctx.create_start(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let ns = |p: &str| std::fs::read_link(p).map(|l| l.display().to_string());
    let container = ns(&format!("/proc/{pid}/ns/net")).ctx("init's net namespace")?;
    let host = ns("/proc/self/ns/net").ctx("own net namespace")?;
    for kind in all {
        let got = std::fs::read_to_string(out.join(format!("{kind}.net"))).ctx(kind)?;
        let want = if kind.ends_with("Container") {
            &container
        } else {
            &host
        };
        ensure_eq!(got.trim(), want.as_str(), "{kind} hook: net namespace");
    }
    Ok(ctx.destroy(&b.id)?)
}

/// runtime.md State: "For hooks executed in the container namespace, it is the pid as seen
/// by the container" (1 with a new pid namespace).
fn container_hooks_see_container_pid(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    add_hook(ctx, &mut b, &out, "createContainer", false);
    add_hook(ctx, &mut b, &out, "startContainer", false);
    ctx.create_start(&b)?;
    for kind in ["createContainer", "startContainer"] {
        ensure_eq!(hook_state(&out, kind)?["pid"], 1, "{kind} hook: pid");
    }
    Ok(ctx.destroy(&b.id)?)
}

/// `args` is the whole argv (argv[0] included) and `env` the whole environment: nothing of
/// the runtime's own environment leaks in.
fn hook_args_env(ctx: &Ctx) -> TResult {
    let (mut b, out) = sleeper(ctx)?;
    let script = r#"tr '\0' '\n' < /proc/$$/cmdline > "$D/argv"; env > "$D/env""#;
    let args = ["custom-argv0", "-c", script, "arg1", "two words"];
    let env = [
        format!("D={}", out.display()),
        "HOOK_A=1".into(),
        "HOOK_B=x y".into(),
        format!("RUNTIME_TESTS_TAG={}", ctx.tag),
    ];
    b.config["hooks"]["createRuntime"] = json!([{"path": "/bin/sh", "args": args, "env": env}]);
    b.write()?;
    let mut cmd = ctx.command();
    cmd.env("RUNTIME_TESTS_LEAK", "1")
        .arg("--root")
        .arg(&ctx.root)
        .args(["create", "--bundle"])
        .arg(&b.dir)
        .arg(&b.id);
    ctx.exec(cmd)?.check()?;
    let argv = std::fs::read_to_string(out.join("argv")).ctx("hook argv")?;
    ensure_eq!(argv.lines().collect::<Vec<_>>(), args, "hook argv");
    let got = std::fs::read_to_string(out.join("env")).ctx("hook env")?;
    let got: Vec<&str> = got.lines().collect();
    for want in ["HOOK_A=1", "HOOK_B=x y"] {
        ensure!(
            got.contains(&want),
            "{want:?} missing from the hook env {got:?}"
        );
    }
    ensure!(
        !got.iter().any(|v| v.starts_with("RUNTIME_TESTS_LEAK=")),
        "the runtime's environment leaked into the hook: {got:?}"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// With a SCMP_ACT_NOTIFY rule the runtime also hands the notify fd and the state to
/// linux.seccomp.listenerPath during create; the create hooks still run once each.
fn once_with_seccomp_notify(ctx: &Ctx) -> TResult {
    use std::io::Read;
    let sock = ctx.path("seccomp.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).ctx("bind the listener")?;
    let (mut b, out) = sleeper(ctx)?;
    for kind in ["prestart", "createRuntime", "createContainer"] {
        add_hook(ctx, &mut b, &out, kind, false);
    }
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "listenerPath": sock,
        // A syscall nothing here makes: the notification never has to be answered.
        "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_NOTIFY"}],
    });
    let got = std::thread::spawn(move || -> Result<usize, String> {
        let (mut conn, _) = listener.accept().ctx("accept on the listener")?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .ctx("read timeout")?;
        let mut buf = vec![0u8; 65536];
        conn.read(&mut buf).ctx("read the listener message")
    });
    let res = ctx.create(&b);
    // A runtime that never connects would leave the thread in accept: wake it.
    let _ = std::os::unix::net::UnixStream::connect(&sock);
    let n = got
        .join()
        .map_err(|_| "listener thread panicked".to_string())??;
    res?;
    ensure!(n > 0, "the listener got no message");
    let want = ["prestart", "createRuntime", "createContainer"];
    ensure_eq!(log(&out), want, "hooks run by create, once each");
    Ok(ctx.destroy(&b.id)?)
}
