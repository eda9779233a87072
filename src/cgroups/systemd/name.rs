//! The systemd driver's cgroupsPath, `slice:prefix:name` as runc reads
//! it, and where systemd puts the unit's cgroup. No bus, no filesystem:
//! unit-tested without root.

use crate::error::{Error, Result};

/// The unit a container's cgroup is, and where systemd puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The unit: `<prefix>-<name>.scope`, or `<name>` when it is a slice.
    pub unit: String,
    /// The slice the unit goes in (its Slice=, or Wants= for a slice).
    pub slice: String,
    /// The unit's cgroup below the cgroup2 root, with a leading "/".
    pub path: String,
}

impl Placement {
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }
}

/// Parses `cgroups_path` (absent or empty: `:strata:<id>`, runc's
/// `:runc:<id>` with our name). An empty slice is `system.slice`
/// (`user.slice` when `rootless`), `-` the root slice.
pub fn parse(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<Placement> {
    let default = format!(":strata:{id}");
    let raw = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let bad = |why: &str| {
        Error::invalid(format!(
            "linux.cgroupsPath {raw:?}: {why} (the systemd cgroup driver reads slice:prefix:name)"
        ))
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad("expected 3 fields separated by \":\""));
    };
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    let slice = match slice {
        "" if rootless => "user.slice",
        "" => "system.slice",
        "-" => "-.slice",
        s => s,
    };
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    check_unit(&unit).map_err(|why| bad(&why))?;
    let parent = expand(slice).map_err(|why| bad(&why))?;
    // systemd places a slice by its own name, whatever its Wants=.
    let path = if unit.ends_with(".slice") {
        expand(&unit).map_err(|why| bad(&why))?
    } else {
        format!("{}/{unit}", parent.trim_end_matches('/'))
    };
    Ok(Placement {
        unit,
        slice: slice.to_string(),
        path,
    })
}

/// A unit name systemd accepts: `[A-Za-z0-9:_.\-]`, at most 255 bytes.
fn check_unit(unit: &str) -> std::result::Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-' | '\\');
    if unit.len() > 255 {
        return Err(format!("unit name {unit:?} is longer than 255 bytes"));
    }
    if let Some(c) = unit.chars().find(|&c| !ok(c)) {
        return Err(format!(
            "unit name {unit:?} has {c:?}, which systemd refuses"
        ));
    }
    Ok(())
}

/// The cgroup of slice `slice`, as systemd lays slices out: each
/// dash-separated prefix is a parent (`a-b.slice` is
/// `/a.slice/a-b.slice`), `-.slice` is the root.
pub fn expand(slice: &str) -> std::result::Result<String, String> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in \".slice\""));
    };
    if slice.contains('/') {
        return Err(format!("slice {slice:?} has a \"/\""));
    }
    if stem == "-" {
        return Ok("/".to_string());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(format!(
            "slice {slice:?}: a slice name has no empty dash-separated part"
        ));
    }
    check_unit(slice)?;
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Placement {
        parse(Some(s), "c1", false).unwrap()
    }

    #[test]
    fn default_is_strata_prefix_in_system_slice() {
        let d = parse(None, "c1", false).unwrap();
        assert_eq!(d.unit, "strata-c1.scope");
        assert_eq!(d.slice, "system.slice");
        assert_eq!(d.path, "/system.slice/strata-c1.scope");
        assert_eq!(parse(Some(""), "c1", false).unwrap(), d);
        assert_eq!(parse(None, "c1", true).unwrap().slice, "user.slice");
    }

    #[test]
    fn scopes_slices_and_the_root_slice() {
        let s = p("machine-pod.slice:docker:abc");
        assert_eq!(s.unit, "docker-abc.scope");
        assert_eq!(s.path, "/machine.slice/machine-pod.slice/docker-abc.scope");
        assert_eq!(p("-:x:y").path, "/x-y.scope");
        assert_eq!(p("-.slice:x:y").slice, "-.slice");
        assert_eq!(p(":cri:c2").path, "/system.slice/cri-c2.scope");
        assert_eq!(p("system.slice::c3").unit, "c3.scope");
        let sl = p("system.slice:x:a-b.slice");
        assert!(sl.is_slice());
        assert_eq!(sl.unit, "a-b.slice");
        assert_eq!(sl.path, "/a.slice/a-b.slice");
    }

    #[test]
    fn expansion() {
        assert_eq!(expand("-.slice").unwrap(), "/");
        assert_eq!(expand("a.slice").unwrap(), "/a.slice");
        assert_eq!(
            expand("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        for bad in [
            "a",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            ".slice",
            "a/b.slice",
        ] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_paths_name_the_shape() {
        for bad in [
            "/abs/path",
            "a:b",
            "a:b:c:d",
            "system.slice:x:",
            "nope:x:y",
            "s.slice:x:y z",
        ] {
            let e = parse(Some(bad), "c1", false).unwrap_err().to_string();
            assert!(e.contains("slice:prefix:name"), "{bad}: {e}");
        }
    }
}
