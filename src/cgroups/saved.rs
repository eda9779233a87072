//! What state.json keeps of a container's cgroup: plain data, written by
//! `create` and read back by every later command, which makes its live
//! handle from it (`Cgroup::open`).

use super::systemd;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a container's cgroup is: one directory per v1 hierarchy plus the
/// cgroup2 directory (the whole tree on v2, `unified` on hybrid hosts).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Paths {
    /// The cgroupsPath as resolved (absolute within each hierarchy).
    pub path: String,
    pub v1: Vec<PathBuf>,
    pub v2: Option<PathBuf>,
    /// Mount point of each v1 hierarchy, in the order of `v1` (for the
    /// container's own cgroup mount).
    #[serde(default)]
    pub v1_mounts: Vec<PathBuf>,
    /// Mount point of the cgroup2 hierarchy, if any.
    #[serde(default)]
    pub v2_mount: Option<PathBuf>,
}

/// A container's cgroup as state.json keeps it. The fields of `paths` are
/// at the top level of the JSON object, as strata has always written them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    #[serde(flatten)]
    pub paths: Paths,
    /// For each directory of `Paths::dirs` (v1 in order, then cgroup2):
    /// strata made it. A cgroup that was there before belongs to someone
    /// else (a foreign or shared cgroup named by cgroupsPath): strata
    /// never removes it, nor what is below it. Missing entries (older
    /// state files) count as not made.
    #[serde(default)]
    pub(super) made: Vec<bool>,
    /// The systemd unit holding the cgroup2 directory (the systemd
    /// driver); None for the cgroupfs driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<systemd::Unit>,
}

impl Paths {
    /// Every directory: the v1 ones in order, then cgroup2.
    pub fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.v1.iter().chain(self.v2.iter())
    }

    /// The directory holding `controller`'s files: the v1 hierarchy named
    /// after it, or the cgroup2 directory on a pure v2 host.
    pub fn dir_for(&self, controller: &str) -> Option<&PathBuf> {
        self.v1_dir(controller)
            .or(self.v2.as_ref().filter(|_| self.v1.is_empty()))
    }

    pub(super) fn v1_dir(&self, controller: &str) -> Option<&PathBuf> {
        self.v1
            .iter()
            .zip(&self.v1_mounts)
            .find(|(_, m)| {
                m.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.split(',').any(|c| c == controller))
            })
            .map(|(d, _)| d)
    }

    /// The freezer of this cgroup: v1 freezer.state or v2 cgroup.freeze,
    /// with the frozen and thawed values.
    pub(super) fn freezer(&self) -> Option<(PathBuf, &'static str, &'static str)> {
        if let Some(d) = self
            .v1
            .iter()
            .zip(&self.v1_mounts)
            .find(|(_, m)| m.ends_with("freezer"))
            .map(|(d, _)| d)
        {
            return Some((d.join("freezer.state"), "FROZEN", "THAWED"));
        }
        self.v2
            .as_ref()
            .map(|d| (d.join("cgroup.freeze"), "1", "0"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Cgroup;
    use super::*;

    #[test]
    fn open_then_saved_keeps_what_strata_made() {
        let text = r#"{"path":"/c","v1":["/sys/fs/cgroup/memory/c"],"v2":"/sys/fs/cgroup/unified/c",
            "v1_mounts":["/sys/fs/cgroup/memory"],"v2_mount":"/sys/fs/cgroup/unified","made":[false,true]}"#;
        let saved: Saved = serde_json::from_str(text).expect("decode");
        let cg = Cgroup::open(&saved);
        assert!(!cg.made(0) && cg.made(1));
        assert_eq!(cg.saved().made, [false, true]);
        assert_eq!(cg.paths.dir_for("memory"), saved.paths.v1.first());
    }

    #[test]
    fn no_made_in_an_older_state_is_nothing_made() {
        let text = r#"{"path":"/c","v1":[],"v2":"/sys/fs/cgroup/c"}"#;
        let saved: Saved = serde_json::from_str(text).expect("decode");
        let cg = Cgroup::open(&saved);
        assert!(!cg.made(0));
        assert_eq!(cg.paths.v2_mount, None);
    }
}
