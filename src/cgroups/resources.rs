//! One translation of spec resources into (controller, file, value)
//! writes, for v1 and v2 alike: the two differ only in file names and
//! value formats. Memory, pids, cpu and devices are here; blockIO,
//! hugepageLimits, network, rdma and unified in `resources_more`.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

pub use super::resources_more::hugepage_sizes;

pub struct Write {
    pub controller: &'static str,
    /// Written in the cgroup2 directory (else the v1 hierarchy of
    /// `controller`): chosen per controller, as a hybrid host mixes both.
    pub v2: bool,
    pub file: String,
    pub value: String,
    /// The spec field, for the error line ("blockIO.weight").
    pub field: &'static str,
}

/// What the translation needs to know about the host.
pub trait Host {
    /// Where `controller` (its v1 name: "blkio", not "io") lives:
    /// Some(false) a v1 hierarchy, Some(true) cgroup2, None nowhere.
    fn v2(&self, controller: &str) -> Option<bool>;
    /// Whether the kernel offers `file` in the container's cgroup.
    fn has(&self, controller: &str, v2: bool, file: &str) -> bool;
    /// A file's content (for usage checks), trimmed.
    fn read(&self, controller: &str, v2: bool, file: &str) -> Option<String>;
    /// Huge page sizes the kernel offers, as the spec names them ("2MB").
    fn hugepage_sizes(&self) -> Vec<String>;
    /// No v1 hierarchy at all (messages and v1-only fields).
    fn pure_v2(&self) -> bool;
    /// The controllers of the container's cgroup2 directory, or None
    /// without cgroup2 (for `unified`).
    fn unified(&self) -> Option<Vec<String>>;
}

pub(super) fn w(
    controller: &'static str,
    v2: bool,
    field: &'static str,
    file: impl Into<String>,
    value: impl ToString,
) -> Write {
    Write {
        controller,
        v2,
        file: file.into(),
        value: value.to_string(),
        field,
    }
}

/// The version holding `controller`, or the error naming the field.
pub(super) fn need(host: &dyn Host, controller: &str, field: &str) -> Result<bool> {
    host.v2(controller).ok_or_else(|| {
        Error::invalid(format!(
            "linux.resources.{field}: no {controller} controller on this host"
        ))
    })
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Refuses values no kernel accepts, naming the field, before anything
/// is created. What depends on the host is refused by `writes`.
pub fn validate(r: &LinuxResources) -> Result<()> {
    for (i, d) in r
        .devices()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let bad = |what: String| {
            Err(Error::invalid(format!(
                "linux.resources.devices[{i}]: {what}"
            )))
        };
        if d.access()
            .as_deref()
            .is_some_and(|a| a.is_empty() || !a.chars().all(|c| "rwm".contains(c)))
        {
            return bad(format!(
                "access {:?} must be made of r, w, m",
                d.access().as_deref().unwrap_or_default()
            ));
        }
        let typ = d.typ().map(|t| t.as_str().to_string());
        if let Some(t) = typ.filter(|t| !matches!(t.as_str(), "a" | "b" | "c")) {
            return bad(format!("type {t:?} must be a, b or c"));
        }
        // -1 is a wildcard as in runc; the kernel's dev_t has 12 + 20 bits.
        // (A negative number once turned into "any device" here.)
        for (n, name, max) in [(d.major(), "major", 4095), (d.minor(), "minor", 1_048_575)] {
            if n.is_some_and(|n| n < -1 || n > max) {
                return bad(format!(
                    "{name} {} is out of range (-1 or 0..{max})",
                    n.unwrap_or(0)
                ));
            }
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
        // config-linux.md: burst MUST be no larger than a positive quota.
        if let (Some(b), Some(q)) = (c.burst(), c.quota().filter(|&q| q > 0)) {
            if b > q as u64 {
                return Err(Error::invalid(format!(
                    "linux.resources.cpu.burst: {b} is larger than quota {q}"
                )));
            }
        }
        if c.realtime_runtime().is_some_and(|v| v < -1) {
            return Err(Error::invalid(
                "linux.resources.cpu.realtimeRuntime: must be 0 or more, or -1",
            ));
        }
        if c.realtime_period()
            .is_some_and(|p| p == 0 || p > 1_000_000_000)
        {
            return Err(Error::invalid(
                "linux.resources.cpu.realtimePeriod: must be 1..1000000000 microseconds",
            ));
        }
        if c.idle().is_some_and(|i| !(0..=1).contains(&i)) {
            return Err(Error::invalid("linux.resources.cpu.idle: must be 0 or 1"));
        }
    }
    super::resources_more::validate(r)
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

/// v1 devices cgroup rules in the config's order, then the default
/// allow-list, so devices.list shows the config's rules first, in order
/// (config-linux.md: MUST apply entries in the listed order). The v1
/// exceptions are keyed by type:major:minor and independent of each other,
/// so this ends where applying the defaults at `defaults_at` would: each
/// default loses the access bits a later config rule of its own key
/// denies, and none is written after an allow-all (it would wipe them).
fn device_writes(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(rules) = r.devices() else { return };
    let at = defaults_at(rules);
    for d in rules {
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
            false,
            "devices",
            if d.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            },
            rule,
        ));
    }
    for a in defaults_after(&rules[at..]) {
        out.push(w("devices", false, "devices", "devices.allow", a));
    }
}

