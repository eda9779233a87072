//! One translation of spec resources into (controller, file, value)
//! writes, for v1 and v2 alike: the two differ only in file names and
//! value formats. This covers memory, pids and cpu; the rest of
//! linux.resources is refused until it is implemented (issue 4).

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

pub struct Write {
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

fn w(controller: &'static str, file: &'static str, value: impl ToString) -> Write {
    Write {
        controller,
        file,
        value: value.to_string(),
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Refuses what strata cannot apply yet, naming the field.
pub fn validate(r: &LinuxResources) -> Result<()> {
    let unsupported = [
        (r.block_io().is_some(), "blockIO"),
        (
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            "hugepageLimits",
        ),
        (r.network().is_some(), "network"),
        (r.rdma().as_ref().is_some_and(|h| !h.is_empty()), "rdma"),
        (
            r.unified().as_ref().is_some_and(|h| !h.is_empty()),
            "unified",
        ),
    ];
    if let Some((_, name)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(Error::invalid(format!(
            "linux.resources.{name}: not supported yet"
        )));
    }
    for d in r.devices().as_deref().unwrap_or_default() {
        if d.access()
            .as_deref()
            .is_some_and(|a| a.is_empty() || !a.chars().all(|c| "rwm".contains(c)))
        {
            return Err(Error::invalid(format!(
                "linux.resources.devices: access {:?} must be made of r, w, m",
                d.access()
            )));
        }
    }
    if let Some(m) = r.memory() {
        for (v, name) in [
            (m.limit(), "limit"),
            (m.reservation(), "reservation"),
            (m.swap(), "swap"),
        ] {
            if v.is_some_and(|v| v < -1 || v == 0) {
                return Err(Error::invalid(format!(
                    "linux.resources.memory.{name}: must be positive or -1"
                )));
            }
        }
        if m.swappiness().is_some_and(|s| s > 100) {
            return Err(Error::invalid(
                "linux.resources.memory.swappiness: must be 0..100",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if c.period().is_some_and(|p| !(1000..=1_000_000).contains(&p)) {
            return Err(Error::invalid(
                "linux.resources.cpu.period: must be 1000..1000000 microseconds",
            ));
        }
        if c.quota().is_some_and(|q| q == 0 || q < -1) {
            return Err(Error::invalid(
                "linux.resources.cpu.quota: must be positive or -1",
            ));
        }
    }
    Ok(())
}

/// Devices every container may use whatever its rules say (runc's list):
/// mknod of anything, the default devices, ptys and /dev/console.
pub const DEFAULT_ALLOW: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// Where the default allow-list goes: right after the config's last
/// "deny everything" rule (or first). A deny-all resets access, so the
/// defaults must follow it (runc's own spec starts with one); every rule
/// after it still applies in the listed order, as config-linux.md says,
/// so a config can deny a default device explicitly.
pub fn defaults_at(rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> usize {
    rules
        .iter()
        .rposition(|d| {
            !d.allow()
                && d.typ().is_none_or(|t| t.as_str() == "a")
                && d.major().is_none()
                && d.minor().is_none()
                && d.access()
                    .as_deref()
                    .is_none_or(|a| a.contains('r') && a.contains('w') && a.contains('m'))
        })
        .map_or(0, |i| i + 1)
}

/// v1 devices cgroup rules in order, the default allow-list placed by
/// `defaults_at`.
fn device_writes(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(rules) = r.devices() else { return };
    let at = defaults_at(rules);
    for (i, d) in rules.iter().enumerate() {
        if i == at {
            for a in DEFAULT_ALLOW {
                out.push(w("devices", "devices.allow", a));
            }
        }
        let typ = d
            .typ()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "a".into());
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        let rule = if typ == "a" {
            "a".to_string()
        } else {
            format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()))
        };
        out.push(w(
            "devices",
            if d.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            },
            rule,
        ));
    }
    if at == rules.len() {
        for a in DEFAULT_ALLOW {
            out.push(w("devices", "devices.allow", a));
        }
    }
}

pub fn writes(r: &LinuxResources, v2: bool) -> Vec<Write> {
    let mut out = Vec::new();
    if !v2 {
        device_writes(r, &mut out);
    }
    if let Some(p) = r.pids() {
        out.push(w(
            "pids",
            "pids.max",
            if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            },
        ));
    }
    if let Some(m) = r.memory() {
        if v2 {
            if let Some(l) = m.limit() {
                out.push(w("memory", "memory.max", max_or(l)));
            }
            if let Some(l) = m.reservation() {
                out.push(w("memory", "memory.low", max_or(l)));
            }
            // v2 counts swap on its own; the spec's swap is memory + swap.
            if let Some(s) = m.swap() {
                let v = match (s, m.limit()) {
                    (-1, _) => "max".into(),
                    (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                    (s, _) => s.to_string(),
                };
                out.push(w("memory", "memory.swap.max", v));
            }
        } else {
            if let Some(l) = m.limit() {
                out.push(w("memory", "memory.limit_in_bytes", l));
            }
            if let Some(s) = m.swap() {
                out.push(w("memory", "memory.memsw.limit_in_bytes", s));
            }
            if let Some(l) = m.reservation() {
                out.push(w("memory", "memory.soft_limit_in_bytes", l));
            }
            if let Some(s) = m.swappiness() {
                out.push(w("memory", "memory.swappiness", s));
            }
            if m.disable_oom_killer() == Some(true) {
                out.push(w("memory", "memory.oom_control", 1));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if v2 {
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                // runc's mapping of shares [2, 262144] onto weight [1, 10000].
                out.push(w(
                    "cpu",
                    "cpu.weight",
                    1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142,
                ));
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = c.quota().map(max_or).unwrap_or_else(|| "max".into());
                out.push(w(
                    "cpu",
                    "cpu.max",
                    format!("{q} {}", c.period().unwrap_or(100_000)),
                ));
            }
        } else {
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                out.push(w("cpu", "cpu.shares", s));
            }
            if let Some(p) = c.period() {
                out.push(w("cpu", "cpu.cfs_period_us", p));
            }
            if let Some(q) = c.quota() {
                out.push(w("cpu", "cpu.cfs_quota_us", q));
            }
        }
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            out.push(w("cpuset", "cpuset.cpus", s));
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            out.push(w("cpuset", "cpuset.mems", s));
        }
    }
    out
}
