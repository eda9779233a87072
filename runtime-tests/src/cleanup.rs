//! Removing everything a test made, and finding what a runtime left behind.
use crate::{account, cgroups, sys};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// strata's compiled-seccomp cache in the state root: not a container, not a leftover.
const STRATA_CACHE: &str = ".seccomp-cache";
/// strata's default layer store (`<root>/layers`), not a container.
const STRATA_LAYERS: &str = "layers";

/// Undoes a test: `delete --force` every container in its state root, kill its tagged
/// processes, remove its test user, remove its cgroups, unmount below its dir (deepest first, lazily) and remove the
/// dir without crossing filesystems. Idempotent; returns what could not be cleaned.
pub fn cleanup(runtime: &Path, dir: &Path, tag: &str) -> Vec<String> {
    let mut problems = vec![];
    let root = dir.join("root");
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        if e.file_name() == STRATA_CACHE || e.file_name() == STRATA_LAYERS {
            continue;
        }
        let mut cmd = Command::new(runtime);
        if crate::systemd::on() {
            cmd.arg("--systemd-cgroup");
        }
        cmd.arg("--root")
            .arg(&root)
            .args(["delete", "--force"])
            .arg(e.file_name());
        if let Err(e) = run_quiet(cmd) {
            problems.push(e);
        }
    }
    let gone = sys::wait_for(10, || {
        let pids = sys::tagged_pids(tag);
        pids.iter().for_each(|p| sys::kill9(*p));
        pids.is_empty()
    });
    if !gone {
        problems.push(format!(
            "processes tagged {tag} survive SIGKILL: {:?}",
            sys::tagged_pids(tag)
        ));
    }
    if crate::systemd::on() {
        let left = crate::systemd::stop_tagged(tag);
        if !left.is_empty() {
            problems.push(format!("systemd units left: {left:?}"));
        }
    }
    // A rootless test's user (its own drop removes it too, unless the test process died).
    problems.extend(account::remove(&account::name_for(tag)));
    for dir in tagged_cgroups(tag) {
        if let Err(e) = cgroups::remove(&dir) {
            problems.push(e);
        }
    }
    let left = sys::unmount_under(dir);
    if !left.is_empty() {
        problems.push(format!("cannot unmount {left:?}"));
    }
    if let Err(e) = sys::remove_tree(dir) {
        problems.push(e);
    }
    problems
}

/// Cgroup dirs `<hierarchy>/runtime-tests/<tag>-*` in every hierarchy (with `--systemd`,
/// `<slice>/rt-<tag>-*.scope`).
pub fn tagged_cgroups(tag: &str) -> Vec<std::path::PathBuf> {
    let (parent, prefix) = if crate::systemd::on() {
        (crate::systemd::SLICE, format!("rt-{tag}-"))
    } else {
        ("runtime-tests", format!("{tag}-"))
    };
    let mut out = vec![];
    for m in cgroups::bases() {
        for e in std::fs::read_dir(m.join(parent))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                out.push(e.path());
            }
        }
    }
    out
}

/// Removes the (empty) `runtime-tests` parent cgroups once a run is over.
pub fn remove_parent_cgroups() {
    if crate::systemd::on() {
        crate::systemd::stop_slice();
    }
    for m in cgroups::bases() {
        let _ = std::fs::remove_dir(m.join("runtime-tests"));
    }
}

fn run_quiet(mut cmd: Command) -> Result<(), String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while child
        .try_wait()
        .map_err(|e| format!("{what}: {e}"))?
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} hung"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// What a failed or finished operation left behind: a state dir for `id` (with `id` None, any
/// entry in the state root), cgroup dirs for cgroupsPath `cg`, mounts under the test dir and
/// live processes carrying the test's tag. Polls a few seconds so asynchronous teardown
/// (a dying init) is not mistaken for a leak.
pub fn leftovers(dir: &Path, tag: &str, id: Option<&str>, cg: &str) -> Vec<String> {
    let root = dir.join("root");
    let check = || {
        let mut found = vec![];
        match id {
            Some(id) if root.join(id).exists() => {
                found.push(format!("state dir {}", root.join(id).display()))
            }
            None => {
                let entries: Vec<String> = std::fs::read_dir(&root)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != STRATA_CACHE && n != STRATA_LAYERS)
                    .collect();
                if !entries.is_empty() {
                    found.push(format!("entries in state root: {entries:?}"));
                }
            }
            _ => {}
        }
        if let Some(u) = crate::systemd::unit_of(cg).filter(|_| crate::systemd::on()) {
            found.extend(
                crate::systemd::units(u)
                    .into_iter()
                    .map(|u| format!("unit {u}")),
            );
        }
        found.extend(
            cgroups::dirs(cg)
                .iter()
                .map(|d| format!("cgroup {}", d.display())),
        );
        found.extend(
            sys::mounts_under(dir)
                .into_iter()
                .map(|m| format!("mount {m}")),
        );
        let pids = sys::tagged_pids(tag);
        if !pids.is_empty() {
            found.push(format!("processes {pids:?}"));
        }
        found
    };
    let mut last = vec![];
    sys::wait_for(5, || {
        last = check();
        last.is_empty()
    });
    last
}
