//! security.md "Attacks" rows about the rootfs and the runtime binary: a `/dev` symlink to a
//! host dir (CVE-2021-30465 family), a bind mount through a dangling symlink, a swapped
//! `/dev/null` under masking (CVE-2025-31133), a pre-planted `/dev/console` symlink
//! (CVE-2025-52565), and overwriting the runtime through `/proc/PID/exe` (CVE-2019-5736),
//! also while the init waits in created.
use super::security::{control_runs, symlink_out, unchanged, untouched};
use super::{refused, sleeper, state_pid};
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, sys};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::process::Command;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("security_rootfs";
        bind_through_dangling_symlink, dev_console_symlink, proc_exe_overwrite,
        proc_exe_overwrite_ptrace);
    // runc 1.1.5 creates /dev/fd, /dev/stdin, /dev/ptmx ... through the symlink, in the host
    // dir; it also binds the symlinked /dev/null's target over masked paths.
    v.push(
        Test::new("security_rootfs::dev_symlink_to_host", dev_symlink_to_host).deviates(
            "runc",
            "follows a rootfs/dev symlink and writes into the host dir",
        ),
    );
    v.push(
        Test::new(
            "security_rootfs::dev_null_symlink_masking",
            dev_null_symlink_masking,
        )
        .deviates(
            "runc",
            "masks paths with whatever rootfs/dev/null points to",
        ),
    );
    v.push(
        Test::new(
            "security_rootfs::dev_null_symlink_replaced",
            dev_null_symlink_replaced,
        )
        .deviates(
            "runc",
            "leaves a rootfs/dev/null symlink in place of the device",
        ),
    );
    // Observed with Debian's runc 1.1.5: the waiting `runc init` runs /usr/sbin/runc itself
    // (same device and inode, no memfd copy) and is dumpable, so a process exec'd into the
    // created container can open /proc/1/exe.
    v.push(
        Test::new(
            "security_rootfs::created_init_unreachable",
            created_init_unreachable,
        )
        .deviates(
            "runc",
            "the created init is the host runc binary, reachable via /proc/1/exe from inside",
        ),
    );
    v
}

