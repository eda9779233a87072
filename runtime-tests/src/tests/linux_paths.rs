//! config-linux.md "Masked Paths" and "Readonly Paths".
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_paths";
        masked_paths, masked_paths_duplicate, readonly_paths)
}

/// /proc/version (a file, readable without the mask) and the template's /sys/firmware (a
/// directory): nothing of them can be read when masked.
fn masked_paths(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "cat", "/proc/version"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure!(
        !out.stdout.is_empty(),
        "/proc/version is empty even unmasked"
    );
    if let Some(masked) = b.config["linux"]["maskedPaths"].as_array_mut() {
        masked.push(serde_json::json!("/proc/version"));
    }
    let out = ctx.run(&b, &[])?.check()?;
    ensure!(
        out.stdout.is_empty(),
        "/proc/version readable: {} bytes",
        out.stdout.len()
    );
    b.args(&["/probe", "ls", "/sys/firmware"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "", "entries of masked /sys/firmware");
    Ok(())
}

/// A path listed twice in maskedPaths (and in readonlyPaths) is masked, as with once: the
/// second mask goes over the first (runc does the same).
fn masked_paths_duplicate(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    for (key, p) in [
        ("maskedPaths", "/proc/version"),
        ("maskedPaths", "/sys/firmware"),
        ("readonlyPaths", "/proc/sys"),
    ] {
        if let Some(list) = b.config["linux"][key].as_array_mut() {
            list.push(serde_json::json!(p));
            list.push(serde_json::json!(p));
        }
    }
    b.args(&["/probe", "cat", "/proc/version"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "", "masked /proc/version");
    b.args(&["/probe", "ls", "/sys/firmware"]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "", "entries of masked /sys/firmware");
    Ok(())
}

/// The template has /proc/sys read-only; the hostname file is namespaced, so even a runtime
/// that fails this test changes nothing outside the container.
fn readonly_paths(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.args(&["/probe", "write", "/proc/sys/kernel/hostname", "changed"]);
    let out = ctx.run(&b, &[])?;
    ensure!(
        !out.ok() && out.stderr.contains("os error 30"),
        "write to /proc/sys did not fail with EROFS: {}",
        out.describe()
    );
    Ok(())
}
