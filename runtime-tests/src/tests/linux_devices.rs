//! config-linux.md "Devices" / "Default Devices" and runtime-linux.md "Dev symbolic links".
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_devices";
        default_devices, dev_symlinks, configured_device, default_devices_listed)
}

fn check_char(dev: &Value, name: &str, major: u64, minor: u64) -> TResult {
    let d = &dev[name];
    ensure!(
        d["type"] == "c" && d["major"] == major && d["minor"] == minor,
        "/dev/{name} is not char {major}:{minor}: {d}"
    );
    Ok(())
}

fn default_devices(ctx: &Ctx) -> TResult {
    let rep = ctx.report(&mut ctx.bundle()?)?;
    let dev = &rep["dev"];
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        check_char(dev, name, major, minor)?;
    }
    // "/dev/ptmx: a bind-mount or symlink of the container's /dev/pts/ptmx"
    let ptmx = &dev["ptmx"];
    let is_link =
        ptmx["type"] == "l" && matches!(ptmx["link"].as_str(), Some("pts/ptmx" | "/dev/pts/ptmx"));
    ensure!(
        is_link || check_char(dev, "ptmx", 5, 2).is_ok(),
        "/dev/ptmx: {ptmx}"
    );
    Ok(())
}

fn dev_symlinks(ctx: &Ctx) -> TResult {
    let rep = ctx.report(&mut ctx.bundle()?)?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let d = &rep["dev"][name];
        ensure!(
            d["type"] == "l" && d["link"] == target,
            "/dev/{name} is not a symlink to {target}: {d}"
        );
    }
    Ok(())
}

fn configured_device(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 0}]);
    let rep = ctx.report(&mut b)?;
    check_char(&rep["dev"], "fuse", 10, 229)?;
    ensure_eq!(rep["dev"]["fuse"]["mode"], 0o640, "mode of /dev/fuse");
    Ok(())
}

/// Docker's `--privileged` lists every host device in linux.devices, the default ones and
/// /dev/ptmx included: each is made as listed (owner and mode of the config's entry), and
/// /dev/ptmx stays the container's own ptmx (runc replaces it with the pts/ptmx link).
fn default_devices_listed(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let dev = |name: &str, major: u64, minor: u64, gid: u32| {
        json!({"path": format!("/dev/{name}"), "type": "c", "major": major, "minor": minor,
               "fileMode": 0o666, "uid": 0, "gid": gid})
    };
    b.config["linux"]["devices"] = json!([
        dev("null", 1, 3, 0),
        dev("zero", 1, 5, 0),
        dev("full", 1, 7, 0),
        dev("random", 1, 8, 0),
        dev("urandom", 1, 9, 0),
        dev("tty", 5, 0, 5),
        dev("ptmx", 5, 2, 5),
        dev("fuse", 10, 229, 0),
    ]);
    // As Docker sends it with --privileged: every device allowed.
    b.config["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    b.args(&["/bin/sh", "-c", "/probe open /dev/ptmx w; /probe report"]);
    let out = ctx.run(&b, &[])?.check()?;
    let mut lines = out.stdout.lines();
    let open = crate::ctx::parse_report(lines.next().unwrap_or_default())?;
    ensure_eq!(open["ok"], true, "open of /dev/ptmx ({open})");
    let rep = crate::ctx::parse_report(lines.next().unwrap_or_default())?;
    let dev = &rep["dev"];
    for (name, major, minor) in [("null", 1, 3), ("tty", 5, 0), ("fuse", 10, 229)] {
        check_char(dev, name, major, minor)?;
    }
    ensure_eq!(dev["tty"]["gid"], 5, "group of /dev/tty as listed");
    let ptmx = &dev["ptmx"];
    let is_link =
        ptmx["type"] == "l" && matches!(ptmx["link"].as_str(), Some("pts/ptmx" | "/dev/pts/ptmx"));
    ensure!(
        is_link || check_char(dev, "ptmx", 5, 2).is_ok(),
        "/dev/ptmx: {ptmx}"
    );
    Ok(())
}
