//! config-linux.md "Seccomp": actions, errnoRet, argument conditions, the filter mode the
//! kernel reports, and seccomp without noNewPrivileges (as a user and as root). (Unknown actions and architectures:
//! bad_input.) A default ERRNO profile with an allow-list is not tested: which syscalls a
//! static probe and each runtime's last steps before execve need is not portable.
use super::rep_caps;
use crate::bundle::{Bundle, DEFAULT_CAPS};
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_seccomp";
        errno_on_mkdir, errno_ret_value, kill_process, arg_condition, filter_mode_in_status,
        without_no_new_privileges, without_no_new_privileges_as_root)
}

/// defaultAction ALLOW plus one rule.
fn with_rule(b: &mut Bundle, rule: Value) {
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [rule],
    });
}

fn mkdir_rule(action: &str, errno: Option<u32>) -> Value {
    let mut r = json!({"names": ["mkdir", "mkdirat"], "action": action});
    if let Some(e) = errno {
        r["errnoRet"] = json!(e);
    }
    r
}

/// Runs the bundle and returns the JSON objects its stdout lines hold, in order.
fn outcomes(ctx: &Ctx, b: &Bundle) -> Result<Vec<Value>, String> {
    let out = ctx.run(b, &[])?.check()?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn mkdir_errno(ctx: &Ctx, errno: u32) -> TResult {
    let mut b = ctx.bundle()?;
    with_rule(&mut b, mkdir_rule("SCMP_ACT_ERRNO", Some(errno)));
    b.args(&["/probe", "mkdir", "/tmp/blocked"]);
    let got = outcomes(ctx, &b)?;
    ensure_eq!(
        got,
        vec![json!({"ok": false, "errno": errno})],
        "mkdir under an ERRNO rule"
    );
    Ok(())
}

/// SCMP_ACT_ERRNO with errnoRet 1: mkdir fails with EPERM.
fn errno_on_mkdir(ctx: &Ctx) -> TResult {
    mkdir_errno(ctx, 1)
}

/// errnoRet is the errno the call returns (EACCES here, not the default EPERM).
fn errno_ret_value(ctx: &Ctx) -> TResult {
    mkdir_errno(ctx, 13)
}

/// SCMP_ACT_KILL_PROCESS: the process dies with SIGSYS, which `run` reports as 128 + 31.
fn kill_process(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    with_rule(&mut b, mkdir_rule("SCMP_ACT_KILL_PROCESS", None));
    b.args(&["/probe", "mkdir", "/tmp/blocked"]);
    let out = ctx.run(&b, &[])?;
    ensure_eq!(
        out.code(),
        Some(159),
        "exit status of run ({})",
        out.describe()
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// A rule with `args` matches only calls whose arguments satisfy it: personality(8) is
/// refused, personality(0xffffffff) (a query) is not.
fn arg_condition(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let cond = json!([{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]);
    with_rule(
        &mut b,
        json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": cond}),
    );
    b.args(&[
        "/bin/sh",
        "-c",
        "/probe personality 8; /probe personality 0xffffffff",
    ]);
    let got = outcomes(ctx, &b)?;
    ensure!(got.len() == 2, "expected two outcomes, got {got:?}");
    ensure_eq!(
        got[0],
        json!({"ok": false, "errno": 1}),
        "personality(8), matched by the rule"
    );
    ensure_eq!(
        got[1]["ok"],
        true,
        "personality(0xffffffff), not matched ({})",
        got[1]
    );
    Ok(())
}

/// /proc/self/status `Seccomp: 2` (SECCOMP_MODE_FILTER) in the container process.
fn filter_mode_in_status(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    with_rule(&mut b, mkdir_rule("SCMP_ACT_ERRNO", None));
    let rep = ctx.report(&mut b)?;
    ensure_eq!(
        rep["status"]["Seccomp"],
        "2",
        "Seccomp in /proc/self/status"
    );
    Ok(())
}

/// security.md: with noNewPrivileges false the filter must be loaded while the runtime still
/// has CAP_SYS_ADMIN; a non-root user without it must still start, filtered.
fn without_no_new_privileges(ctx: &Ctx) -> TResult {
    without_nnp(ctx, 1000)
}

/// The same as root with the default capabilities (no CAP_SYS_ADMIN): the container starts,
/// with the filter in force and the configured capabilities.
fn without_no_new_privileges_as_root(ctx: &Ctx) -> TResult {
    without_nnp(ctx, 0)
}

fn without_nnp(ctx: &Ctx, uid: u32) -> TResult {
    let mut b = ctx.bundle()?;
    with_rule(&mut b, mkdir_rule("SCMP_ACT_ERRNO", Some(1)));
    b.config["process"]["noNewPrivileges"] = json!(false);
    if uid != 0 {
        b.config["process"]["user"] = json!({"uid": uid, "gid": uid});
    }
    b.args(&["/bin/sh", "-c", "/probe report; /probe mkdir /tmp/blocked"]);
    let out = ctx.run(&b, &[])?.check()?;
    let rep = parse_report(out.stdout.lines().next().unwrap_or_default())?;
    ensure_eq!(rep["status"]["NoNewPrivs"], "0", "NoNewPrivs");
    ensure_eq!(rep["status"]["Seccomp"], "2", "Seccomp");
    ensure_eq!(rep["uid"], uid, "uid");
    if uid == 0 {
        ensure_eq!(
            rep_caps(&rep, "CapEff")?,
            super::cap_mask(DEFAULT_CAPS),
            "CapEff"
        );
    }
    let last = parse_report(&out.stdout).ctx("mkdir outcome")?;
    ensure_eq!(last, json!({"ok": false, "errno": 1}), "mkdir");
    Ok(())
}
