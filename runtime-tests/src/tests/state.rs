//! runtime.md "State" and "Query State", and the runc `list` command that reports it.
use super::{sleeper, state_pid};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    crate::tests!("state";
        fields, missing_does_not_exist, list_table, list_quiet, list_json)
}

/// ociVersion, id, status, pid, bundle (absolute) and the config's annotations.
fn fields(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["annotations"] = json!({"org.example.key": "value"});
    ctx.create(&b)?;
    let st = ctx.state(&b.id)?;
    ensure!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "ociVersion missing: {st}"
    );
    ensure_eq!(st["id"], b.id.as_str(), "id");
    ensure_eq!(st["status"], "created", "status");
    state_pid(&st)?;
    let bundle = st["bundle"].as_str().ctx("state bundle")?;
    ensure!(bundle.starts_with('/'), "bundle {bundle:?} is not absolute");
    let same = std::fs::canonicalize(bundle).ok() == std::fs::canonicalize(&b.dir).ok();
    ensure!(same, "bundle {bundle:?} is not {}", b.dir.display());
    ensure_eq!(st["annotations"], b.config["annotations"], "annotations");
    Ok(ctx.destroy(&b.id)?)
}

/// podman and containerd look for `does not exist` on stderr.
fn missing_does_not_exist(ctx: &Ctx) -> TResult {
    let out = ctx.rt(&["state", &ctx.new_id()])?;
    ensure!(!out.ok(), "state of a missing container succeeded");
    ensure!(
        out.stderr.contains("does not exist"),
        "stderr lacks 'does not exist': {}",
        out.describe()
    );
    ensure!(
        out.stdout.trim().is_empty(),
        "stdout not empty: {:?}",
        out.stdout
    );
    Ok(())
}

fn list_table(ctx: &Ctx) -> TResult {
    ctx.rt(&["list"])?.check()?; // no container yet (the state root may not even exist)
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let out = ctx.rt(&["list"])?.check()?;
    let row = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(b.id.as_str()));
    ensure!(
        row.is_some_and(|r| r.contains("created")),
        "no row `{} ... created` in {:?}",
        b.id,
        out.stdout
    );
    Ok(ctx.destroy(&b.id)?)
}

fn list_quiet(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let out = ctx.rt(&["list", "-q"])?.check()?;
    let ids: Vec<&str> = out.stdout.lines().collect();
    ensure_eq!(ids, vec![b.id.as_str()], "list -q output");
    Ok(ctx.destroy(&b.id)?)
}

fn list_json(ctx: &Ctx) -> TResult {
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let out = ctx.rt(&["list", "--format", "json"])?.check()?;
    let v: Value = serde_json::from_str(&out.stdout).ctx(format!("list json {:?}", out.stdout))?;
    let entry = v
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == b.id.as_str()))
        .ctx("container in list")?;
    ensure_eq!(entry["status"], "created", "status in list");
    ensure_eq!(entry["pid"], pid, "pid in list");
    Ok(ctx.destroy(&b.id)?)
}
