//! state.json as this strata writes it, and as older ones wrote it (without
//! the fields that are `#[serde(default)]` today): a container made before
//! an upgrade must still be listed, killed and deleted after it.

use super::*;

/// Written by strata: `hybrid.json` by `create` on a hybrid host; the
/// others are that file with the cgroup block as strata encodes it on a
/// pure v2 host and for the systemd driver (a system and a user unit).
const CURRENT: [(&str, &str); 4] = [
    ("hybrid", include_str!("testdata/hybrid.json")),
    ("v2", include_str!("testdata/v2.json")),
    ("systemd", include_str!("testdata/systemd.json")),
    ("systemd-user", include_str!("testdata/systemd-user.json")),
];

fn load(name: &str, text: &str) -> State {
    parse_state(text.as_bytes(), Path::new(name)).expect("state file decodes")
}

#[test]
fn current_state_files_are_written_back_the_same() {
    for (name, text) in CURRENT {
        let st = load(name, text);
        let back = serde_json::to_value(&st).expect("encode");
        let orig: serde_json::Value = serde_json::from_str(text).expect("fixture is json");
        assert_eq!(back, orig, "{name}");
    }
}

#[test]
fn saved_cgroups_name_their_directories_and_unit() {
    let st = load("hybrid", CURRENT[0].1);
    let memory = st.cgroup.paths.dir_for("memory").expect("memory hierarchy");
    assert_eq!(memory, Path::new("/sys/fs/cgroup/memory/tidy-fixture/c1"));
    let st = load("v2", CURRENT[1].1);
    let memory = st
        .cgroup
        .paths
        .dir_for("memory")
        .expect("cgroup2 directory");
    assert_eq!(memory, Path::new("/sys/fs/cgroup/runtime-tests/c2"));
    assert!(st.cgroup.unit.is_none());
    let st = load("systemd-user", CURRENT[3].1);
    let unit = st.cgroup.unit.as_ref().expect("a unit");
    assert_eq!(
        (unit.name.as_str(), unit.slice.as_str()),
        ("strata-c4.scope", "user.slice")
    );
    assert!(unit.user);
    // Opened from the state, the unit is a started one (exec joins it).
    let cg = crate::cgroups::Cgroup::open(&st.cgroup);
    assert!(cg.unit.as_ref().is_some_and(|u| !u.starting()));
}

#[test]
fn older_state_file_loads_with_defaults() {
    let st = load("older", include_str!("testdata/older.json"));
    assert!(!st.own_pid_ns && !st.no_new_keyring && st.annotations.is_empty());
    assert!(st.hooks.is_none() && st.layer_upper.is_none());
    let cg = serde_json::to_value(&st.cgroup).expect("encode");
    // No `made`: strata made none of it, as far as delete knows.
    assert_eq!(cg["made"], serde_json::json!([]));
    assert_eq!(cg["v1_mounts"], serde_json::json!([]));
    assert_eq!(cg["v2_mount"], serde_json::Value::Null);
}