/// The default allow rules as they stand after `later` (the config's
/// rules after its last deny-all), to be written after them.
fn defaults_after(later: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Vec<String> {
    let allow_all = |d: &&oci_spec::runtime::LinuxDeviceCgroup| {
        d.allow() && d.typ().is_none_or(|t| t.as_str() == "a")
    };
    if later.iter().any(|d| allow_all(&d)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for def in DEFAULT_ALLOW {
        let mut f = def.split(' ');
        let (typ, num, acc) = (f.next(), f.next(), f.next());
        let (Some(typ), Some((maj, min)), Some(acc)) =
            (typ, num.and_then(|n| n.split_once(':')), acc)
        else {
            continue;
        };
        let key = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let mut bits: String = acc.to_string();
        for d in later {
            let same = d.typ().map(|t| t.as_str().to_string()).as_deref() == Some(typ)
                && key(d.major()) == maj
                && key(d.minor()) == min;
            if !same {
                continue;
            }
            let rule = d.access().clone().unwrap_or_else(|| "rwm".into());
            if d.allow() {
                // Bits the default has are back; others are the config's.
                let back: Vec<char> = rule
                    .chars()
                    .filter(|c| acc.contains(*c) && !bits.contains(*c))
                    .collect();
                bits.extend(back);
            } else {
                bits.retain(|c| !rule.contains(c));
            }
        }
        if !bits.is_empty() {
            let ordered: String = "rwm".chars().filter(|c| bits.contains(*c)).collect();
            out.push(format!("{typ} {maj}:{min} {ordered}"));
        }
    }
    out
}

/// Every write for `r` on `host`, in the order they must happen, or the
/// first field the host cannot apply.
pub fn writes(r: &LinuxResources, host: &dyn Host) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if r.devices().is_some() && !host.pure_v2() {
        need(host, "devices", "devices")?;
        device_writes(r, &mut out);
    }
    if let Some(p) = r.pids() {
        let v2 = need(host, "pids", "pids")?;
        // runtime-spec 1.3: 0 is a real limit and -1 means max. An absent
        // limit never gets here: `drop_unset_pids` removed the object.
        let v = if p.limit() >= 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        out.push(w("pids", v2, "pids.limit", "pids.max", v));
    }
    memory_writes(r, host, &mut out)?;
    cpu_writes(r, host, &mut out)?;
    super::resources_more::writes(r, host, &mut out)?;
    Ok(out)
}

/// Fields accepted but not applied, each as a warning line. Kernel memory
/// limits are deprecated and ignored exactly as runc 1.1 and 1.2 do
/// ("Kernel memory settings are ignored and will be removed"): gone from
/// v2 and broken on new v1 kernels. v2 has no swappiness or OOM-killer
/// switch; runc ignores those there too.
#[allow(deprecated)]
pub fn warnings(r: &LinuxResources, host: &dyn Host) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(m) = r.memory().as_ref() else {
        return out;
    };
    if m.kernel().is_some() || m.kernel_tcp().is_some() {
        out.push(
            "linux.resources.memory.kernel/kernelTCP: ignored (deprecated; runc ignores them too)",
        );
    }
    if host.v2("memory") == Some(true) {
        if m.swappiness().is_some() {
            out.push("linux.resources.memory.swappiness: ignored (cgroup v2 has no per-cgroup swappiness)");
        }
        if m.disable_oom_killer() == Some(true) {
            out.push("linux.resources.memory.disableOOMKiller: ignored (cgroup v2 cannot disable the OOM killer)");
        }
    }
    out
}

