//! security.md "Attacks" rows about procfs and masking: a sysctl write redirected by an
//! overmount of its procfs file or of /proc/sys (CVE-2019-16884, CVE-2025-52881), and masked
//! files (in the rootfs and in /proc) that cannot be removed or unmounted.
use super::refused;
use super::security::unchanged;
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::ensure_eq;
use crate::harness::{Context, TResult, Test};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    crate::tests!("security_proc";
        sysctl_file_overmounted, sysctl_dir_overmounted, masked_file_pinned)
}

/// A bundle that sets kernel.shmmni (so the attack's refusal is known to be over the
/// overmount: the control without it runs).
fn sysctl_bundle(ctx: &Ctx) -> Result<Bundle, String> {
    let mut control = ctx.bundle()?;
    control.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
    super::security::control_runs(ctx, &mut control)?;
    let mut b = ctx.bundle()?;
    b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
    Ok(b)
}

/// `create` of the attacked `b` is refused over the sysctl or /proc/sys, leaving nothing.
fn refused_over_sysctl(ctx: &Ctx, b: &Bundle) -> Result<(), String> {
    let out = ctx.try_create(b, &[])?;
    refused(ctx, b, &out, &["shmmni", "sysctl", "/proc/sys"])
}

/// The sysctl's own procfs file is covered by a bind of a host file: writing the sysctl
/// through the mount would put the value in the host file and leave the kernel unchanged.
fn sysctl_file_overmounted(ctx: &Ctx) -> TResult {
    let mut b = sysctl_bundle(ctx)?;
    let fake = ctx.path("fake-shmmni");
    std::fs::write(&fake, "fake\n").ctx("write the fake file")?;
    b.mount(
        json!({"destination": "/proc/sys/kernel/shmmni", "type": "bind",
                   "source": fake, "options": ["bind"]}),
    );
    refused_over_sysctl(ctx, &b)?;
    Ok(unchanged(&fake, "fake\n")?)
}

/// /proc/sys itself is a bind of a host directory shaped like it.
fn sysctl_dir_overmounted(ctx: &Ctx) -> TResult {
    let mut b = sysctl_bundle(ctx)?;
    let fake = ctx.host_dir("fake-proc-sys/kernel")?;
    std::fs::write(fake.join("shmmni"), "fake\n").ctx("write the fake file")?;
    let src = ctx.path("fake-proc-sys");
    b.mount(json!({"destination": "/proc/sys", "type": "bind",
                   "source": src, "options": ["rbind"]}));
    refused_over_sysctl(ctx, &b)?;
    Ok(unchanged(&fake.join("shmmni"), "fake\n")?)
}

/// A masked rootfs file (and a masked /proc file) reads empty and, without CAP_SYS_ADMIN,
/// can be neither removed nor unmounted; the real file is intact on the host.
fn masked_file_pinned(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let secret = b.rootfs().join("etc/secret");
    std::fs::write(&secret, "secret\n").ctx("write the secret")?;
    if let Some(m) = b.config["linux"]["maskedPaths"].as_array_mut() {
        m.push(json!("/etc/secret"));
    }
    let script = "/probe cat /etc/secret; echo '[1]'; \
        rm -f /etc/secret && echo removed; \
        /bin/busybox umount /etc/secret && echo unmounted; \
        /bin/busybox umount -l /etc/secret && echo detached; \
        /bin/busybox umount -l /proc/kcore && echo kcore-detached; \
        /probe cat /etc/secret; echo '[2]'";
    b.args(&["/bin/sh", "-c", script]);
    let out = ctx.run(&b, &[])?.check()?;
    ensure_eq!(out.stdout, "[1]\n[2]\n", "output of the attempts");
    Ok(unchanged(&secret, "secret\n")?)
}
