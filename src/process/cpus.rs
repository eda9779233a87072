//! CPU and NUMA node lists ("0-3,7"): `process.execCPUAffinity` and
//! `linux.memoryPolicy`.

use crate::error::{Ctx as _, Error, Result};
use crate::spec::parse_list;
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process};

/// Every id must be in the host's /sys/devices/system/{cpu,node}/online
/// (when the host says; otherwise the kernel will).
fn check_online(ids: &[u32], field: &str, s: &str, kind: &str) -> Result<()> {
    let path = format!("/sys/devices/system/{kind}/online");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let online = parse_list(text.trim(), &path)?;
    if let Some(id) = ids.iter().find(|i| !online.contains(i)) {
        let what = if kind == "cpu" { "CPU" } else { "NUMA node" };
        return Err(Error::invalid(format!(
            "{field} {s:?}: {what} {id} is not online on this host (online: {})",
            text.trim()
        )));
    }
    Ok(())
}

fn mask(ids: &[u32]) -> Vec<u64> {
    let words = ids.last().map_or(0, |m| *m as usize / 64 + 1);
    let mut m = vec![0u64; words];
    for &i in ids {
        m[i as usize / 64] |= 1 << (i % 64);
    }
    m
}

fn affinity(p: &Process) -> [(Option<&String>, &'static str); 2] {
    let a = p.exec_cpu_affinity().as_ref();
    [
        (
            a.and_then(|a| a.initial().as_ref()),
            "process.execCPUAffinity.initial",
        ),
        (
            a.and_then(|a| a.cpu_affinity_final().as_ref()),
            "process.execCPUAffinity.final",
        ),
    ]
}

pub fn validate_affinity(p: &Process) -> Result<()> {
    for (s, field) in affinity(p) {
        if let Some(s) = s {
            check_online(&parse_list(s, field)?, field, s, "cpu")?;
        }
    }
    Ok(())
}

/// Pins the calling process to the list in `s` (empty: left alone, as the
/// spec says for `final`).
fn pin(s: Option<&String>, field: &str) -> Result<()> {
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let ids = parse_list(s, field)?;
    crate::sys::sched::sched_setaffinity(&mask(&ids))
        .ctx(|| format!("{field} {s:?}: sched_setaffinity"))
}

/// `initial`: the runtime's own process, before the exec'd process is
/// cloned into the container's cgroup (it inherits this affinity).
pub fn set_initial(p: &Process) -> Result<()> {
    let [(s, field), _] = affinity(p);
    pin(s, field)
}

/// `final`: the exec'd process, inside the container's cgroup.
pub fn set_final(p: &Process) -> Result<()> {
    let [_, (s, field)] = affinity(p);
    pin(s, field)
}

fn mode_of(m: MemoryPolicyModeType) -> (i32, &'static str) {
    use MemoryPolicyModeType as M;
    match m {
        M::MpolDefault => (0, "MPOL_DEFAULT"),
        M::MpolPreferred => (1, "MPOL_PREFERRED"),
        M::MpolBind => (2, "MPOL_BIND"),
        M::MpolInterleave => (3, "MPOL_INTERLEAVE"),
        M::MpolLocal => (4, "MPOL_LOCAL"),
        M::MpolPreferredMany => (5, "MPOL_PREFERRED_MANY"),
        M::MpolWeightedInterleave => (6, "MPOL_WEIGHTED_INTERLEAVE"),
    }
}

fn flag_of(f: MemoryPolicyFlagType) -> i32 {
    match f {
        MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
        MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
    }
}

const NODES: &str = "linux.memoryPolicy.nodes";

/// set_mempolicy(2)'s rules, checked before anything is made.
pub fn validate_mempolicy(mp: &LinuxMemoryPolicy) -> Result<()> {
    let (_, name) = mode_of(mp.mode());
    let s = mp.nodes().clone().unwrap_or_default();
    let nodes = parse_list(&s, NODES)?;
    let flags = mp.flags().clone().unwrap_or_default();
    let has = |f| flags.contains(&f);
    match mp.mode() {
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal => {
            if !nodes.is_empty() {
                return Err(Error::invalid(format!(
                    "{NODES} {s:?}: {name} takes no nodes"
                )));
            }
            if !flags.is_empty() {
                return Err(Error::invalid(format!(
                    "linux.memoryPolicy.flags: {name} takes no flags"
                )));
            }
        }
        MemoryPolicyModeType::MpolPreferred => {}
        _ if nodes.is_empty() => {
            return Err(Error::invalid(format!(
                "{NODES}: {name} needs at least one node"
            )))
        }
        _ => {}
    }
    if has(MemoryPolicyFlagType::MpolFStaticNodes) && has(MemoryPolicyFlagType::MpolFRelativeNodes)
    {
        return Err(Error::invalid(
            "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    // Relative and static node numbers are not host node ids.
    if !has(MemoryPolicyFlagType::MpolFStaticNodes)
        && !has(MemoryPolicyFlagType::MpolFRelativeNodes)
    {
        check_online(&nodes, NODES, &s, "node")?;
    }
    Ok(())
}

/// Sets the policy of the calling process; execve and fork keep it.
pub fn apply_mempolicy(mp: &LinuxMemoryPolicy) -> Result<()> {
    let (mode, name) = mode_of(mp.mode());
    let flags = mp.flags().clone().unwrap_or_default();
    let bits = flags.iter().fold(0, |b, f| b | flag_of(*f));
    let s = mp.nodes().clone().unwrap_or_default();
    let nodes = parse_list(&s, NODES)?;
    crate::sys::sched::set_mempolicy(mode | bits, &mask(&nodes))
        .ctx(|| format!("linux.memoryPolicy: set_mempolicy {name} nodes {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-2,5,1", "f").unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(parse_list("", "f").unwrap(), Vec::<u32>::new());
        for bad in [
            "a",
            "1-",
            "-1",
            "3-1",
            ",",
            "1,,2",
            " 1",
            "99999999999",
            "0-65536",
        ] {
            assert!(parse_list(bad, "f").is_err(), "{bad:?}");
        }
        assert_eq!(mask(&[0, 3, 64]), vec![9, 1]);
    }
}