/// checkBeforeUpdate: refuse a limit below what the cgroup already uses
/// (v1 refuses it itself, v2 would OOM-kill instead).
pub fn check_before_update(r: &LinuxResources, host: &dyn Host) -> Result<()> {
    let Some(m) = r
        .memory()
        .as_ref()
        .filter(|m| m.check_before_update() == Some(true))
    else {
        return Ok(());
    };
    let Some(limit) = m.limit().filter(|&l| l > 0) else {
        return Ok(());
    };
    let Some(v2) = host.v2("memory") else {
        return Ok(());
    };
    let file = if v2 {
        "memory.current"
    } else {
        "memory.usage_in_bytes"
    };
    let usage: i64 = host
        .read("memory", v2, file)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if usage > limit {
        return Err(Error::invalid(format!(
            "linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
        )));
    }
    Ok(())
}

fn memory_writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    let set = m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some();
    if !set {
        return Ok(());
    }
    let v2 = need(host, "memory", "memory")?;
    let mw = |field, file: &str, v: String| w("memory", v2, field, file, v);
    if v2 {
        if let Some(l) = m.limit() {
            out.push(mw("memory.limit", "memory.max", max_or(l)));
        }
        if let Some(l) = m.reservation() {
            out.push(mw("memory.reservation", "memory.low", max_or(l)));
        }
        // v2 counts swap on its own; the spec's swap is memory + swap.
        if let Some(s) = m.swap() {
            let v = match (s, m.limit()) {
                (-1, _) => "max".into(),
                (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            out.push(mw("memory.swap", "memory.swap.max", v));
        }
        // v2 is always hierarchical: true is what it does, false it cannot.
        if m.use_hierarchy() == Some(false) {
            return Err(Error::invalid(
                "linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical",
            ));
        }
    } else {
        // The kernel keeps limit <= memsw limit at every step: raising both
        // past the current memsw limit must write memsw first (as runc).
        let cur_memsw = host
            .read("memory", false, "memory.memsw.limit_in_bytes")
            .and_then(|s| s.parse::<i64>().ok());
        let swap_first = match (m.limit(), m.swap()) {
            (Some(l), Some(_)) => l == -1 || cur_memsw.is_some_and(|c| l > c),
            _ => false,
        };
        let limit = m
            .limit()
            .map(|l| mw("memory.limit", "memory.limit_in_bytes", l.to_string()));
        let swap = m
            .swap()
            .map(|s| mw("memory.swap", "memory.memsw.limit_in_bytes", s.to_string()));
        if swap_first {
            out.extend(swap.into_iter().chain(limit));
        } else {
            out.extend(limit.into_iter().chain(swap));
        }
        if let Some(l) = m.reservation() {
            out.push(mw(
                "memory.reservation",
                "memory.soft_limit_in_bytes",
                l.to_string(),
            ));
        }
        if let Some(s) = m.swappiness() {
            out.push(mw("memory.swappiness", "memory.swappiness", s.to_string()));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(mw(
                "memory.disableOOMKiller",
                "memory.oom_control",
                "1".into(),
            ));
        }
        if let Some(h) = m.use_hierarchy() {
            let v = if h { "1" } else { "0" };
            out.push(mw("memory.useHierarchy", "memory.use_hierarchy", v.into()));
        }
    }
    Ok(())
}

fn cpu_writes(r: &LinuxResources, host: &dyn Host, out: &mut Vec<Write>) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    let cpu_set = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
        || c.idle().is_some();
    if cpu_set {
        let v2 = need(host, "cpu", "cpu")?;
        let cw = |field, file: &str, v: String| w("cpu", v2, field, file, v);
        // Realtime first (v1): a task already SCHED_RR needs its budget
        // before it can join; period before runtime, as runc.
        if v2 {
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                return Err(Error::invalid(
                    "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime group scheduling",
                ));
            }
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                // runc's mapping of shares [2, 262144] onto weight [1, 10000].
                let wgt = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                out.push(cw("cpu.shares", "cpu.weight", wgt.to_string()));
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = c.quota().map(max_or).unwrap_or_else(|| "max".into());
                let v = format!("{q} {}", c.period().unwrap_or(100_000));
                out.push(cw("cpu.quota", "cpu.max", v));
            }
            if let Some(b) = c.burst() {
                out.push(cw("cpu.burst", "cpu.max.burst", b.to_string()));
            }
        } else {
            if let Some(p) = c.realtime_period() {
                out.push(cw("cpu.realtimePeriod", "cpu.rt_period_us", p.to_string()));
            }
            if let Some(rt) = c.realtime_runtime() {
                out.push(cw(
                    "cpu.realtimeRuntime",
                    "cpu.rt_runtime_us",
                    rt.to_string(),
                ));
            }
            if let Some(s) = c.shares().filter(|&s| s > 0) {
                out.push(cw("cpu.shares", "cpu.shares", s.to_string()));
            }
            if let Some(p) = c.period() {
                out.push(cw("cpu.period", "cpu.cfs_period_us", p.to_string()));
            }
            if let Some(q) = c.quota() {
                out.push(cw("cpu.quota", "cpu.cfs_quota_us", q.to_string()));
            }
            if let Some(b) = c.burst() {
                out.push(cw("cpu.burst", "cpu.cfs_burst_us", b.to_string()));
            }
        }
        // After the weight: the kernel refuses a weight for an idle group.
        if let Some(i) = c.idle() {
            if !host.has("cpu", v2, "cpu.idle") {
                return Err(Error::invalid(
                    "linux.resources.cpu.idle: this kernel has no cpu.idle (Linux 5.15 or later)",
                ));
            }
            out.push(cw("cpu.idle", "cpu.idle", i.to_string()));
        }
    }
    for (val, field, file) in [
        (c.cpus(), "cpu.cpus", "cpuset.cpus"),
        (c.mems(), "cpu.mems", "cpuset.mems"),
    ] {
        if let Some(s) = val.as_deref().filter(|s| !s.is_empty()) {
            let v2 = need(host, "cpuset", field)?;
            out.push(w("cpuset", v2, field, file, s));
        }
    }
    Ok(())
}