/// `rootfs/dev` -> an empty host dir: nothing may be created or mounted there, whether the
/// runtime refuses the bundle or confines the symlink to the rootfs.
fn dev_symlink_to_host(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let target = symlink_out(ctx, &b, "dev")?;
    b.args(&["/probe", "exit", "0"]);
    let out = ctx.run(&b, &[])?;
    if !out.ok() {
        refused(ctx, &b, &out, &["/dev"])?;
    }
    untouched(&target)?;
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// The destination `/data` is a symlink to a path that exists neither in the rootfs nor on
/// the host: it must be resolved inside the rootfs (or refused), never created on the host.
fn bind_through_dangling_symlink(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let escape = ctx.path("escape");
    let src = ctx.host_dir("bind-src")?;
    std::fs::write(src.join("marker"), "bound").ctx("write marker")?;
    std::os::unix::fs::symlink(&escape, b.rootfs().join("data")).ctx("symlink")?;
    b.bind(&src, "/data", false)?;
    b.args(&["/probe", "ls", "/data"]);
    let out = ctx.run(&b, &[])?;
    ensure!(
        !escape.exists(),
        "{} was created on the host ({})",
        escape.display(),
        out.describe()
    );
    if out.ok() {
        ensure_eq!(out.stdout.trim(), "marker", "ls /data in the container");
    } else {
        refused(ctx, &b, &out, &["/data"])?;
    }
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// A bundle without a /dev tmpfs (the rootfs's own /dev is used) whose `dev/null` is a
/// symlink to `/canary`; the container stats `path` into /out/stat. Returns the stat (None if
/// the runtime refused) after checking the canary is unchanged. Nothing here reads a file
/// into stdout: stdout may be that very file with a runtime that opens the symlinked
/// /dev/null for stdio.
fn with_swapped_dev_null(ctx: &Ctx, path: &str) -> Result<Option<Value>, String> {
    let no_dev_tmpfs = |b: &mut crate::bundle::Bundle| {
        if let Some(m) = b.config["mounts"].as_array_mut() {
            m.retain(|m| m["destination"] != "/dev");
        }
    };
    // Without the swap the bundle runs: a refusal below is over /dev/null.
    let mut control = ctx.bundle()?;
    no_dev_tmpfs(&mut control);
    control_runs(ctx, &mut control)?;
    let mut b = ctx.bundle()?;
    no_dev_tmpfs(&mut b);
    let canary = b.rootfs().join("canary");
    std::fs::write(&canary, "canary\n").ctx("write canary")?;
    std::os::unix::fs::symlink("/canary", b.rootfs().join("dev/null")).ctx("symlink")?;
    let out_dir = ctx.host_dir("out")?;
    b.bind(&out_dir, "/out", false)?;
    let script = format!("/probe stat {path} > /out/stat");
    b.args(&["/bin/sh", "-c", &script]);
    let res = ctx.run(&b, &[])?;
    let content = std::fs::read(&canary).ctx("read canary")?;
    super::require(
        content == b"canary\n",
        format!("the canary changed: {content:?}"),
    )?;
    if !res.ok() {
        // The Default Devices check or the masking code: either names /dev/null.
        refused(ctx, &b, &res, &["/dev/null"])?;
        return Ok(None);
    }
    let text = std::fs::read_to_string(out_dir.join("stat")).ctx("stat output")?;
    parse_report(&text).map(Some)
}

fn is_dev_null(st: &Value) -> bool {
    st["type"] == "c" && st["major"] == 1 && st["minor"] == 3
}

/// CVE-2025-31133: masked files must still be the real null device, or the runtime fails.
fn dev_null_symlink_masking(ctx: &Ctx) -> TResult {
    if let Some(st) = with_swapped_dev_null(ctx, "/proc/keys")? {
        ensure!(is_dev_null(&st), "masked /proc/keys is not char 1:3: {st}");
    }
    Ok(())
}

/// config-linux.md Default Devices: the runtime MUST supply /dev/null, so the symlink is
/// replaced by the device (or the runtime fails).
fn dev_null_symlink_replaced(ctx: &Ctx) -> TResult {
    if let Some(st) = with_swapped_dev_null(ctx, "/dev/null")? {
        ensure!(
            is_dev_null(&st),
            "/dev/null in the container is not char 1:3: {st}"
        );
    }
    Ok(())
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

/// CVE-2019-5736: an attacker process exec'd into the *created* container (so it sees the
/// waiting init, /proc/1) loops over /proc/*/exe trying to write (directly and through held
/// O_PATH fds) while the host starts the container and runs `exec` (also of a
/// `#!/proc/self/exe` script) and `state`. The runtime binary must stay byte for byte the
/// same. A private copy of the binary is the runtime here, and the attack writes to that copy
/// (or a memfd) only: a loop that wrote to every foreign exe could damage host binaries that
/// a vulnerable runtime exposes, e.g. /bin/sh run by an ENOEXEC fallback.
fn proc_exe_overwrite(ctx: &Ctx) -> TResult {
    exe_overwrite(ctx, false)
}

/// The same with CAP_SYS_PTRACE (no user namespace): the capability overrides a non-dumpable
/// runtime process, so the attack must hold /proc/1/exe of the waiting init; what it holds
/// must be the runtime's read-only bind or sealed copy, and every write refused.
fn proc_exe_overwrite_ptrace(ctx: &Ctx) -> TResult {
    exe_overwrite(ctx, true)
}

fn exe_overwrite(ctx: &Ctx, ptrace: bool) -> TResult {
    let copy = ctx.path("runtime-copy");
    std::fs::copy(&ctx.rt.path, &copy).ctx("copy the runtime")?;
    let original = std::fs::read(&copy).ctx("read the copy")?;
    let run = |args: &[&str]| -> Result<crate::runtime::Out, String> {
        let mut cmd = Command::new(&copy);
        cmd.current_dir("/")
            .env("RUNTIME_TESTS_TAG", &ctx.tag)
            .arg("--root")
            .arg(&ctx.root)
            .args(args);
        ctx.exec(cmd)
    };
    let (mut b, out) = super::sleeper(ctx)?;
    if ptrace {
        for set in ["bounding", "effective", "permitted"] {
            if let Some(caps) = b.config["process"]["capabilities"][set].as_array_mut() {
                caps.push(json!("CAP_SYS_PTRACE"));
            }
        }
    }
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").ctx("write /evil")?;
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).ctx("chmod")?;
    b.write()?;
    run(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?.check()?;
    // The attack writes to nothing but this copy (by device and inode) or a memfd.
    let meta = std::fs::metadata(&copy).ctx("stat the copy")?;
    let only = format!("{}:{}", meta.dev(), meta.ino());
    let attack = [
        "/probe",
        "exe-attack",
        "--only",
        &only,
        "--out",
        "/out/result.json",
        "--stop",
        "/out/stop",
        "--mark",
        "/out/attacking",
    ];
    let mut args = vec!["exec", "-d", &b.id];
    args.extend_from_slice(&attack);
    run(&args)?.check()?;
    ensure!(
        sys::wait_for(30, || out.join("attacking").exists()),
        "the attack loop never started"
    );
    run(&["start", &b.id])?.check()?;
    super::wait_started(&out)?;
    for _ in 0..10 {
        // Failures are expected (the script's interpreter is no real program inside).
        let _ = run(&["exec", &b.id, "/evil"])?;
        let _ = run(&["exec", &b.id, "/probe", "exit", "0"])?;
        let _ = run(&["state", &b.id])?;
    }
    // The loop makes a last pass over its held fds when it sees this.
    let result = out.join("result.json");
    std::fs::write(out.join("stop"), "").ctx("write stop")?;
    ensure!(
        sys::wait_for(30, || result.exists()),
        "the attack loop never reported"
    );
    let text = std::fs::read_to_string(&result).ctx("read the attack's result")?;
    let summary: Value =
        serde_json::from_str(&text).map_err(|e| format!("the attack's result {text:?}: {e}"))?;
    let after = std::fs::read(&copy).ctx("read the copy again")?;
    ensure!(
        after == original,
        "the runtime binary was overwritten from inside the container ({} writes, first {})",
        summary["written"].as_array().map_or(0, Vec::len),
        summary["written"][0]
    );
    run(&["delete", "--force", &b.id])?.check()?;
    reached_init(&summary, ptrace)
}

/// What the attack did to /proc/1/exe in its first round, while the init waited at the start
/// gate as a runtime process: held it (then it was the runtime's copy of itself or the target,
/// and it tried writes that were all refused), or was refused the open by the kernel's ptrace
/// check (EACCES: the init is non-dumpable). Anything else means the attack never got near.
fn reached_init(summary: &Value, ptrace: bool) -> TResult {
    let written = summary["written"].as_array().map_or(0, Vec::len);
    ensure!(
        written == 0,
        "{written} writes went through, first {}",
        summary["written"][0]
    );
    let seen = summary["seen"].as_array().cloned().unwrap_or_default();
    let init = seen
        .iter()
        .find(|v| v["exe"] == "/proc/1/exe" && v["round"] == 1)
        .ok_or(format!(
            "the attack never saw the waiting init's /proc/1/exe ({} exes seen)",
            seen.len()
        ))?;
    if init["held"] != true {
        ensure!(
            !ptrace,
            "with CAP_SYS_PTRACE the attack could not open /proc/1/exe, so it proves nothing: {init}"
        );
        ensure!(
            init["open_errno"] == libc::EACCES || init["open_errno"] == libc::EPERM,
            "/proc/1/exe of the waiting init was refused for another reason: {init}"
        );
        eprintln!("note: the waiting init's /proc/1/exe: {init}");
        return Ok(());
    }
    ensure!(
        init["target"] == true || init["memfd"] == true,
        "the waiting init's exe was neither the runtime binary nor a memfd copy: {init}"
    );
    eprintln!("note: the waiting init's /proc/1/exe: {init}");
    let refused = init["write_errnos"].as_array().map_or(0, Vec::len);
    ensure!(
        refused > 0,
        "the attack held the init's exe but never tried to write it: {init}"
    );
    Ok(())
}
