//! config.md "Linux Process" apparmorProfile (and `exec --apparmor`): the process runs
//! confined by the named profile, `exec` inherits it, and a fake /proc cannot swallow it
//! (security.md, CVE-2019-16884). These need a host with AppArmor and apparmor_parser (the
//! AppArmor VM: hack/apparmor-tests.sh) and are skipped elsewhere; `features` says both are
//! supported on every host. Refusals without the LSM are in config_misc.
use super::{sleeper, wait_started};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, Fail, TResult, Test};
use crate::{ensure, ensure_eq, skip};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("lsm";
        features_supported, apparmor_profile_applied, apparmor_exec, apparmor_fake_proc);
    v.push(
        Test::new(
            "lsm::apparmor_exec_process_json",
            apparmor_exec_process_json,
        )
        .deviates(
            "runc",
            "exec --process with a process.json naming no profile runs unconfined",
        ),
    );
    v.push(
        Test::new("lsm::apparmor_not_loaded_named", apparmor_not_loaded_named).deviates(
            "runc",
            "fails writing attr/apparmor/exec (\"no such file or directory\"), naming no profile",
        ),
    );
    v
}

/// On an AppArmor host, a profile that is not loaded fails `create` in one line that names
/// it, and leaves nothing behind.
fn apparmor_not_loaded_named(ctx: &Ctx) -> TResult {
    if !apparmor_enabled() {
        skip!("AppArmor is not enabled on this host");
    }
    let mut b = ctx.bundle()?;
    b.config["process"]["apparmorProfile"] = json!("runtime-tests-never-loaded");
    let out = ctx.try_create(&b, &[])?;
    let named = "\"runtime-tests-never-loaded\": no such AppArmor profile is loaded";
    Ok(super::refused(ctx, &b, &out, &[named])?)
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

/// A loaded profile that allows everything but writing /tmp/denied; unloaded on drop.
struct Profile {
    name: String,
    file: PathBuf,
}

impl Profile {
    fn load(ctx: &Ctx, b: &Bundle) -> Result<Profile, Fail> {
        if !apparmor_enabled() {
            skip!("AppArmor is not enabled on this host");
        }
        if !Path::new("/sys/kernel/security/apparmor").exists() {
            skip!("securityfs is not mounted (apparmor_parser needs /sys/kernel/security)");
        }
        let name = format!("runtime-tests-{}", b.id);
        let file = ctx.path(&format!("{name}.apparmor"));
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  \
             capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  \
             pivot_root,\n  deny /tmp/denied w,\n}}\n"
        );
        std::fs::write(&file, text).ctx(format!("write {}", file.display()))?;
        let out = Command::new("apparmor_parser")
            .arg("-r")
            .arg(&file)
            .output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                skip!("apparmor_parser is not installed (apt-get install apparmor)")
            }
            Err(e) => return Err(format!("apparmor_parser: {e}").into()),
            Ok(o) if !o.status.success() => {
                return Err(format!(
                    "apparmor_parser -r {}: {}",
                    file.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                )
                .into())
            }
            Ok(_) => {}
        }
        Ok(Profile { name, file })
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("-R")
            .arg(&self.file)
            .output();
    }
}

/// The container's view of its own confinement and of the profile's one deny rule.
const SHOW: &str = "cat /proc/self/attr/current; echo; \
                    if echo x >/tmp/denied; then echo wrote-denied; else echo denied; fi; \
                    if echo x >/tmp/allowed; then echo wrote-allowed; fi";

fn check_confined(stdout: &str, profile: &str) -> Result<(), String> {
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let want = [&format!("{profile} (enforce)"), "denied", "wrote-allowed"];
    if lines != want {
        return Err(format!(
            "attr/current and the denied write: {lines:?}, want {want:?}"
        ));
    }
    Ok(())
}

/// features-linux.md: apparmor/selinux `enabled` say the runtime supports them,
/// "irrelevant to the availability" on the host.
fn features_supported(ctx: &Ctx) -> TResult {
    let out = ctx.rt(&["features"])?.check()?;
    let doc: Value =
        serde_json::from_str(&out.stdout).ctx(format!("features output {:?}", out.stdout))?;
    for lsm in ["apparmor", "selinux"] {
        ensure_eq!(
            doc["linux"][lsm]["enabled"],
            json!(true),
            "linux.{lsm}.enabled"
        );
    }
    Ok(())
}