/// oci-spec reads an absent `pids.limit` as 0, which runtime-spec 1.3
/// makes a real limit. So `"pids": {}` (or a null limit) is removed from
/// the JSON before the typed parse: unset means "leave pids alone".
pub fn drop_unset_pids(resources: &mut serde_json::Value) {
    let unset = resources
        .get("pids")
        .is_some_and(|p| p.get("limit").is_none_or(|l| l.is_null()));
    if let Some(obj) = resources.as_object_mut().filter(|_| unset) {
        obj.remove("pids");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: serde_json::Value) -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
        serde_json::from_value(v).expect("device rules")
    }

    #[test]
    fn default_devices_follow_the_config_rules() {
        let r = rules(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rw"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
        ]));
        let after = defaults_after(&r[defaults_at(&r)..]);
        assert_eq!(after[0], "c *:* m");
        assert!(after.contains(&"c 1:5 m".to_string()));
        assert!(after.contains(&"c 1:3 r".to_string()));
        assert!(after.contains(&"c 136:* rwm".to_string()));
        assert_eq!(after.len(), DEFAULT_ALLOW.len());
        // After an allow-all the defaults would remove exceptions.
        let r = rules(serde_json::json!([{"allow": true, "access": "rwm"}]));
        assert!(defaults_after(&r).is_empty());
        // A deny of a whole default drops it.
        let r = rules(serde_json::json!([{"allow": false, "type": "b", "access": "m"}]));
        assert!(!defaults_after(&r).contains(&"b *:* m".to_string()));
    }

    #[test]
    fn unset_pids_limit_is_dropped_but_zero_is_kept() {
        let mut r = serde_json::json!({"pids": {}, "memory": {"limit": 1}});
        drop_unset_pids(&mut r);
        assert_eq!(r, serde_json::json!({"memory": {"limit": 1}}));
        let mut r = serde_json::json!({"pids": {"limit": 0}});
        drop_unset_pids(&mut r);
        assert_eq!(r, serde_json::json!({"pids": {"limit": 0}}));
    }

    /// A host: `v1` controllers in v1 hierarchies, `v2` ones in cgroup2,
    /// and the files that exist.
    struct Fake {
        v1: &'static [&'static str],
        v2: &'static [&'static str],
        files: &'static [&'static str],
    }

    impl Host for Fake {
        fn v2(&self, c: &str) -> Option<bool> {
            let n = if c == "blkio" { "io" } else { c };
            if self.v1.contains(&c) {
                Some(false)
            } else {
                self.v2.contains(&n).then_some(true)
            }
        }
        fn has(&self, _: &str, _: bool, f: &str) -> bool {
            self.files.contains(&f)
        }
        fn read(&self, _: &str, _: bool, _: &str) -> Option<String> {
            Some("1000000".into())
        }
        fn hugepage_sizes(&self) -> Vec<String> {
            vec!["2MB".into(), "1GB".into()]
        }
        fn pure_v2(&self) -> bool {
            self.v1.is_empty()
        }
        fn unified(&self) -> Option<Vec<String>> {
            Some(self.v2.iter().map(|s| s.to_string()).collect())
        }
    }

    const HYBRID: Fake = Fake {
        v1: &["cpu", "memory", "blkio", "pids", "devices", "cpuset"],
        v2: &["hugetlb"],
        files: &[
            "blkio.bfq.weight",
            "hugetlb.2MB.rsvd.max",
            "hugetlb.2MB.max",
        ],
    };
    const V2: Fake = Fake {
        v1: &[],
        v2: &["cpu", "memory", "io", "pids", "cpuset", "hugetlb"],
        files: &["io.weight", "cpu.idle", "pids.max"],
    };

    fn plan(host: &Fake, r: serde_json::Value) -> Result<Vec<(bool, String, String)>> {
        let r: LinuxResources = serde_json::from_value(r).expect("resources");
        validate(&r)?;
        Ok(writes(&r, host)?
            .into_iter()
            .map(|w| (w.v2, w.file, w.value))
            .collect())
    }

    #[test]
    fn hybrid_hugetlb_goes_to_cgroup2_with_rsvd() {
        let r = serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
        let got = plan(&HYBRID, r).expect("plan");
        assert_eq!(
            got,
            vec![
                (true, "hugetlb.2MB.max".into(), "4194304".into()),
                (true, "hugetlb.2MB.rsvd.max".into(), "4194304".into()),
            ]
        );
        let bad = serde_json::json!({"hugepageLimits": [{"pageSize": "4MB", "limit": 1}]});
        assert!(plan(&HYBRID, bad).is_err());
    }

    #[test]
    fn blkio_weight_per_version() {
        let r = serde_json::json!({"blockIO": {"weight": 500}});
        let v1 = plan(&HYBRID, r.clone()).expect("v1");
        assert_eq!(v1, vec![(false, "blkio.bfq.weight".into(), "500".into())]);
        let v2 = plan(&V2, r).expect("v2");
        assert_eq!(v2, vec![(true, "io.weight".into(), "4950".into())]);
        let leaf = serde_json::json!({"blockIO": {"leafWeight": 500}});
        assert!(plan(&V2, leaf).is_err());
    }

    #[test]
    fn refusals_by_layout() {
        let rt = serde_json::json!({"cpu": {"realtimeRuntime": 1000}});
        assert!(plan(&V2, rt).is_err());
        let net = serde_json::json!({"network": {"classID": 5}});
        assert!(plan(&V2, net.clone()).is_err());
        assert!(plan(&HYBRID, net).is_err());
        let uni = serde_json::json!({"unified": {"pids.max": "3"}});
        assert!(plan(&HYBRID, uni.clone()).is_err());
        assert_eq!(
            plan(&V2, uni).expect("v2 unified"),
            vec![(true, "pids.max".into(), "3".into())]
        );
        let bad = serde_json::json!({"unified": {"../cgroup.procs": "1"}});
        assert!(plan(&V2, bad).is_err());
    }

    #[test]
    fn idle_after_weight_and_burst() {
        let r =
            serde_json::json!({"cpu": {"shares": 1024, "idle": 1, "quota": 50000, "burst": 1000}});
        let files: Vec<String> = plan(&V2, r).expect("v2").into_iter().map(|w| w.1).collect();
        assert_eq!(
            files,
            ["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle"]
        );
        let big = serde_json::json!({"cpu": {"quota": 1000, "burst": 5000}});
        assert!(plan(&V2, big).is_err());
    }
}
