//! linux.resources as systemd unit properties, for the fields systemd
//! knows; the cgroup files are written too, as runc does, so a field
//! systemd does not know still applies. Pure: unit-tested.

use crate::cgroups::devices_bpf::{emulate_v1, Rule};
use crate::cgroups::resources::{defaults_at, DEFAULT_ALLOW};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// A property value, in the D-Bus type systemd wants for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Bool(bool),
    U64(u64),
    Str(String),
    Strs(Vec<String>),
    /// `ay`: a CPU or NUMA node bitmask.
    Bytes(Vec<u8>),
    /// `a(ss)`: DeviceAllow's (path, access) pairs.
    Devices(Vec<(String, String)>),
    /// `au`: PIDs.
    U32s(Vec<u32>),
}

pub type Prop = (&'static str, Val);

/// What `TasksMax` and the other limits say for "no limit".
const INFINITY: u64 = u64::MAX;

fn limit(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// The properties for `r`, the pids limit apart: `TasksMax` waits until
/// the init is in the unit (see `tasks_max`). `proc_devices` is the text
/// of /proc/devices, which names whole majors; None only checks the
/// values and leaves the device properties out.
pub fn resources(r: &LinuxResources, proc_devices: Option<&str>) -> Result<Vec<Prop>> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            out.push(("MemoryMax", Val::U64(limit(l))));
        }
        if let Some(l) = m.reservation() {
            out.push(("MemoryLow", Val::U64(limit(l))));
        }
        if let Some(s) = m.swap() {
            // cgroup2's swap limit is what swap+memory leaves to swap.
            let v = match (s, m.limit()) {
                (-1, _) => INFINITY,
                (s, Some(l)) if l > 0 => (s - l).max(0) as u64,
                (s, _) => limit(s),
            };
            out.push(("MemorySwapMax", Val::U64(v)));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&s| s > 0) {
            // runc's shares-to-weight mapping: [2, 262144] onto [1, 10000].
            let wgt = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
            out.push(("CPUWeight", Val::U64(wgt)));
        }
        if let Some(p) = c.period().filter(|&p| p > 0) {
            out.push(("CPUQuotaPeriodUSec", Val::U64(p)));
        }
        if let Some(q) = c.quota().filter(|&q| q != 0) {
            out.push(("CPUQuotaPerSecUSec", Val::U64(quota_per_sec(q, c.period()))));
        }
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            out.push(("AllowedCPUs", Val::Bytes(bitmask(s, "cpu.cpus")?)));
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            out.push(("AllowedMemoryNodes", Val::Bytes(bitmask(s, "cpu.mems")?)));
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        // blkio's [10, 1000] onto io's [1, 10000], as runc converts it.
        let w = u64::from(w.clamp(10, 1000));
        out.push(("IOWeight", Val::U64(1 + (w - 10) * 9999 / 990)));
    }
    if let Some(u) = r.unified() {
        for (key, name) in [
            ("memory.high", "MemoryHigh"),
            ("memory.low", "MemoryLow"),
            ("memory.max", "MemoryMax"),
            ("memory.swap.max", "MemorySwapMax"),
        ] {
            if let Some(v) = u.get(key) {
                let n = if v.trim() == "max" {
                    INFINITY
                } else {
                    v.trim().parse().map_err(|_| {
                        Error::invalid(format!(
                            "linux.resources.unified.{key}: {v:?} is not a number of bytes or \"max\""
                        ))
                    })?
                };
                out.retain(|(k, _)| *k != name);
                out.push((name, Val::U64(n)));
            }
        }
    }
    if let (Some(rules), Some(pd)) = (r.devices().as_ref().filter(|d| !d.is_empty()), proc_devices)
    {
        out.extend(devices(rules, pd));
    }
    Ok(out)
}

/// `TasksMax` for the pids limit, if any. systemd refuses 0 ("out of
/// range"), which runtime-spec 1.3 makes a real limit: that one lives in
/// pids.max alone, written as the cgroupfs driver writes it.
pub fn tasks_max(r: &LinuxResources) -> Option<Prop> {
    let l = r.pids().as_ref()?.limit();
    (l != 0).then(|| ("TasksMax", Val::U64(limit(l))))
}

/// systemd keeps the quota as a whole percentage of one CPU: the value is
/// rounded up to 10 ms per second, as runc does, so cpu.max holds at
/// least the requested quota. A negative quota is no limit.
fn quota_per_sec(quota: i64, period: Option<u64>) -> u64 {
    if quota < 0 {
        return INFINITY;
    }
    let period = period.filter(|&p| p > 0).unwrap_or(100_000);
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period;
    per_sec.div_ceil(10_000) * 10_000
}

