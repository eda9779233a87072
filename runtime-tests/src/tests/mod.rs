//! Test groups, named after the spec sections they check, and helpers they share.
pub mod bad_input;
pub mod cli;
pub mod cli_checkpoint;
pub mod cli_exec;
pub mod cli_listen_fds;
pub mod cli_pause;
pub mod config_hooks;
pub mod config_hostname;
pub mod config_misc;
pub mod config_mounts;
pub mod config_mounts_cgroup;
pub mod config_mounts_idmap;
pub mod config_process;
pub mod config_process_sched;
pub mod config_root;
pub mod config_terminal;
pub mod faults;
pub mod faults_stages;
pub mod lifecycle;
pub mod linux_cgroups;
pub mod linux_cgroups_foreign;
pub mod linux_devices;
pub mod linux_namespaces;
pub mod linux_paths;
pub mod linux_resources;
pub mod linux_resources_bad;
pub mod linux_resources_controllers;
pub mod linux_resources_update;
pub mod linux_seccomp;
pub mod linux_seccomp_default;
pub mod linux_sysctl;
pub mod lsm;
pub mod notify_socket;
pub mod rootless;
pub mod security;
pub mod security_proc;
pub mod security_race;
pub mod security_rootfs;
pub mod state;
pub mod strata_layers;
pub mod terminal_relay;

use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::runtime::Out;
use crate::sys::{self, Mount};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Capability names by number (capabilities(7)); index = bit.
pub const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .filter_map(|n| CAPS.iter().position(|c| c == n))
        .fold(0, |m, i| m | 1 << i)
}

pub fn cap_names(mask: u64) -> Vec<&'static str> {
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// The harness's own bounding set: what any runtime started by it can grant at most.
pub fn host_cap_bnd() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// A capability mask from the probe's report (`CapEff`, ...).
pub fn rep_caps(rep: &Value, key: &str) -> Result<u64, String> {
    let hex = rep["status"][key]
        .as_str()
        .ok_or(format!("report has no {key}"))?;
    u64::from_str_radix(hex, 16).map_err(|e| format!("{key} {hex:?}: {e}"))
}

pub fn rep_mounts(rep: &Value) -> Vec<Mount> {
    let lines = rep["mountinfo"].as_array().cloned().unwrap_or_default();
    lines
        .iter()
        .filter_map(|l| l.as_str().and_then(sys::parse_mountinfo_line))
        .collect()
}

/// The topmost mount at `point` in the container.
pub fn rep_mount(rep: &Value, point: &str) -> Result<Mount, String> {
    rep_mounts(rep)
        .into_iter()
        .rev()
        .find(|m| m.point == point)
        .ok_or(format!("no mount at {point} in the container"))
}

pub fn has_opt(opts: &str, want: &str) -> bool {
    opts.split(',').any(|o| o == want)
}

/// `ensure!` for helpers that return `Result<_, String>`.
pub fn require(cond: bool, msg: String) -> Result<(), String> {
    cond.then_some(()).ok_or(msg)
}

/// A failed command with exactly one non-empty line on stderr.
pub fn one_line_error(out: &Out) -> Result<(), String> {
    if out.ok() {
        return Err(format!(
            "expected failure, but it succeeded: {}",
            out.describe()
        ));
    }
    let lines = out.stderr.lines().filter(|l| !l.trim().is_empty()).count();
    if lines != 1 {
        return Err(format!(
            "expected a one-line error, got {lines} lines: {}",
            out.describe()
        ));
    }
    Ok(())
}

/// runtime.md "Errors": the runtime refused bundle `b`. `out` is its `create` or `run`: it
/// failed with one error line that names one of `words` (the refused field, value or path,
/// in any runtime's wording; at least one), and left nothing behind: no
/// state dir for `b.id`, no cgroup at its cgroupsPath, no mount, no tagged process. A runtime
/// that wrongly accepted gets its container destroyed first. Attack tests pass the attacked
/// path, so a refusal for an unrelated reason does not count.
pub fn refused(ctx: &Ctx, b: &Bundle, out: &Out, words: &[&str]) -> Result<(), String> {
    if out.ok() {
        let _ = ctx.destroy(&b.id);
    }
    one_line_error(out)?;
    // Runtimes word errors differently, so `words` are alternatives, matched without case.
    let said = out.stderr.to_lowercase();
    require(
        words.iter().any(|w| said.contains(&w.to_lowercase())),
        format!("refused, but not over any of {words:?}: {}", out.describe()),
    )?;
    ctx.ensure_clean(Some(&b.id), &b.cgroups_path())
}

/// A bundle whose process is `probe sleep --mark /out/started --sigfile /out/signal`, with the
/// returned host dir bind-mounted at /out.
pub fn sleeper(ctx: &Ctx) -> Result<(Bundle, PathBuf), String> {
    let mut b = ctx.bundle()?;
    let out = ctx.host_dir(&format!("out-{}", b.id))?;
    b.bind(&out, "/out", false)?;
    b.args(&[
        "/probe",
        "sleep",
        "--mark",
        "/out/started",
        "--sigfile",
        "/out/signal",
    ]);
    Ok((b, out))
}

/// Waits until the sleeper wrote its mark (its signal handlers are then installed).
pub fn wait_started(out: &Path) -> Result<(), String> {
    if sys::wait_for(30, || out.join("started").exists()) {
        Ok(())
    } else {
        Err("the container process never started (no /out/started)".into())
    }
}

/// The `pid` of a state document, if it is a positive integer.
pub fn state_pid(st: &Value) -> Result<i32, String> {
    st["pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .map(|p| p as i32)
        .ok_or(format!("state has no positive pid: {st}"))
}

pub fn cmdline(pid: i32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}
