//! `update [--resources FILE|-] [flags] ID`: change a running container's
//! cgroup limits. The flags are runc's; every one given is applied, and
//! `--resources` takes any linux.resources object (devices included).

use super::Global;
use crate::cgroups::{Cgroup, Manager};
use crate::cli::UpdateArgs;
use crate::container::{self, Status};
use crate::error::{Ctx, Error, Result};
use crate::state;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

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

fn resources(f: &UpdateArgs) -> Result<LinuxResources> {
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
    drop_unchanged(&mut v);
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("linux.resources: {e}")))
}

/// The fields where runc's update reads 0 (and "" for cpus/mems) as
/// "leave it": Docker sends the whole resources object with 0 in every
/// field the user did not give (`docker update --cpus 1` carries
/// memory.limit 0). pids.limit is not among them: runtime-spec 1.3 makes
/// 0 a limit, and Docker sends -1 for "no limit".
const UNCHANGED_IF_ZERO: [(&str, &str); 11] = [
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("memory", "kernel"),
    ("memory", "kernelTCP"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("blockIO", "weight"),
];

fn drop_unchanged(v: &mut Value) {
    for (obj, key) in UNCHANGED_IF_ZERO {
        if let Some(o) = v.get_mut(obj).and_then(Value::as_object_mut) {
            if o.get(key).and_then(Value::as_i64) == Some(0) {
                o.remove(key);
            }
        }
    }
    if let Some(o) = v.get_mut("cpu").and_then(Value::as_object_mut) {
        for key in ["cpus", "mems"] {
            if o.get(key).and_then(Value::as_str) == Some("") {
                o.remove(key);
            }
        }
    }
    // What is left empty asks for nothing (not even the controller).
    if let Some(top) = v.as_object_mut() {
        top.retain(|k, val| {
            !(matches!(k.as_str(), "memory" | "cpu" | "blockIO")
                && val.as_object().is_some_and(|o| o.is_empty()))
        });
    }
}

pub fn run(g: &Global, f: &UpdateArgs) -> Result<i32> {
    let id = f.id.as_str();
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
    Cgroup::open(&st.cgroup).apply(&r)?;
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

    #[test]
    fn docker_zeros_mean_unchanged() {
        let mut v = serde_json::json!({
            "memory": {"limit": 0, "reservation": 0, "kernel": 0, "swap": 0},
            "cpu": {"shares": 0, "quota": 100000, "period": 100000, "cpus": "", "mems": ""},
            "blockIO": {"weight": 0},
            "pids": {"limit": 0},
        });
        super::drop_unchanged(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "cpu": {"quota": 100000, "period": 100000},
                "pids": {"limit": 0},
            })
        );
    }
}