/// "0-3,8" as the `ay` bitmask systemd takes (bit n of byte n/8).
fn bitmask(list: &str, field: &str) -> Result<Vec<u8>> {
    let bad = || {
        Error::invalid(format!(
            "linux.resources.{field}: {list:?} is not a list of numbers and ranges"
        ))
    };
    let mut out: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= 8192 {
            return Err(bad());
        }
        for n in a..=b {
            if out.len() <= n / 8 {
                out.resize(n / 8 + 1, 0);
            }
            out[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(out)
}

/// DevicePolicy and DeviceAllow for the rules (after runc's defaults, as
/// the cgroupfs driver places them). systemd only allows: a rule set that
/// ends up allowing everything but some devices is `auto` with no list,
/// and the eBPF filter strata attaches too does the denying.
fn devices(rules: &[oci_spec::runtime::LinuxDeviceCgroup], proc_devices: &str) -> Vec<Prop> {
    let at = defaults_at(rules);
    let mut all: Vec<Rule> = rules[..at].iter().map(Rule::from_spec).collect();
    all.extend(DEFAULT_ALLOW.iter().filter_map(|s| Rule::parse(s, true)));
    all.extend(rules[at..].iter().map(Rule::from_spec));
    let eff = emulate_v1(all);
    if eff.first().is_some_and(|d| d.allow) {
        return vec![("DevicePolicy", Val::Str("auto".into()))];
    }
    let mut allow = Vec::new();
    for r in eff.iter().skip(1) {
        let kind = if r.typ == 'b' { "block" } else { "char" };
        let path = match (r.major, r.minor) {
            (None, _) => format!("{kind}-*"),
            (Some(ma), Some(mi)) => format!("/dev/{kind}/{ma}:{mi}"),
            (Some(ma), None) => match driver_name(proc_devices, kind, ma) {
                Some(n) => format!("{kind}-{n}"),
                None => {
                    // A debug line, as runc logs it: engines show the
                    // runtime's stderr to their user (podman does).
                    tracing::debug!(
                        "systemd: no driver name for {kind} major {ma} in /proc/devices: its DeviceAllow is left out (the eBPF filter still allows it)"
                    );
                    continue;
                }
            },
        };
        let acc: String = [(2, 'r'), (4, 'w'), (1, 'm')]
            .iter()
            .filter(|(b, _)| r.access & b != 0)
            .map(|(_, c)| *c)
            .collect();
        allow.push((path, acc));
    }
    vec![
        ("DevicePolicy", Val::Str("strict".into())),
        ("DeviceAllow", Val::Devices(allow)),
    ]
}

/// The driver of `major` in /proc/devices' "Character devices:" or
/// "Block devices:" section: systemd names a whole major by it.
fn driver_name(proc_devices: &str, kind: &str, major: u32) -> Option<String> {
    let head = if kind == "block" {
        "Block devices:"
    } else {
        "Character devices:"
    };
    proc_devices
        .lines()
        .skip_while(|l| l.trim() != head)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.trim().split_once(' '))
        .find(|(m, _)| m.parse() == Ok(major))
        .map(|(_, n)| n.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(p: &'a [Prop], k: &str) -> Option<&'a Val> {
        p.iter().find(|(n, _)| *n == k).map(|(_, v)| v)
    }

    #[test]
    fn memory_and_cpu() {
        let r = res(
            r#"{"memory":{"limit":1048576,"reservation":-1,"swap":3145728},
            "cpu":{"shares":1024,"quota":12345,"period":100000,"cpus":"0-2,9","mems":"0"},
            "blockIO":{"weight":500}}"#,
        );
        let p = resources(&r, None).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Val::U64(1048576)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Val::U64(u64::MAX)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Val::U64(2097152)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Val::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Val::U64(130_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Val::U64(100_000)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&Val::Bytes(vec![0b111, 0b10])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Val::Bytes(vec![1])));
        assert_eq!(get(&p, "IOWeight"), Some(&Val::U64(4950)));
        assert!(get(&p, "TasksMax").is_none());
    }

    #[test]
    fn unlimited_quota_pids_and_unified() {
        let r = res(r#"{"cpu":{"quota":-1},"pids":{"limit":-1},
            "unified":{"memory.high":"max","memory.max":"4096"}}"#);
        let p = resources(&r, None).unwrap();
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Val::U64(u64::MAX)));
        assert_eq!(get(&p, "MemoryHigh"), Some(&Val::U64(u64::MAX)));
        assert_eq!(get(&p, "MemoryMax"), Some(&Val::U64(4096)));
        assert_eq!(tasks_max(&r), Some(("TasksMax", Val::U64(u64::MAX))));
        let r = res(r#"{"pids":{"limit":7}}"#);
        assert_eq!(tasks_max(&r), Some(("TasksMax", Val::U64(7))));
        let r = res(r#"{"pids":{"limit":0}}"#);
        assert_eq!(tasks_max(&r), None, "systemd refuses TasksMax=0");
        let bad = res(r#"{"unified":{"memory.high":"lots"}}"#);
        assert!(resources(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("memory.high"));
        let bad = res(r#"{"cpu":{"cpus":"3-1"}}"#);
        assert!(resources(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("cpu.cpus"));
    }

    #[test]
    fn devices_allow_list_or_auto() {
        let pd = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":200,"access":"rw"}]}"#);
        let p = resources(&r, Some(pd)).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Some(&Val::Str("strict".into())));
        let Some(Val::Devices(d)) = get(&p, "DeviceAllow") else {
            panic!("no DeviceAllow: {p:?}")
        };
        assert!(d.contains(&("char-*".into(), "m".into())));
        assert!(d.contains(&("/dev/char/1:3".into(), "rwm".into())));
        assert!(d.contains(&("char-pts".into(), "rwm".into())));
        assert!(d.contains(&("/dev/char/10:200".into(), "rw".into())));
        let r = res(r#"{"devices":[{"allow":true,"access":"rwm"},
            {"allow":false,"type":"c","major":1,"minor":9,"access":"rwm"}]}"#);
        let p = resources(&r, Some(pd)).unwrap();
        assert_eq!(p, vec![("DevicePolicy", Val::Str("auto".into()))]);
    }

    /// The check before the init exists has no /proc/devices to name whole
    /// majors by: it leaves the device properties out instead of deciding
    /// (and warning) that `c 136:*` has no name.
    #[test]
    fn check_only_leaves_devices_out() {
        let r = res(r#"{"memory":{"limit":1048576},"devices":[{"allow":false,"access":"rwm"}]}"#);
        let p = resources(&r, None).unwrap();
        assert_eq!(p, vec![("MemoryMax", Val::U64(1_048_576))]);
    }
}
