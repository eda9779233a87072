//! Rootless containers (runtime.md leaves privileges to the runtime; runc's rootless mode is
//! the reference): the runtime run by an unprivileged test user ([`crate::user`]), or by
//! uid 0 of a user namespace that user made (what rootless podman gives the runtime).
use crate::bundle::Bundle;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::runtime::Out;
use crate::tests::{one_line_error, rep_mount, require};
use crate::user::{User, SUB_COUNT};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("rootless";
        spec_run_exit_code,
        state_root_xdg,
        own_mapping,
        subid_ranges,
        devices_bound,
        lifecycle,
        userns_root,
    );
    v.extend([
        // runc passes newuidmap's own complaint through and adds nsexec's fatal lines.
        Test::new("rootless::subid_not_granted", subid_not_granted).deviates(
            "runc",
            "a refused newuidmap is a five-line error (newuidmap's, nsexec's, runc's)",
        ),
        // crun binds the host's /sys here too; runc 1.1 relies on its `spec --rootless`
        // writing that bind and fails a config that asks for sysfs.
        Test::new("rootless::sysfs_fallback", sysfs_fallback).deviates(
            "runc",
            "fails mounting sysfs without a network namespace instead of binding the host's /sys",
        ),
        Test::new("rootless::memory_refused", memory_refused).deviates(
            "runc",
            "names the memory limit, but after a warning line about the OOM kill count",
        ),
    ]);
    v
}

/// A bundle as `spec --rootless` writes it (runc's): a user namespace mapping the user's own
/// ids to 0, no network namespace, the host's /sys bound, no devpts gid, no resources and no
/// cgroupsPath.
fn bundle(ctx: &Ctx, u: &User) -> Result<Bundle, String> {
    let mut b = ctx.bundle()?;
    b.without_namespace("network").namespace("user", None);
    let c = &mut b.config;
    c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": u.uid, "size": 1}]);
    c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1}]);
    let linux = c["linux"].as_object_mut().ctx("linux")?;
    linux.remove("resources");
    linux.remove("cgroupsPath");
    for m in c["mounts"].as_array_mut().ctx("mounts")? {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if let Some(o) = m["options"].as_array_mut() {
            o.retain(|o| o != "gid=5");
        }
    }
    Ok(b)
}

/// Nothing of `b` is left: state, the cgroup a runtime would name after the id, mounts,
/// processes.
fn clean(ctx: &Ctx, b: &Bundle) -> Result<(), String> {
    ctx.ensure_clean(Some(&b.id), &format!("/{}", b.id))
}

fn report(ctx: &Ctx, u: &User, b: &mut Bundle) -> Result<Value, String> {
    b.args(&["/probe", "report"]);
    let out = u.run(ctx, b)?.check()?;
    parse_report(&out.stdout)
}

/// The lines of an id map, whitespace-normalised.
fn map_lines(rep: &Value, key: &str) -> Vec<String> {
    rep[key]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        })
        .unwrap_or_default()
}

/// `spec --rootless` run by the user writes a config the user can run; the container's exit
/// code is the runtime's.
fn spec_run_exit_code(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = ctx.bundle()?;
    u.chown(&b.dir)?;
    let dir = b.dir.to_string_lossy().into_owned();
    let mut cmd = u.command(&u.runtime);
    cmd.args(["spec", "--rootless", "--bundle", &dir]);
    ctx.exec(cmd)?.check()?;
    let text = std::fs::read_to_string(b.dir.join("config.json")).ctx("read config.json")?;
    let mut c: Value = serde_json::from_str(&text).ctx("parse config.json")?;
    let ns = c["linux"]["namespaces"].as_array().ctx("namespaces")?;
    ensure!(
        ns.iter().any(|n| n["type"] == "user"),
        "spec --rootless has no user namespace: {ns:?}"
    );
    ensure_eq!(
        c["linux"]["uidMappings"][0]["hostID"],
        json!(u.uid),
        "uidMappings[0].hostID"
    );
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["sh", "-c", "exit 7"]);
    if let Some(env) = c["process"]["env"].as_array_mut() {
        env.push(json!(format!("RUNTIME_TESTS_TAG={}", ctx.tag)));
    }
    b.config = c;
    ensure_eq!(u.run(ctx, &b)?.code(), Some(7), "exit code of run");
    clean(ctx, &b)?;
    Ok(())
}

