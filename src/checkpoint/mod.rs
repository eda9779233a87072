//! Checkpoint and restore with CRIU, driven as runc drives it: `criu
//! swrk` and its RPC (`criu.rs`, messages in `rpc.rs`), the image
//! directory and runc's descriptors.json (`images.rs`), and the mounts
//! CRIU must treat as external (`mounts.rs`). The commands are
//! commands/checkpoint.rs and commands/restore.rs.

pub mod criu;
pub mod images;
pub mod mounts;
pub mod rpc;

use crate::cli::CriuArgs;
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

/// CRIU's own verdict on this kernel: `criu check` (bounded: under
/// emulation it takes seconds). Err carries one line: why CRIU cannot
/// work here.
pub fn check_kernel() -> std::result::Result<(), String> {
    let exe = criu::find().map_err(|e| e.to_string())?;
    let out = run_bounded(&exe, &["check"], Duration::from_secs(30))?;
    if out.0 {
        return Ok(());
    }
    let why = criu::last_error_line(&out.1).unwrap_or_else(|| out.1.trim().to_string());
    Err(format!(
        "`criu check` fails on kernel {}: {why}",
        kernel_release()
    ))
}

/// The CRIU to run, once `criu check` passes: checkpoint and restore
/// call this before they touch the image directory or any state, so a
/// kernel CRIU cannot work on fails with one line and leaves nothing.
pub fn require(what: &str) -> Result<std::path::PathBuf> {
    let exe = criu::find()?;
    check_kernel().map_err(|why| Error::invalid(format!("cannot {what}: {why}")))?;
    Ok(exe)
}

/// One line for `features`: the CRIU found and whether it works here.
pub fn describe() -> String {
    let exe = match criu::find() {
        Ok(e) => e,
        Err(e) => return e.to_string(),
    };
    let version = run_bounded(&exe, &["--version"], Duration::from_secs(5))
        .ok()
        .and_then(|(_, o)| {
            o.lines()
                .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_else(|| "(unknown version)".into());
    match check_kernel() {
        Ok(()) => format!(
            "criu {version} ({}): `criu check` passes on kernel {}",
            exe.display(),
            kernel_release()
        ),
        Err(why) => format!("criu {version} ({}): {why}", exe.display()),
    }
}

fn kernel_release() -> String {
    crate::sys::fd::read_small("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Runs `exe args` with stdin closed, collecting stdout and stderr
/// together; killed after `limit`. (exited 0, output).
fn run_bounded(
    exe: &std::path::Path,
    args: &[&str],
    limit: Duration,
) -> std::result::Result<(bool, String), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("run {} {}: {e}", exe.display(), args.join(" ")))?;
    let deadline = Instant::now() + limit;
    let ok = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} {} did not finish within {} s",
                    exe.display(),
                    args.join(" "),
                    limit.as_secs()
                ));
            }
        }
    };
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((ok, text))
}

/// The options checkpoint and restore share, as CRIU takes them.
pub fn common_opts(a: &CriuArgs, images_fd: i32, work_fd: i32, log: &str) -> Result<rpc::Opts> {
    Ok(rpc::Opts {
        images_dir_fd: images_fd,
        work_dir_fd: Some(work_fd),
        log_level: Some(4),
        log_file: Some(log.into()),
        notify_scripts: Some(true),
        manage_cgroups: Some(true),
        manage_cgroups_mode: a
            .manage_cgroups_mode
            .as_deref()
            .map(cg_mode)
            .transpose()?
            .map(|m| m as i32),
        tcp_established: Some(a.tcp_established),
        ext_unix_sk: Some(a.ext_unix_sk),
        shell_job: Some(a.shell_job),
        file_locks: Some(a.file_locks),
        auto_dedup: Some(a.auto_dedup),
        orphan_pts_master: Some(true),
        empty_ns: Some(empty_ns(&a.empty_ns)?).filter(|&n| n != 0),
        ..Default::default()
    })
}

fn cg_mode(s: &str) -> Result<rpc::CgMode> {
    Ok(match s {
        "soft" => rpc::CgMode::Soft,
        "full" => rpc::CgMode::Full,
        "strict" => rpc::CgMode::Strict,
        "ignore" => rpc::CgMode::Ignore,
        _ => {
            return Err(Error::invalid(format!(
                "--manage-cgroups-mode {s:?}: use soft, full, strict or ignore"
            )))
        }
    })
}

/// --empty-ns NAME...: namespaces CRIU leaves empty (runc: only network
/// makes sense; the others are refused as runc refuses them).
fn empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = 0;
    for n in names {
        mask |= match n.as_str() {
            "network" => libc::CLONE_NEWNET as u32,
            _ => {
                return Err(Error::invalid(format!(
                    "--empty-ns {n:?}: only \"network\" can be left empty"
                )))
            }
        };
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_to_opts() {
        let a = CriuArgs {
            manage_cgroups_mode: Some("strict".into()),
            empty_ns: vec!["network".into()],
            tcp_established: true,
            ..Default::default()
        };
        let o = common_opts(&a, 5, 6, "dump.log").expect("opts");
        assert_eq!(o.manage_cgroups_mode, Some(rpc::CgMode::Strict as i32));
        assert_eq!(o.empty_ns, Some(libc::CLONE_NEWNET as u32));
        assert_eq!(o.tcp_established, Some(true));
        assert_eq!(o.work_dir_fd, Some(6));
        let bad = CriuArgs {
            manage_cgroups_mode: Some("hard".into()),
            ..Default::default()
        };
        assert!(common_opts(&bad, 5, 6, "x").is_err());
        let bad = CriuArgs {
            empty_ns: vec!["pid".into()],
            ..Default::default()
        };
        assert!(common_opts(&bad, 5, 6, "x").is_err());
    }
}
