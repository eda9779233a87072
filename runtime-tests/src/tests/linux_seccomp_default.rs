//! config-linux.md "Seccomp" with a real engine profile: the default profile podman writes
//! into config.json (containers/common's fork of Docker's default, ~440 syscall names in 22
//! rules, defaultAction ERRNO/ENOSYS; fixtures/README.md says where it comes from and
//! hack/gen-seccomp-default.sh regenerates it). It must load, let an ordinary command run,
//! and block what it lists: vmsplice needs no privilege, so its EPERM can only come from
//! the filter (a run without the profile is the control).
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub const PROFILE: &str = include_str!("../../fixtures/seccomp-default.json");

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_seccomp_default"; loads_and_blocks)
}

fn loads_and_blocks(ctx: &Ctx) -> TResult {
    let profile: Value =
        serde_json::from_str(PROFILE).map_err(|e| format!("fixture seccomp-default.json: {e}"))?;
    let script = "echo hello && /probe vmsplice";
    let mut b = ctx.bundle()?;
    b.args(&["/bin/sh", "-c", script]);
    let control = ctx.run(&b, &[])?.check()?;
    let first: Option<Value> = control
        .stdout
        .lines()
        .nth(1)
        .and_then(|l| serde_json::from_str(l).ok());
    ensure!(
        first.as_ref().is_some_and(|v| v["ok"] == true),
        "vmsplice without the profile: {:?}",
        control.stdout
    );
    b.config["linux"]["seccomp"] = profile;
    let out = ctx.run(&b, &[])?.check()?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    ensure_eq!(lines.first().copied(), Some("hello"), "output of echo");
    let v: Value = lines
        .get(1)
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    ensure_eq!(
        v,
        json!({"ok": false, "errno": 1}),
        "vmsplice under the profile"
    );
    Ok(())
}
