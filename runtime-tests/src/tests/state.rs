//! runtime.md "State" and "Query State", and the runc `list` command that reports it.
use super::{one_line_error, sleeper, state_pid};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("state";
        fields, missing_does_not_exist, list_table, list_quiet, list_json, private_modes);
    // runc 1.1.5 takes $XDG_RUNTIME_DIR/runc as it finds it.
    v.push(
        Test::new("state::fallback_root_not_own", fallback_root_not_own)
            .deviates("runc", "uses a state root another user owns, or a symlink"),
    );
    v
}

/// security.md: state.json holds hook environments and annotations. A state root the
/// runtime makes is 0700, a container directory gives group and others no read or write
/// (runc: 0711), state.json is 0600.
fn private_modes(ctx: &Ctx) -> TResult {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| -> Result<u32, String> {
        Ok(std::fs::metadata(p).ctx(p.display())?.permissions().mode() & 0o7777)
    };
    ensure!(
        !ctx.root.exists(),
        "the state root exists before the first create"
    );
    let (mut b, _) = sleeper(ctx)?;
    b.config["annotations"] = json!({"org.example.secret": "value"});
    ctx.create(&b)?;
    let dir = ctx.root.join(&b.id);
    let (root, cdir) = (mode(&ctx.root)?, mode(&dir)?);
    let state = dir.join("state.json");
    ensure!(state.exists(), "no state.json in {}", dir.display());
    let file = mode(&state)?;
    ctx.destroy(&b.id)?;
    ensure_eq!(format!("{root:o}"), "700", "mode of the state root");
    ensure!(
        cdir & 0o066 == 0,
        "container dir mode {cdir:o}: readable or writable by others"
    );
    ensure!(
        file & 0o077 == 0,
        "state.json mode {file:o}: open to group or others"
    );
    Ok(())
}

/// security.md: without --root, a non-root caller's state root ($XDG_RUNTIME_DIR/NAME) must
/// be a directory of the caller's own: one owned by another user (mode 0777, so nothing but
/// the owner check stops its use) or a symlink is refused in one line naming it.
fn fallback_root_not_own(ctx: &Ctx) -> TResult {
    use std::os::unix::fs::{chown, PermissionsExt};
    use std::os::unix::process::CommandExt;
    const CALLER: u32 = 65534;
    let perm = std::fs::Permissions::from_mode;
    std::fs::set_permissions(&ctx.dir, perm(0o755)).ctx("chmod test dir")?;
    let mine = ctx.host_dir("mine")?;
    chown(&mine, Some(CALLER), Some(CALLER)).ctx("chown mine")?;
    let mut errors = vec![];
    // "own" is the control: the caller's own root works, so a refusal of the others is
    // the ownership check and not this setup.
    for case in ["own", "foreign", "symlink"] {
        let xdg = ctx.host_dir(&format!("xdg-{case}"))?;
        chown(&xdg, Some(CALLER), Some(CALLER)).ctx("chown xdg")?;
        std::fs::set_permissions(&xdg, perm(0o700)).ctx("chmod xdg")?;
        let root = xdg.join(&ctx.rt.name);
        if case == "own" {
            std::fs::create_dir(&root).ctx("mkdir root")?;
            chown(&root, Some(CALLER), Some(CALLER)).ctx("chown root")?;
            std::fs::set_permissions(&root, perm(0o700)).ctx("chmod root")?;
        } else if case == "foreign" {
            std::fs::create_dir(&root).ctx("mkdir root")?;
            std::fs::set_permissions(&root, perm(0o777)).ctx("chmod root")?;
        } else {
            std::os::unix::fs::symlink(&mine, &root).ctx("symlink root")?;
        }
        let mut cmd = ctx.command();
        cmd.env("XDG_RUNTIME_DIR", &xdg)
            .env_remove("HOME")
            .uid(CALLER)
            .gid(CALLER)
            .arg("list");
        let out = ctx.exec(cmd)?;
        if case == "own" {
            if !out.ok() {
                return Err(
                    format!("list with the caller's own root failed: {}", out.describe()).into(),
                );
            }
        } else if out.ok() {
            errors.push(format!("{case}: list succeeded: {}", out.describe()));
        } else if let Err(e) = one_line_error(&out) {
            errors.push(format!("{case}: {e}"));
        } else if !out.stderr.contains(&root.display().to_string()) {
            errors.push(format!(
                "{case}: the error does not name {}: {}",
                root.display(),
                out.describe()
            ));
        }
    }
    ensure!(errors.is_empty(), "{}", errors.join("; "));
    Ok(())
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
