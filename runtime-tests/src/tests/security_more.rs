//! security.md "Attacks" rows not covered elsewhere: procfs write redirection by an overmount
//! (CVE-2019-16884, CVE-2025-52881), a pre-planted /dev/console symlink (CVE-2025-52565), the
//! created init seen from the host and from an exec'd process (CVE-2019-5736), masked files
//! that cannot be removed or unmounted, and seccomp without noNewPrivileges as root.
use super::{refused, rep_caps, sleeper, state_pid};
use crate::bundle::{Bundle, DEFAULT_CAPS};
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("security_more";
        sysctl_file_overmounted, sysctl_dir_overmounted, dev_console_symlink,
        masked_file_pinned, seccomp_without_nnp_as_root);
    // Observed with Debian's runc 1.1.5: the waiting `runc init` runs /usr/sbin/runc itself
    // (same device and inode, no memfd copy) and is dumpable, so a process exec'd into the
    // created container can open /proc/1/exe.
    v.push(
        Test::new(
            "security_more::created_init_unreachable",
            created_init_unreachable,
        )
        .deviates(
            "runc",
            "the created init is the host runc binary, reachable via /proc/1/exe from inside",
        ),
    );
    v
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

fn unchanged(path: &Path, want: &str) -> Result<(), String> {
    let got = std::fs::read_to_string(path).ctx(path.display())?;
    super::require(got == want, format!("{} changed: {got:?}", path.display()))
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
    refused(
        ctx,
        &b,
        &ctx.try_create(&b, &[])?,
        &["shmmni", "sysctl", "/proc/sys"],
    )?;
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
    refused(
        ctx,
        &b,
        &ctx.try_create(&b, &[])?,
        &["shmmni", "sysctl", "/proc/sys"],
    )?;
    Ok(unchanged(&fake.join("shmmni"), "fake\n")?)
}

/// `rootfs/dev/console` (the rootfs's own /dev: no tmpfs) is a symlink to a host marker, by
/// absolute path (reached if resolved on the host) and by a `..` path climbing out of the
/// rootfs. With a terminal, the marker must stay a regular file with its content, whether
/// the runtime refuses or confines the link.
fn dev_console_symlink(ctx: &Ctx) -> TResult {
    let marker = ctx.path("console-marker");
    std::fs::write(&marker, "marker\n").ctx("write the marker")?;
    let up = "../".repeat(40);
    let rel = format!(
        "{up}{}",
        marker.display().to_string().trim_start_matches('/')
    );
    for (n, target) in [marker.display().to_string(), rel].iter().enumerate() {
        let mut b = ctx.bundle()?;
        if let Some(m) = b.config["mounts"].as_array_mut() {
            m.retain(|m| m["destination"] != "/dev");
        }
        b.config["process"]["terminal"] = json!(true);
        b.args(&["/bin/sh", "-c", "sleep 1000"]);
        std::os::unix::fs::symlink(target, b.rootfs().join("dev/console")).ctx("symlink")?;
        let sock = ctx.path(&format!("console-{n}.sock"));
        let listener = UnixListener::bind(&sock).ctx("bind the console socket")?;
        listener.set_nonblocking(true).ctx("nonblocking")?;
        b.write()?;
        let (dir, s) = (b.dir.to_string_lossy(), sock.to_string_lossy());
        let out = ctx.rt(&["create", "--bundle", &dir, "--console-socket", &s, &b.id])?;
        drop(listener);
        if out.ok() {
            ctx.destroy(&b.id)?;
        } else {
            refused(ctx, &b, &out, &["console"])?;
        }
        ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
        let meta = std::fs::symlink_metadata(&marker).ctx("stat the marker")?;
        ensure!(
            meta.file_type().is_file(),
            "the marker is no longer a regular file (link {target})"
        );
        unchanged(&marker, "marker\n").map_err(|e| format!("link {target}: {e}"))?;
    }
    Ok(())
}

/// CVE-2019-5736 while created: the init's exe, from the host and from a process exec'd into
/// the container (root, the same capabilities as the init), is either not the host runtime
/// binary (runc: a sealed memfd copy) or cannot be reached: from the host it cannot be opened
/// for writing, and from inside not at all (strata: the init is non-dumpable until execve).
fn created_init_unreachable(ctx: &Ctx) -> TResult {
    let host = std::fs::metadata(&ctx.rt.path).ctx("stat the runtime")?;
    let runtime = (host.dev(), host.ino());
    let (b, _) = sleeper(ctx)?;
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    let exe = format!("/proc/{pid}/exe");
    let meta = std::fs::metadata(&exe).ctx(&exe)?;
    if (meta.dev(), meta.ino()) == runtime {
        let w = std::fs::OpenOptions::new().write(true).open(&exe);
        ensure!(w.is_err(), "{exe} (the runtime binary) opened for writing");
    }
    let out = ctx
        .rt(&["exec", &b.id, "/probe", "stat", "/proc/1/exe"])?
        .check()?;
    let st = parse_report(&out.stdout)?;
    if st["ok"] == true {
        ensure!(
            (st["dev"].as_u64(), st["ino"].as_u64()) != (Some(runtime.0), Some(runtime.1)),
            "the created init's /proc/1/exe is the runtime binary, reachable from inside: {st}"
        );
    } else {
        ensure!(
            st["errno"] == libc::EACCES || st["errno"] == libc::EPERM,
            "stat /proc/1/exe from inside: {st}"
        );
    }
    Ok(ctx.destroy(&b.id)?)
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

/// noNewPrivileges false, root, the default capabilities (no CAP_SYS_ADMIN): the container
/// starts, with the filter in force and the configured capabilities.
fn seccomp_without_nnp_as_root(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    });
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.args(&["/bin/sh", "-c", "/probe report; /probe mkdir /tmp/blocked"]);
    let out = ctx.run(&b, &[])?.check()?;
    let rep = parse_report(out.stdout.lines().next().unwrap_or_default())?;
    ensure_eq!(rep["status"]["NoNewPrivs"], "0", "NoNewPrivs");
    ensure_eq!(rep["status"]["Seccomp"], "2", "Seccomp");
    ensure_eq!(rep["uid"], 0, "uid");
    ensure_eq!(
        rep_caps(&rep, "CapEff")?,
        super::cap_mask(DEFAULT_CAPS),
        "CapEff"
    );
    let last: Value = parse_report(&out.stdout).ctx("mkdir outcome")?;
    ensure_eq!(last, json!({"ok": false, "errno": 1}), "mkdir");
    Ok(())
}
