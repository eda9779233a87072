//! config.json and process.json text to oci-spec types, with the
//! workarounds oci-spec 0.10 needs (it cannot read two of the spec's
//! scheduler flag names and reports unknown enum values without naming the
//! field); the spec's cpu-list syntax; the loaded `Bundle`. Reading the
//! file safely and the checks beyond the JSON's shape are bundle.rs's.

use crate::error::{Ctx, Error, Result};
use oci_spec::runtime::{Process, Spec};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A bundle as loaded and checked by bundle.rs.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// The bundle path as given, made absolute against the cwd (not
/// canonicalised: the state records what the caller named).
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().ctx(|| "getcwd")?;
    Ok(cwd.join(dir))
}

const POLICIES: &[&str] = &[
    "SCHED_OTHER",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_BATCH",
    "SCHED_ISO",
    "SCHED_IDLE",
    "SCHED_DEADLINE",
];

/// The spec's flag names and oci-spec's serde names for them.
const SCHED_FLAGS: &[(&str, &str)] = &[
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_RECLAIM", "SCHED_FLAG_RECLAIM"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
    ("SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_POLICY"),
    ("SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_KEEP_PARAMS"),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MIN"),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", "SCHED_FLAG_UTIL_CLAMP_MAX"),
];

const IO_CLASSES: &[&str] = &["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];
const DOMAINS: &[&str] = &["LINUX", "LINUX32"];
const MPOL_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_LOCAL",
];
const MPOL_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// Parses config.json text (`what` names it in errors).
pub fn parse_spec(data: &[u8], what: &str) -> Result<Spec> {
    parse(data, what, normalize_config, |s: &Spec| {
        let l = s.linux().as_ref();
        s.process().as_ref().is_some_and(uses_attrs)
            || l.is_some_and(|l| {
                l.personality().is_some() || l.memory_policy().is_some() || pids_limit_zero(l)
            })
    })
}

/// Parses a process.json (`exec --process`).
pub fn parse_process(data: &[u8], what: &str) -> Result<Process> {
    parse(data, what, normalize_process, uses_attrs)
}

/// A limit of 0 is either a real 0 or an absent limit (oci-spec reads
/// both as 0): only the JSON tells which.
fn pids_limit_zero(l: &oci_spec::runtime::Linux) -> bool {
    l.resources()
        .as_ref()
        .and_then(|r| r.pids().as_ref())
        .is_some_and(|p| p.limit() == 0)
}

fn uses_attrs(p: &Process) -> bool {
    p.scheduler().is_some() || p.io_priority().is_some() || p.exec_cpu_affinity().is_some()
}

/// Typed parse first (keeps serde's line and column in errors). A config
/// that uses the fields of this module, or fails, goes through the JSON
/// value, checked field by field: oci-spec fails on the spec's own names
/// for two scheduler flags (and takes its own), fills in ioPriority's
/// required fields and does not look at personality flags.
fn parse<T: DeserializeOwned>(
    data: &[u8],
    what: &str,
    normalize: fn(&mut Value) -> Result<()>,
    recheck: fn(&T) -> bool,
) -> Result<T> {
    let first = match serde_json::from_slice::<T>(data) {
        Ok(t) if !recheck(&t) => return Ok(t),
        Ok(_) => None,
        Err(e) => Some(e),
    };
    let err = |e: serde_json::Error| Error::invalid(format!("parse {what}: {e}"));
    let mut v: Value = serde_json::from_slice(data).map_err(err)?;
    normalize(&mut v)?;
    serde_json::from_value(v).map_err(|e| err(first.unwrap_or(e)))
}

fn one_of(v: Option<&Value>, field: &str, allowed: &[&str]) -> Result<()> {
    match v {
        None | Some(Value::Null) => Err(Error::invalid(format!("{field}: missing"))),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(other) => Err(Error::invalid(format!(
            "{field} {other}: unknown value (valid: {})",
            allowed.join(", ")
        ))),
    }
}

fn present(v: Option<&Value>) -> bool {
    v.is_some_and(|v| !v.is_null())
}

