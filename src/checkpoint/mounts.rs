//! Mounts CRIU must not try to dump or recreate itself: binds of host
//! paths. At dump each is named external (`ext_mnt` key = mount point,
//! value = the name kept in the images: the mount point, or "/dev/null"
//! for masked files); at restore each name is mapped to the host path to
//! bind. The same pairs runc passes, so the images are alike.
//!
//! Real filesystems of the container (proc, sysfs, tmpfs, devpts, mqueue,
//! and cgroup2 on a v2 host) CRIU dumps and mounts again itself.

use super::rpc::ExtMountMap;
use oci_spec::runtime::{Mount, Spec};
use std::path::Path;

/// A bind mount: type "bind", or a bind/rbind option (runtime-spec allows
/// both spellings).
fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

fn binds(spec: &Spec) -> impl Iterator<Item = &Mount> {
    spec.mounts().iter().flatten().filter(|m| is_bind(m))
}

fn pair(key: &str, val: &str) -> ExtMountMap {
    ExtMountMap {
        key: key.into(),
        val: val.into(),
    }
}

fn masked(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
}

/// For dump. `root`: the init's root (/proc/PID/root), to tell masked
/// files (covered by the host's /dev/null) from masked directories (an
/// empty tmpfs, which CRIU dumps itself).
pub fn for_dump(spec: &Spec, root: &Path) -> Vec<ExtMountMap> {
    let mut out: Vec<_> = binds(spec)
        .map(|m| {
            let d = m.destination().to_string_lossy();
            pair(&d, &d)
        })
        .collect();
    for p in masked(spec) {
        let inside = root.join(p.trim_start_matches('/'));
        if std::fs::metadata(&inside).is_ok_and(|md| !md.is_dir()) {
            out.push(pair(&p, "/dev/null"));
        }
    }
    out
}

/// For restore: each name of `for_dump` to the host path to bind there.
/// Relative bind sources are relative to the bundle, as at create.
pub fn for_restore(spec: &Spec, bundle: &Path) -> Vec<ExtMountMap> {
    let mut out: Vec<_> = binds(spec)
        .map(|m| {
            let src = m
                .source()
                .as_deref()
                .map(|s| bundle.join(s))
                .unwrap_or_default();
            pair(&m.destination().to_string_lossy(), &src.to_string_lossy())
        })
        .collect();
    if !masked(spec).is_empty() {
        out.push(pair("/dev/null", "/dev/null"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
               "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                         {"destination":"/data","type":"bind","source":"/srv/data","options":["rbind"]},
                         {"destination":"/cfg","source":"cfg","options":["bind","ro"]}],
               "linux":{"maskedPaths":["/proc/kcore","/proc/acpi"]}}"#,
        )
        .expect("spec")
    }

    #[test]
    fn binds_and_masks() {
        let s = spec();
        let d = std::env::temp_dir().join(format!("strata-unit-{}-mnt", std::process::id()));
        std::fs::create_dir_all(d.join("proc/acpi")).expect("mkdir");
        std::fs::write(d.join("proc/kcore"), "").expect("file");
        let dump: Vec<_> = for_dump(&s, &d)
            .into_iter()
            .map(|m| (m.key, m.val))
            .collect();
        assert_eq!(
            dump,
            [
                ("/data".into(), "/data".into()),
                ("/cfg".into(), "/cfg".into()),
                ("/proc/kcore".into(), "/dev/null".into())
            ]
        );
        let rst: Vec<_> = for_restore(&s, Path::new("/b"))
            .into_iter()
            .map(|m| (m.key, m.val))
            .collect();
        assert_eq!(
            rst,
            [
                ("/data".into(), "/srv/data".into()),
                ("/cfg".into(), "/b/cfg".into()),
                ("/dev/null".into(), "/dev/null".into())
            ]
        );
        std::fs::remove_dir_all(&d).expect("cleanup");
    }
}
