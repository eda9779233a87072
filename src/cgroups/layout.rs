//! Which cgroup hierarchies this host has, read once from mountinfo.

use crate::error::{Ctx, Result};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// Controllers (v1) — e.g. ["cpu", "cpuacct"], or ["name=systemd"].
    pub controllers: Vec<String>,
    /// strata's own cgroup in this hierarchy, from /proc/self/cgroup.
    pub own_path: PathBuf,
}

/// v1 hierarchies plus the cgroup2 tree, if any. Pure v2: `v1` is empty.
/// Hybrid: both. Pure v1: `v2` is None.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub v2: Option<Hierarchy>,
}

impl Layout {
    pub fn detect() -> Result<Layout> {
        let mi = crate::sys::fd::read_records("/proc/self/mountinfo")
            .ctx(|| "read /proc/self/mountinfo")?;
        let own =
            crate::sys::fd::read_small("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup")?;
        let own_path = |ctrls: &[String]| -> PathBuf {
            for line in own.lines() {
                let mut f = line.splitn(3, ':');
                let (_, list, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
                let set: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
                let matches = if ctrls.is_empty() {
                    set.is_empty()
                } else {
                    ctrls.iter().all(|c| set.contains(&c.as_str()))
                };
                if matches {
                    return PathBuf::from(path);
                }
            }
            PathBuf::from("/")
        };
        let mut layout = Layout::default();
        let mut seen = std::collections::HashSet::new();
        for line in mi.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, mnt, fstype) = (pre[3], pre[4], post[0]);
            // Only hierarchy roots: a bind of a sub-cgroup is not a place to
            // create containers in.
            if root != "/" || !seen.insert(mnt.to_string()) {
                continue;
            }
            match fstype {
                "cgroup2" if layout.v2.is_none() => {
                    layout.v2 = Some(Hierarchy {
                        mount: mnt.into(),
                        controllers: vec![],
                        own_path: own_path(&[]),
                    });
                }
                "cgroup" => {
                    let ctrls: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro")
                                && !o.starts_with("release_agent")
                                && !o.starts_with("clone_children")
                                && *o != "noprefix"
                                && *o != "xattr"
                        })
                        .map(str::to_string)
                        .collect();
                    if ctrls.is_empty() || layout.v1.iter().any(|h| h.controllers == ctrls) {
                        continue;
                    }
                    let p = own_path(&ctrls);
                    layout.v1.push(Hierarchy {
                        mount: mnt.into(),
                        controllers: ctrls,
                        own_path: p,
                    });
                }
                _ => {}
            }
        }
        Ok(layout)
    }
}
