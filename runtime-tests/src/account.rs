//! Test user accounts, by shadow-utils: made, resolved and removed. Kept apart from
//! [`crate::user`] so the harness's cleanup can remove a test's user without a test context.
use crate::harness::Context;
use crate::sys;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The user name for a test tag: unique per run (the tag holds the harness's pid).
pub fn name_for(tag: &str) -> String {
    format!("rl{tag}")
}

/// Removes the user `name` if it exists: its processes (every one running as its uid), then
/// the user, its group and its subordinate ranges (userdel drops those). Idempotent; returns
/// what could not be removed.
pub fn remove(name: &str) -> Vec<String> {
    let Ok((uid, _)) = ids(name) else {
        return vec![];
    };
    // Never root's processes, whatever the name resolved to.
    if uid < 100 {
        return vec![format!("test user {name} has uid {uid}; not removing it")];
    }
    let gone = sys::wait_for(10, || {
        let pids = pids_of(uid);
        pids.iter().for_each(|p| sys::kill9(*p));
        pids.is_empty()
    });
    let mut problems = vec![];
    if !gone {
        problems.push(format!(
            "processes of test user {name} survive SIGKILL: {:?}",
            pids_of(uid)
        ));
    }
    if let Err(e) = shadow_tool(Command::new("userdel").arg(name)) {
        problems.push(e);
    }
    problems
}

/// Live processes whose real uid is `uid`.
fn pids_of(uid: u32) -> Vec<i32> {
    let mut out = vec![];
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if e.metadata().map(|m| m.uid() == uid).unwrap_or(false) && sys::alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// The uid and gid of `name`, from `id`.
pub fn ids(name: &str) -> Result<(u32, u32), String> {
    let get = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, name])
            .stderr(Stdio::null())
            .output()
            .ctx("run id")?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .ctx(format!("id {flag} {name}"))
    };
    Ok((get("-u")?, get("-g")?))
}

/// Runs a shadow-utils tool, retrying while another test holds the passwd/group locks.
pub fn shadow_tool(cmd: &mut Command) -> Result<(), String> {
    let what = format!("{cmd:?}");
    let mut last = String::new();
    for _ in 0..100 {
        let out = cmd.stdin(Stdio::null()).output().ctx(&what)?;
        if out.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("{what}: {last}"))
}

pub fn which(tool: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
}