/// The process is in the profile, in enforce mode, and its deny rule holds.
fn apparmor_profile_applied(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let p = Profile::load(ctx, &b)?;
    b.config["process"]["apparmorProfile"] = json!(p.name);
    b.args(&["/bin/sh", "-c", SHOW]);
    let out = ctx.run(&b, &[])?.check()?;
    Ok(check_confined(&out.stdout, &p.name)?)
}

/// A started sleeper confined by a loaded profile, and `exec FLAGS ID [sh -c SHOW]`.
fn confined_sleeper(ctx: &Ctx) -> Result<(Bundle, Profile), Fail> {
    let (mut b, out) = sleeper(ctx)?;
    let p = Profile::load(ctx, &b)?;
    b.config["process"]["apparmorProfile"] = json!(p.name);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    Ok((b, p))
}

fn exec_show(ctx: &Ctx, b: &Bundle, flags: &[&str]) -> Result<String, String> {
    let mut v = vec!["exec"];
    v.extend_from_slice(flags);
    v.push(&b.id);
    if !flags.contains(&"--process") {
        v.extend_from_slice(&["/bin/sh", "-c", SHOW]);
    }
    Ok(ctx.rt(&v)?.check()?.stdout)
}

/// `exec` inherits the container's profile, and `--apparmor` names another (runc's exec).
fn apparmor_exec(ctx: &Ctx) -> TResult {
    let (b, p) = confined_sleeper(ctx)?;
    check_confined(&exec_show(ctx, &b, &[])?, &p.name).map_err(|e| format!("exec: {e}"))?;
    let other = exec_show(ctx, &b, &["--apparmor", "unconfined"])?;
    ensure!(
        other.lines().next().map(str::trim) == Some("unconfined"),
        "exec --apparmor unconfined: {other:?}"
    );
    Ok(())
}

/// A process.json that names no profile must not let an `exec` out of the container's
/// confinement: it inherits the container's profile.
fn apparmor_exec_process_json(ctx: &Ctx) -> TResult {
    let (b, p) = confined_sleeper(ctx)?;
    let pj = ctx.path("process.json");
    let doc = json!({"args": ["/bin/sh", "-c", SHOW], "cwd": "/",
                     "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}});
    std::fs::write(&pj, doc.to_string()).ctx("write process.json")?;
    let pjs = pj.to_string_lossy().into_owned();
    check_confined(&exec_show(ctx, &b, &["--process", &pjs])?, &p.name)
        .map_err(|e| format!("exec --process without apparmorProfile: {e}"))?;
    Ok(())
}

/// security.md, CVE-2019-16884: with no procfs at /proc but an image directory that looks
/// like one, the profile write must not land in the image's file (the container would run
/// unconfined): the runtime refuses, and the fake attr file stays empty.
fn apparmor_fake_proc(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let p = Profile::load(ctx, &b)?;
    b.config["process"]["apparmorProfile"] = json!(p.name);
    let mounts = b.config["mounts"].as_array().cloned().unwrap_or_default();
    b.config["mounts"] = json!(mounts
        .into_iter()
        .filter(|m| m["destination"] != "/proc")
        .collect::<Vec<_>>());
    // Nothing else of the config's may fail for want of /proc.
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    // Both spellings, under thread-self and self, as regular files.
    let root = b.rootfs();
    let mut fakes = vec![];
    for d in ["thread-self", "self"] {
        for sub in ["attr/apparmor", "attr"] {
            let dir = root.join("proc").join(d).join(sub);
            std::fs::create_dir_all(&dir).ctx(format!("mkdir {}", dir.display()))?;
            let f = dir.join("exec");
            std::fs::write(&f, "").ctx(format!("write {}", f.display()))?;
            fakes.push(f);
        }
    }
    b.args(&["/bin/sh", "-c", "cat /proc/self/attr/current"]);
    let out = ctx.run(&b, &[])?;
    let written: Vec<String> = fakes
        .iter()
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
        .map(|f| f.display().to_string())
        .collect();
    ensure!(
        !out.ok(),
        "ran with a fake /proc (the profile went nowhere): {}",
        out.describe()
    );
    ensure!(
        written.is_empty(),
        "the profile was written into the image: {written:?}"
    );
    ensure!(
        out.stderr.contains("procfs"),
        "refused for another reason than the fake /proc: {}",
        out.describe()
    );
    Ok(())
}