/// Without --root the state lives under $XDG_RUNTIME_DIR/<runtime name> (runc's rule),
/// and the commands find it there again.
fn state_root_xdg(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    b.args(&["sleep", "1000"]);
    b.write()?;
    let as_user = |args: &[&str]| -> Result<Out, String> {
        let mut cmd = u.command(&u.runtime);
        cmd.args(args);
        ctx.exec(cmd)
    };
    let dir = b.dir.to_string_lossy().into_owned();
    as_user(&["create", "--bundle", &dir, &b.id])?.check()?;
    let root = u.default_root(ctx);
    ensure!(
        root.join(&b.id).is_dir(),
        "no state dir {}",
        root.join(&b.id).display()
    );
    let st = as_user(&["state", &b.id])?.check()?;
    ensure!(st.stdout.contains("created"), "state: {}", st.stdout);
    as_user(&["delete", "--force", &b.id])?.check()?;
    ensure!(
        !root.join(&b.id).exists(),
        "state dir {} left after delete",
        root.join(&b.id).display()
    );
    clean(ctx, &b)?;
    Ok(())
}

/// The user's own ids, mapped to 0: the container sees exactly that mapping.
fn own_mapping(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    let rep = report(ctx, &u, &mut b)?;
    ensure_eq!(
        map_lines(&rep, "uid_map"),
        vec![format!("0 {} 1", u.uid)],
        "uid_map"
    );
    ensure_eq!(
        map_lines(&rep, "gid_map"),
        vec![format!("0 {} 1", u.gid)],
        "gid_map"
    );
    ensure_eq!(rep["uid"], json!(0), "uid in the container");
    clean(ctx, &b)?;
    Ok(())
}

fn sub_mappings(u: &User, extra_start: u32) -> (Value, Value) {
    let m = |own: u32| {
        json!([{"containerID": 0, "hostID": own, "size": 1},
               {"containerID": 1, "hostID": extra_start, "size": SUB_COUNT}])
    };
    (m(u.uid), m(u.gid))
}

/// More ids than the user's own: ranges /etc/subuid and /etc/subgid grant the user, written
/// by newuidmap/newgidmap; the process runs as a mapped non-zero id.
fn subid_ranges(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    let (um, gm) = sub_mappings(&u, u.sub_start);
    b.config["linux"]["uidMappings"] = um;
    b.config["linux"]["gidMappings"] = gm;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let rep = report(ctx, &u, &mut b)?;
    let want = |own: u32| {
        vec![
            format!("0 {own} 1"),
            format!("1 {} {SUB_COUNT}", u.sub_start),
        ]
    };
    ensure_eq!(map_lines(&rep, "uid_map"), want(u.uid), "uid_map");
    ensure_eq!(map_lines(&rep, "gid_map"), want(u.gid), "gid_map");
    ensure_eq!(
        (rep["uid"].clone(), rep["gid"].clone()),
        (json!(1000), json!(1000)),
        "uid and gid in the container"
    );
    clean(ctx, &b)?;
    Ok(())
}

/// Ids /etc/subuid does not grant: newuidmap refuses, and so does the runtime, in one line,
/// leaving nothing.
fn subid_not_granted(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    let (um, gm) = sub_mappings(&u, u.sub_start + SUB_COUNT);
    b.config["linux"]["uidMappings"] = um;
    b.config["linux"]["gidMappings"] = gm;
    b.args(&["true"]);
    let out = u.run(ctx, &b)?;
    refused(ctx, &b, &out, &["uidMappings", "uid_map", "newuidmap"])?;
    Ok(())
}

/// A failed run or create with one error line naming one of `words`, and nothing left.
fn refused(ctx: &Ctx, b: &Bundle, out: &Out, words: &[&str]) -> Result<(), String> {
    one_line_error(out)?;
    let said = out.stderr.to_lowercase();
    require(
        words.iter().any(|w| said.contains(&w.to_lowercase())),
        format!("refused, but not over any of {words:?}: {}", out.describe()),
    )?;
    clean(ctx, b)
}

