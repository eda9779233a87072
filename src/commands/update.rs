//! `update [--resources FILE|-] [flags] ID`: change a running container's
//! cgroup limits. The flags are runc's; every one given is applied, and
//! `--resources` takes any linux.resources object (devices included).

use super::Global;
use crate::container::{self, Status};
use crate::error::{Ctx, Error, Result};
use crate::state;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub resources: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
}

/// "512m", "1g", "1024", "-1" -> bytes.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let (num, mul) = match t.trim_end_matches('b').char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1i64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        _ => (t.trim_end_matches('b'), 1),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::invalid(format!("invalid size {s:?}")))
}

fn resources(f: &Flags) -> Result<LinuxResources> {
    let mut v: Value = match f.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .ctx(|| "read --resources from stdin")?;
            serde_json::from_str(&s)
                .map_err(|e| Error::invalid(format!("parse --resources: {e}")))?
        }
        Some(p) => {
            let s = std::fs::read_to_string(p).ctx(|| format!("read --resources {p}"))?;
            serde_json::from_str(&s)
                .map_err(|e| Error::invalid(format!("parse --resources {p}: {e}")))?
        }
        None => json!({}),
    };
    let mut set = |path: &[&str], val: Value| {
        let mut cur = &mut v;
        for k in &path[..path.len() - 1] {
            if !cur[*k].is_object() {
                cur[*k] = json!({});
            }
            cur = &mut cur[*k];
        }
        cur[path[path.len() - 1]] = val;
    };
    if let Some(m) = &f.memory {
        set(&["memory", "limit"], json!(parse_bytes(m)?));
    }
    if let Some(m) = &f.memory_reservation {
        set(&["memory", "reservation"], json!(parse_bytes(m)?));
    }
    if let Some(m) = &f.memory_swap {
        set(&["memory", "swap"], json!(parse_bytes(m)?));
    }
    if let Some(x) = f.cpu_shares {
        set(&["cpu", "shares"], json!(x));
    }
    if let Some(x) = f.cpu_quota {
        set(&["cpu", "quota"], json!(x));
    }
    if let Some(x) = f.cpu_period {
        set(&["cpu", "period"], json!(x));
    }
    if let Some(x) = &f.cpuset_cpus {
        set(&["cpu", "cpus"], json!(x));
    }
    if let Some(x) = &f.cpuset_mems {
        set(&["cpu", "mems"], json!(x));
    }
    if let Some(x) = f.pids_limit {
        set(&["pids", "limit"], json!(x));
    }
    if let Some(x) = f.blkio_weight {
        set(&["blockIO", "weight"], json!(x));
    }
    crate::cgroups::resources::drop_unset_pids(&mut v);
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("linux.resources: {e}")))
}

pub fn run(g: &Global, id: &str, f: &Flags) -> Result<i32> {
    // Device rules replace the container's (v1 rules, or the v2 filter).
    let r = resources(f)?;
    crate::cgroups::resources::validate(&r)?;
    let locked = state::lock(&g.root, id)?;
    let st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(id.to_string()))?;
    if container::status(&st, &locked.dir) == Status::Stopped {
        return Err(Error::Status("container not running".into()));
    }
    st.cgroup.apply(&r)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_bytes("512m").ok(), Some(512 << 20));
        assert_eq!(super::parse_bytes("1G").ok(), Some(1 << 30));
        assert_eq!(super::parse_bytes("100").ok(), Some(100));
        assert_eq!(super::parse_bytes("-1").ok(), Some(-1));
        assert!(super::parse_bytes("x").is_err());
        assert!(super::parse_bytes("0").is_err());
    }
}