fn normalize_config(v: &mut Value) -> Result<()> {
    if let Some(p) = v.get_mut("process").filter(|p| p.is_object()) {
        normalize_process(p)?;
    }
    if let Some(r) = v.pointer_mut("/linux/resources") {
        crate::cgroups::resources::drop_unset_pids(r);
    }
    let Some(l) = v.get("linux") else {
        return Ok(());
    };
    if let Some(per) = l.get("personality").filter(|v| !v.is_null()) {
        one_of(per.get("domain"), "linux.personality.domain", DOMAINS)?;
        if per
            .get("flags")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
        {
            return Err(Error::invalid(format!(
                "linux.personality.flags {}: the runtime spec defines no flags",
                per["flags"]
            )));
        }
    }
    if let Some(mp) = l.get("memoryPolicy").filter(|v| !v.is_null()) {
        one_of(mp.get("mode"), "linux.memoryPolicy.mode", MPOL_MODES)?;
        for f in mp
            .get("flags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            one_of(Some(f), "linux.memoryPolicy.flags", MPOL_FLAGS)?;
        }
    }
    Ok(())
}

fn normalize_process(p: &mut Value) -> Result<()> {
    if let Some(s) = p.get_mut("scheduler").filter(|s| !s.is_null()) {
        one_of(s.get("policy"), "process.scheduler.policy", POLICIES)?;
        for f in s
            .get_mut("flags")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let known: Vec<&str> = SCHED_FLAGS.iter().map(|(s, _)| *s).collect();
            one_of(Some(f), "process.scheduler.flags", &known)?;
            if let Some((_, ours)) = SCHED_FLAGS.iter().find(|(s, _)| f == s) {
                *f = Value::from(*ours);
            }
        }
    }
    if let Some(io) = p.get("ioPriority").filter(|v| !v.is_null()) {
        one_of(io.get("class"), "process.ioPriority.class", IO_CLASSES)?;
        if !present(io.get("priority")) {
            return Err(Error::invalid("process.ioPriority.priority: missing"));
        }
    }
    if let Some(a) = p.get_mut("execCPUAffinity").and_then(Value::as_object_mut) {
        for key in ["initial", "final"] {
            let field = format!("process.execCPUAffinity.{key}");
            match a.get(key) {
                // config.md: empty means "do not change"; oci-spec refuses "".
                Some(Value::String(s)) if s.is_empty() => drop(a.remove(key)),
                Some(Value::String(s)) => drop(parse_list(s, &field)?),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Highest CPU or node number accepted: bounds the mask a hostile list
/// ("0-4294967295") could make us allocate.
const MAX_ID: u32 = 1 << 16;

/// Parses "0-3,7" into sorted, distinct ids; an empty string is no ids.
pub fn parse_list(s: &str, field: &str) -> Result<Vec<u32>> {
    let bad = |why: &str| Error::invalid(format!("{field} {s:?}: {why}"));
    let mut ids = Vec::new();
    if s.is_empty() {
        return Ok(ids);
    }
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let num = |t: &str| -> Result<u32> {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad("expected a list like \"0-3,7\""));
            }
            t.parse::<u32>()
                .ok()
                .filter(|n| *n < MAX_ID)
                .ok_or_else(|| bad(&format!("{t} is too large")))
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(bad(&format!("range {part} runs backwards")));
        }
        ids.extend(a..=b);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSchedulerFlag;

    /// Guards the name table against an oci-spec upgrade.
    #[test]
    fn sched_flag_names_parse() {
        for (_, ours) in SCHED_FLAGS {
            serde_json::from_value::<LinuxSchedulerFlag>(Value::from(*ours))
                .unwrap_or_else(|e| panic!("{ours}: {e}"));
        }
    }

    #[test]
    fn spec_flag_names_accepted() {
        let p = br#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["x"],
            "scheduler": {"policy": "SCHED_OTHER",
                          "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"]},
            "execCPUAffinity": {"initial": "", "final": "0"}}"#;
        let p = parse_process(p, "p").unwrap();
        let flags = p.scheduler().as_ref().unwrap().flags().clone().unwrap();
        assert_eq!(flags.len(), 2);
        assert!(p.exec_cpu_affinity().as_ref().unwrap().initial().is_none());
        let bad = br#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["x"],
            "scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_RESET_ON_FORK"]}}"#;
        let e = parse_process(bad, "p").unwrap_err().to_string();
        assert!(e.contains("process.scheduler.flags"), "{e}");
    }
}
