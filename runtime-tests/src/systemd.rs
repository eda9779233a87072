//! `--systemd`: every runtime command gets `--systemd-cgroup`, and every bundle a systemd
//! cgroupsPath, `runtime_tests.slice:rt:<id>` (the scope `rt-<id>.scope`, whose cgroup is
//! `/runtime_tests.slice/rt-<id>.scope`). Tests keep looking at cgroup directories through
//! `Bundle::cgroups_path`, which gives the expanded path. Only for a systemd host (a VM:
//! hack/systemd-vm.sh); the flag reaches the test processes through the environment.
use std::process::{Command, Stdio};

const ENV: &str = "RUNTIME_TESTS_SYSTEMD";
pub const SLICE: &str = "runtime_tests.slice";
const PREFIX: &str = "rt";

pub fn set() {
    std::env::set_var(ENV, "1");
}

pub fn on() -> bool {
    std::env::var_os(ENV).is_some_and(|v| v == "1")
}

/// The cgroupsPath a bundle for container `id` gets.
pub fn cgroups_path(id: &str) -> String {
    format!("{SLICE}:{PREFIX}:{id}")
}

/// The cgroup (below the cgroup2 root) of a `runtime_tests.slice:prefix:name` cgroupsPath,
/// or the value itself when it is not of that form.
pub fn expand(cgroups_path: &str) -> String {
    match cgroups_path.split(':').collect::<Vec<_>>()[..] {
        [SLICE, prefix, name] => format!("/{SLICE}/{prefix}-{name}.scope"),
        _ => cgroups_path.to_string(),
    }
}

fn systemctl(args: &[&str]) -> String {
    Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Units systemd still has (any state) whose name matches the glob `pattern`.
pub fn units(pattern: &str) -> Vec<String> {
    systemctl(&["list-units", "--all", "--plain", "--no-legend", pattern])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The unit a leftover check looks for, from the expanded cgroup path.
pub fn unit_of(cg: &str) -> Option<&str> {
    cg.rsplit('/').next().filter(|u| u.ends_with(".scope"))
}

/// Stops (and forgets) the test's units: `rt-<tag>-*.scope`.
pub fn stop_tagged(tag: &str) -> Vec<String> {
    let pattern = format!("{PREFIX}-{tag}-*.scope");
    for u in units(&pattern) {
        systemctl(&["kill", "--signal=SIGKILL", &u]);
        systemctl(&["stop", &u]);
        systemctl(&["reset-failed", &u]);
    }
    units(&pattern)
}

/// Stops the tests' slice once a run is over (systemd made it for the first scope).
pub fn stop_slice() {
    systemctl(&["stop", SLICE]);
}
