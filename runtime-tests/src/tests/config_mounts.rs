//! config.md "Mounts" and config-linux.md "Default Filesystems"; pivot_root isolation.
use super::{has_opt, rep_mount, rep_mounts};
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, sys};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    crate::tests!("config_mounts";
        proc, sysfs_readonly, tmpfs_options, devpts, shm_and_mqueue, bind_rw, bind_ro, bind_file,
        bind_filesystem_options, bind_through_dangling_symlink, listed_order, relative_destination, no_host_mounts, no_pivot)
}

fn proc(ctx: &Ctx) -> TResult {
    let rep = ctx.report(&mut ctx.bundle()?)?;
    ensure_eq!(rep_mount(&rep, "/proc")?.fstype, "proc", "/proc type");
    ensure_eq!(rep["pid"], 1, "pid seen through the container's /proc");
    Ok(())
}

fn sysfs_readonly(ctx: &Ctx) -> TResult {
    let rep = ctx.report(&mut ctx.bundle()?)?;
    let m = rep_mount(&rep, "/sys")?;
    ensure!(
        m.fstype == "sysfs" && has_opt(&m.options, "ro"),
        "/sys: {m:?}"
    );
    Ok(())
}

fn tmpfs_options(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let opts = ["nosuid", "nodev", "size=1m", "mode=1750"];
    b.mount(json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": opts}));
    let m = rep_mount(&ctx.report(&mut b)?, "/mnt/t")?;
    ensure!(
        m.fstype == "tmpfs" && has_opt(&m.options, "nosuid") && has_opt(&m.options, "nodev"),
        "{m:?}"
    );
    ensure!(
        has_opt(&m.super_options, "size=1024k") && has_opt(&m.super_options, "mode=1750"),
        "{m:?}"
    );
    Ok(())
}

fn devpts(ctx: &Ctx) -> TResult {
    let m = rep_mount(&ctx.report(&mut ctx.bundle()?)?, "/dev/pts")?;
    ensure!(m.fstype == "devpts", "{m:?}");
    for o in ["ptmxmode=666", "mode=620", "gid=5"] {
        ensure!(has_opt(&m.super_options, o), "/dev/pts lacks {o}: {m:?}");
    }
    Ok(())
}

fn shm_and_mqueue(ctx: &Ctx) -> TResult {
    let rep = ctx.report(&mut ctx.bundle()?)?;
    let shm = rep_mount(&rep, "/dev/shm")?;
    ensure_eq!(shm.fstype, "tmpfs", "/dev/shm type");
    ensure_eq!(rep["dev"]["shm"]["mode"], 0o1777, "/dev/shm mode"); // tmpfs omits its default mode=1777
    ensure_eq!(
        rep_mount(&rep, "/dev/mqueue")?.fstype,
        "mqueue",
        "/dev/mqueue type"
    );
    Ok(())
}

fn bind_rw(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let host = ctx.host_dir("shared")?;
    std::fs::write(host.join("in"), "from the host").ctx("write host file")?;
    b.bind(&host, "/h", false)?;
    b.args(&[
        "/bin/sh",
        "-c",
        "cat /h/in && /probe write /h/out from-container",
    ]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure!(
        out.stdout.contains("from the host"),
        "host file not visible: {:?}",
        out.stdout
    );
    let text = std::fs::read_to_string(host.join("out")).ctx("file written by the container")?;
    ensure_eq!(text, "from-container", "content");
    Ok(())
}

fn bind_ro(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let host = ctx.host_dir("shared")?;
    std::fs::write(host.join("in"), "from the host").ctx("write host file")?;
    b.bind(&host, "/h", true)?;
    b.args(&["/probe", "cat", "/h/in"]);
    ensure!(
        ctx.run(&b, &[])?.check()?.stdout.contains("from the host"),
        "host file not readable"
    );
    b.args(&["/probe", "write", "/h/out", "x"]);
    let out = ctx.run(&b, &[])?;
    ensure!(
        !out.ok() && out.stderr.contains("os error 30"),
        "write did not fail with EROFS: {}",
        out.describe()
    );
    ensure!(!host.join("out").exists(), "the write reached the host");
    Ok(())
}

fn bind_file(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let file = ctx.path("single-file");
    std::fs::write(&file, "just one file").ctx("write host file")?;
    b.mount(json!({"destination": "/etc/bound", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    b.args(&["/probe", "cat", "/etc/bound"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "just one file", "bound file content");
    Ok(())
}

/// Filesystem options on a bind (`mode=`, `size=`: a tmpfs's, copied onto a bind) cannot
/// apply to a bind, which shares its source's superblock; runc ignores them (mount(2) does
/// with MS_BIND), and configs written for it carry them.
fn bind_filesystem_options(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let host = ctx.host_dir("shared")?;
    std::fs::write(host.join("in"), "from the host").ctx("write host file")?;
    let opts = ["rbind", "nosuid", "mode=755", "size=1k"];
    b.mount(json!({"destination": "/h", "type": "bind", "source": host, "options": opts}));
    b.args(&["/probe", "cat", "/h/in"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "from the host", "file through the bind");
    Ok(())
}

/// A bind destination that is a dangling symlink in the image: what it points to is created
/// and mounted on, inside the root even when the link climbs out with `..` (runc resolves
/// it the same way, in the rootfs's scope). Nothing appears beside the rootfs.
fn bind_through_dangling_symlink(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let host = ctx.host_dir("shared")?;
    std::fs::write(host.join("in"), "from the host").ctx("write host file")?;
    let name = format!("dangling-{}", b.id);
    let link = format!("../../../{name}/dir");
    std::os::unix::fs::symlink(&link, b.rootfs().join("etc/link")).ctx("symlink in the rootfs")?;
    b.bind(&host, "/etc/link", false)?;
    b.args(&["/probe", "cat", "/etc/link/in"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "from the host", "file through the bind");
    ensure!(
        b.rootfs().join(&name).join("dir").is_dir(),
        "the link's target was not made inside the rootfs"
    );
    for outside in [
        b.rootfs().join("..").join(&name),
        std::path::Path::new("/").join(&name),
    ] {
        ensure!(!outside.exists(), "{} was created", outside.display());
    }
    Ok(())
}

/// "The runtime MUST mount entries in the listed order": a mount inside an earlier tmpfs
/// is only visible in that tmpfs if the tmpfs came first.
fn listed_order(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.mount(json!({"destination": "/mnt/outer", "type": "tmpfs", "source": "tmpfs"}));
    b.mount(json!({"destination": "/mnt/outer/inner", "type": "tmpfs", "source": "tmpfs"}));
    b.args(&["/probe", "ls", "/mnt/outer"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout.trim(), "inner", "entries of /mnt/outer");
    Ok(())
}

/// config.md: a relative destination is deprecated but MAY be used and "MUST be interpreted
/// as relative to /" (so it is not a bad-input case).
fn relative_destination(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.mount(json!({"destination": "mnt/rel", "type": "tmpfs", "source": "tmpfs"}));
    ensure_eq!(
        rep_mount(&ctx.report(&mut b)?, "/mnt/rel")?.fstype,
        "tmpfs",
        "type at /mnt/rel"
    );
    Ok(())
}

/// After pivot_root the old root is gone: every mount point the container sees is `/` or
/// lies under a path the config asked for (mounts, masked and read-only paths).
fn no_host_mounts(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let rep = ctx.report(&mut b)?;
    check_only_configured_mounts(&rep, &b.config)
}

fn check_only_configured_mounts(rep: &Value, config: &Value) -> TResult {
    let mut allowed: Vec<String> = vec![];
    let strs = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for m in config["mounts"].as_array().into_iter().flatten() {
        allowed.push(format!(
            "/{}",
            m["destination"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
        ));
    }
    allowed.extend(strs(&config["linux"]["maskedPaths"]));
    allowed.extend(strs(&config["linux"]["readonlyPaths"]));
    let mounts = rep_mounts(rep);
    ensure!(!mounts.is_empty(), "empty mountinfo");
    for m in mounts {
        let ok = m.point == "/"
            || allowed
                .iter()
                .any(|a| sys::is_under(&m.point, std::path::Path::new(a)));
        ensure!(ok, "host mount visible in the container: {m:?}");
    }
    Ok(())
}

/// `run --no-pivot` (MS_MOVE + chroot) still runs the process inside the rootfs.
fn no_pivot(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "report"]);
    let out = ctx.run(&b, &["--no-pivot"])?.check()?;
    let rep = parse_report(&out.stdout)?;
    ensure_eq!(rep["cwd_escaped"], false, "cwd outside the root");
    check_only_configured_mounts(&rep, &b.config)
}
