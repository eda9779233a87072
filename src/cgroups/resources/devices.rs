//! v1 devices cgroup rules (cgroup2 uses an eBPF filter, devices_bpf).

use super::{w, Write};
use oci_spec::runtime::LinuxResources;

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
pub(super) fn writes(r: &LinuxResources, out: &mut Vec<Write>) {
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
pub(super) fn defaults_after(later: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Vec<String> {
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
