//! config.md "Root": path (relative to the bundle or absolute) and readonly.
use super::{has_opt, rep_mount};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    crate::tests!("config_root";
        relative_path, absolute_path, readonly, writable)
}

/// A relative root.path is relative to the bundle, not to the runtime's cwd (always `/` here).
fn relative_path(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    std::fs::rename(b.rootfs(), b.dir.join("myroot")).ctx("rename rootfs")?;
    b.config["root"]["path"] = json!("myroot");
    let rep = ctx.report(&mut b)?;
    ensure_eq!(rep["cwd"], "/", "cwd");
    Ok(())
}

fn absolute_path(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let moved = ctx.path("elsewhere");
    std::fs::rename(b.rootfs(), &moved).ctx("move rootfs")?;
    b.config["root"]["path"] = json!(moved);
    let rep = ctx.report(&mut b)?;
    ensure_eq!(rep["cwd"], "/", "cwd");
    Ok(())
}

fn readonly(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["root"]["readonly"] = json!(true);
    let rep = ctx.report(&mut b)?;
    let root = rep_mount(&rep, "/")?;
    ensure!(
        has_opt(&root.options, "ro"),
        "/ is mounted {:?}",
        root.options
    );
    b.args(&["/probe", "write", "/written", "x"]);
    let out = ctx.run(&b, &[])?;
    ensure!(
        !out.ok() && out.stderr.contains("os error 30"),
        "write to / did not fail with EROFS: {}",
        out.describe()
    );
    ensure!(
        !b.rootfs().join("written").exists(),
        "the file reached the rootfs"
    );
    Ok(())
}

fn writable(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["root"]["readonly"] = json!(false);
    b.args(&["/probe", "write", "/tmp/written", "hello"]);
    ctx.run(&b, &[])?.check()?;
    let text = std::fs::read_to_string(b.rootfs().join("tmp/written"))
        .ctx("file written by the container")?;
    ensure_eq!(text, "hello", "content");
    Ok(())
}