/// mknod is not allowed in a user namespace: the default devices are the host's nodes,
/// bind-mounted.
fn devices_bound(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    let rep = report(ctx, &u, &mut b)?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let d = &rep["dev"][name];
        ensure_eq!(
            (d["type"].clone(), d["major"].clone(), d["minor"].clone()),
            (json!("c"), json!(major), json!(minor)),
            "/dev/{name}"
        );
        rep_mount(&rep, &format!("/dev/{name}"))?;
    }
    clean(ctx, &b)?;
    Ok(())
}

/// A sysfs mount without a network namespace of the container's own cannot be made
/// unprivileged; the host's /sys is bound instead, read-only.
fn sysfs_fallback(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    for m in b.config["mounts"].as_array_mut().ctx("mounts")? {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                        "options": ["nosuid", "noexec", "nodev", "ro"]});
        }
    }
    let rep = report(ctx, &u, &mut b)?;
    let m = rep_mount(&rep, "/sys")?;
    ensure_eq!(m.fstype, "sysfs", "fstype at /sys");
    ensure!(
        crate::tests::has_opt(&m.options, "ro"),
        "/sys is not read-only: {}",
        m.options
    );
    clean(ctx, &b)?;
    Ok(())
}

/// A memory limit needs a cgroup the user may make; with none delegated the runtime refuses
/// in one line naming the resource, and leaves nothing.
fn memory_refused(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    b.args(&["true"]);
    let out = u.run(ctx, &b)?;
    refused(ctx, &b, &out, &["memory"])?;
    Ok(())
}

/// create, start, state, exec, kill and delete by the user; nothing left behind.
fn lifecycle(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    b.args(&["sleep", "1000"]);
    u.create(ctx, &b)?.check()?;
    let status = |want: &str| -> Result<(), String> {
        let mut last = String::new();
        if crate::sys::wait_for(30, || {
            last = u
                .rt(ctx, &["state", &b.id])
                .map(|o| o.stdout)
                .unwrap_or_default();
            serde_json::from_str::<Value>(&last)
                .map(|v| v["status"] == want)
                .unwrap_or(false)
        }) {
            Ok(())
        } else {
            Err(format!("never {want}; last state {last:?}"))
        }
    };
    status("created")?;
    u.rt(ctx, &["start", &b.id])?.check()?;
    status("running")?;
    // exec joins the container's user namespace before its pid namespace, which the user
    // namespace owns: the user cannot enter that one from outside.
    let out = u.rt(ctx, &["exec", &b.id, "echo", "exec-ok"])?.check()?;
    ensure_eq!(out.stdout.trim(), "exec-ok", "exec's output");
    u.rt(ctx, &["kill", &b.id, "KILL"])?.check()?;
    status("stopped")?;
    u.rt(ctx, &["delete", &b.id])?.check()?;
    clean(ctx, &b)?;
    Ok(())
}

/// uid 0 of a user namespace the user made (`unshare --map-root-user`, as rootless podman
/// runs the runtime): no host privilege, so no cgroup and no mknod, and the config needs no
/// user namespace of its own.
fn userns_root(ctx: &Ctx) -> TResult {
    let u = User::new(ctx)?;
    let mut b = bundle(ctx, &u)?;
    b.without_namespace("user");
    let linux = b.config["linux"].as_object_mut().ctx("linux")?;
    linux.remove("uidMappings");
    linux.remove("gidMappings");
    b.args(&["/probe", "report"]);
    b.write()?;
    let mut cmd = u.command(std::path::Path::new("unshare"));
    cmd.args(["--user", "--map-root-user", "--mount", "--"])
        .arg(&u.runtime)
        .arg("--root")
        .arg(&ctx.root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(&b.id);
    let out = ctx.exec(cmd)?.check()?;
    let rep = parse_report(&out.stdout)?;
    ensure_eq!(
        map_lines(&rep, "uid_map"),
        vec![format!("0 {} 1", u.uid)],
        "uid_map"
    );
    ensure_eq!(rep["dev"]["null"]["major"], json!(1), "/dev/null major");
    clean(ctx, &b)?;
    Ok(())
}
