//! Where a container's cgroup goes: the cgroupsPath checks and its
//! placement in each hierarchy of a layout. No filesystem access here,
//! so the decisions are unit-tested without root.

use super::{Cgroup, Hierarchy, Layout};
use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// The cgroupsPath to use, refused when it names the root cgroup or has
/// "." / "..": absent or empty means `/<id>`.
pub(super) fn checked(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf> {
    // An empty cgroupsPath is no path (runc's reading too); relative, it
    // would name strata's own cgroup.
    let raw = cgroups_path
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("/").join(id));
    // "/" names each hierarchy's root: the container would run in (and
    // write its limits to) the host's root cgroup, and delete would try
    // to remove it.
    if raw.is_absolute() && raw.components().all(|c| c == Component::RootDir) {
        return Err(Error::invalid(format!(
            "linux.cgroupsPath {:?}: the root cgroup cannot be a container's cgroup",
            raw
        )));
    }
    for c in raw.components() {
        if matches!(c, Component::ParentDir | Component::CurDir) {
            return Err(Error::invalid(format!(
                "linux.cgroupsPath {:?}: \".\" and \"..\" are not allowed",
                raw
            )));
        }
    }
    Ok(raw)
}

/// The cgroup for the checked path `raw` in every hierarchy of `layout`:
/// absolute under each root, relative under strata's own cgroup. `made`
/// is left empty for the caller, who looks at the filesystem.
pub(super) fn place(raw: &Path, layout: &Layout) -> Cgroup {
    let own = |h: &Hierarchy| -> PathBuf {
        if raw.is_absolute() {
            raw.strip_prefix("/")
                .map(Path::to_path_buf)
                .unwrap_or_default()
        } else {
            h.own_path
                .strip_prefix("/")
                .unwrap_or(&h.own_path)
                .join(raw)
        }
    };
    let mut cg = Cgroup::default();
    let p = &mut cg.paths;
    p.path = raw.display().to_string();
    for h in &layout.v1 {
        if h.controllers.iter().any(|c| c == "cpuset") {
            cg.cpuset_v1 = Some(p.v1.len());
        }
        p.v1.push(h.mount.join(own(h)));
        p.v1_mounts.push(h.mount.clone());
        cg.v1_own.push(
            h.mount
                .join(h.own_path.strip_prefix("/").unwrap_or(&h.own_path)),
        );
    }
    if let Some(h) = &layout.v2 {
        p.v2 = Some(h.mount.join(own(h)));
        p.v2_mount = Some(h.mount.clone());
    }
    cg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(mount: &str, ctrls: &[&str], own: &str) -> Hierarchy {
        Hierarchy {
            mount: mount.into(),
            controllers: ctrls.iter().map(|c| c.to_string()).collect(),
            own_path: own.into(),
        }
    }

    fn hybrid() -> Layout {
        Layout {
            v1: vec![
                h("/sys/fs/cgroup/memory", &["memory"], "/user.slice"),
                h("/sys/fs/cgroup/cpuset", &["cpuset"], "/"),
            ],
            v2: Some(h("/sys/fs/cgroup/unified", &[], "/user.slice/s")),
        }
    }

    #[test]
    fn absent_or_empty_path_is_slash_id() {
        assert_eq!(checked(None, "c1").ok(), Some(PathBuf::from("/c1")));
        let empty = Path::new("");
        assert_eq!(checked(Some(empty), "c1").ok(), Some(PathBuf::from("/c1")));
    }

    #[test]
    fn root_and_dot_paths_are_refused() {
        for p in ["/", "//", "/a/../b", "./a", "a/.."] {
            assert!(checked(Some(Path::new(p)), "c1").is_err(), "{p}");
        }
        assert!(checked(Some(Path::new("/a/b")), "c1").is_ok());
    }

    #[test]
    fn absolute_under_root_relative_under_own() {
        let l = hybrid();
        let cg = place(Path::new("/x/y"), &l);
        assert_eq!(cg.paths.path, "/x/y");
        assert_eq!(
            cg.paths.v1,
            [
                PathBuf::from("/sys/fs/cgroup/memory/x/y"),
                PathBuf::from("/sys/fs/cgroup/cpuset/x/y")
            ]
        );
        assert_eq!(cg.paths.v2, Some("/sys/fs/cgroup/unified/x/y".into()));
        let cg = place(Path::new("x"), &l);
        assert_eq!(
            cg.paths.v1[0],
            PathBuf::from("/sys/fs/cgroup/memory/user.slice/x")
        );
        assert_eq!(cg.paths.v1[1], PathBuf::from("/sys/fs/cgroup/cpuset/x"));
        assert_eq!(
            cg.paths.v2,
            Some("/sys/fs/cgroup/unified/user.slice/s/x".into())
        );
    }

    #[test]
    fn layout_fields_follow_the_hierarchies() {
        let cg = place(Path::new("/c"), &hybrid());
        assert_eq!(cg.cpuset_v1, Some(1));
        assert_eq!(
            cg.v1_own[0],
            PathBuf::from("/sys/fs/cgroup/memory/user.slice")
        );
        assert_eq!(cg.v1_own[1], PathBuf::from("/sys/fs/cgroup/cpuset"));
        assert_eq!(cg.paths.v2_mount, Some("/sys/fs/cgroup/unified".into()));
        let v2 = Layout {
            v1: vec![],
            v2: Some(h("/sys/fs/cgroup", &[], "/")),
        };
        let cg = place(Path::new("/c"), &v2);
        assert!(cg.paths.v1.is_empty() && cg.cpuset_v1.is_none());
        assert_eq!(cg.paths.v2, Some("/sys/fs/cgroup/c".into()));
    }
}
