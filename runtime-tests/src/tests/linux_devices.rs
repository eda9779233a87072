//! config-linux.md "Devices" / "Default Devices" and runtime-linux.md "Dev symbolic links".
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_devices";
        default_devices, dev_symlinks, configured_device)
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
