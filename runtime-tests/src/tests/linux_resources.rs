//! config-linux.md "Control groups" resources, as the kernel reports them from the host side
//! (v1 file names first, v2 second): Memory (reservation, swap), CPU (shares, quota, period,
//! cpus, mems) and the Allowed Device list. Memory limit and pids: linux_cgroups.
use super::linux_cgroups::cgroup_file;
use super::{sleeper, state_pid};
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, ensure_eq};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("linux_resources";
        memory_reservation_and_swap, cpu_shares_quota_period, cpuset_cpus_mems,
        update_docker_zeros_unchanged);
    // runc 1.1.5 appends its own allow rules for the default devices after the config's, so
    // an explicit deny of one of them (the last entry here) is overridden.
    let why = "appends default device allow rules after the config's (config-linux.md: MUST \
               apply entries in the listed order)";
    v.push(
        Test::new(
            "linux_resources::devices_deny_listed_last",
            devices_deny_listed_last,
        )
        .deviates("runc", why),
    );
    v.push(
        Test::new(
            "linux_resources::devices_list_in_config_order",
            devices_list_in_config_order,
        )
        .deviates(
            "runc",
            "runc 1.1.5 writes the rules its device emulator computes: b *:* m, c *:* m and \
             the default devices first, the config's after them",
        ),
    );
    v.push(
        Test::new(
            "linux_resources::devices_deny_partial_access",
            devices_deny_partial_access,
        )
        .deviates("runc", why),
    );
    v
}

/// Creates a sleeper with `resources` merged in; returns its cgroupsPath and init pid.
fn created_with(
    ctx: &Ctx,
    key: &str,
    value: serde_json::Value,
) -> Result<(String, String, i32), String> {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"][key] = value;
    ctx.create(&b)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    Ok((b.id.clone(), b.cgroups_path(), pid))
}

/// Whether any hierarchy offers `file` at its root (a controller or feature the host has).
fn host_has(file: &str) -> bool {
    cgroups::mounts().iter().any(|m| m.join(file).exists())
}

fn memory_reservation_and_swap(ctx: &Ctx) -> TResult {
    let (limit, reservation, swap) = (67108864u64, 33554432u64, 134217728u64);
    let swap_ok = host_has("memory.memsw.limit_in_bytes") || host_has("memory.swap.max");
    let mut mem = json!({"limit": limit, "reservation": reservation});
    if swap_ok {
        mem["swap"] = json!(swap);
    }
    let (id, cg, _) = created_with(ctx, "memory", mem)?;
    let soft = cgroup_file(&cg, &["memory.soft_limit_in_bytes", "memory.low"]);
    ensure_eq!(
        soft,
        Some(reservation.to_string()),
        "memory reservation (soft_limit_in_bytes / low)"
    );
    if swap_ok {
        // v1 limits memory+swap; v2's memory.swap.max is the swap part alone.
        let v1 = cgroup_file(&cg, &["memory.memsw.limit_in_bytes"]);
        let v2 = cgroup_file(&cg, &["memory.swap.max"]);
        ensure!(
            v1 == Some(swap.to_string()) || v2 == Some((swap - limit).to_string()),
            "swap: memsw.limit_in_bytes {v1:?}, swap.max {v2:?}, want {swap} / {}",
            swap - limit
        );
    }
    Ok(ctx.destroy(&id)?)
}

fn cpu_shares_quota_period(ctx: &Ctx) -> TResult {
    let cpu = json!({"shares": 512, "quota": 50000, "period": 100000});
    let (id, cg, _) = created_with(ctx, "cpu", cpu)?;
    if let Some(shares) = cgroup_file(&cg, &["cpu.shares"]) {
        ensure_eq!(shares, "512", "cpu.shares");
        let quota = cgroup_file(&cg, &["cpu.cfs_quota_us"]);
        ensure_eq!(quota, Some("50000".into()), "cpu.cfs_quota_us");
        let period = cgroup_file(&cg, &["cpu.cfs_period_us"]);
        ensure_eq!(period, Some("100000".into()), "cpu.cfs_period_us");
    } else {
        // The runtimes' shares -> weight conversion: 1 + ((shares - 2) * 9999) / 262142.
        ensure_eq!(
            cgroup_file(&cg, &["cpu.weight"]),
            Some("20".into()),
            "cpu.weight"
        );
        let max = cgroup_file(&cg, &["cpu.max"]);
        ensure_eq!(max, Some("50000 100000".into()), "cpu.max");
    }
    Ok(ctx.destroy(&id)?)
}

/// The highest online cpu (so the set differs from the parent's on a multi-cpu host).
fn last_cpu() -> Result<String, String> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").ctx("online cpus")?;
    let last = online.trim().rsplit([',', '-']).next().unwrap_or("0");
    Ok(last.to_string())
}

fn cpuset_cpus_mems(ctx: &Ctx) -> TResult {
    let cpu = last_cpu()?;
    let (id, cg, pid) = created_with(ctx, "cpu", json!({"cpus": cpu, "mems": "0"}))?;
    let cpus = cgroup_file(&cg, &["cpuset.cpus"]);
    ensure_eq!(cpus, Some(cpu.clone()), "cpuset.cpus");
    ensure_eq!(
        cgroup_file(&cg, &["cpuset.mems"]),
        Some("0".into()),
        "cpuset.mems"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ctx("init status")?;
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    ensure_eq!(allowed, Some(cpu.as_str()), "Cpus_allowed_list of the init");
    Ok(ctx.destroy(&id)?)
}

/// Deny all, allow c 1:3 (null), deny c 1:5 (zero) last: /dev/null opens, /dev/zero gets
/// EPERM. (A runtime may add allow rules for the default devices, but not after the
/// config's own rules.)
fn devices_deny_listed_last(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]);
    b.args(&[
        "/bin/sh",
        "-c",
        "/probe open /dev/null w; /probe open /dev/zero r",
    ]);
    let out = ctx.run(&b, &[])?.check()?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    ensure!(lines.len() == 2, "expected two outcomes: {:?}", out.stdout);
    let null = parse_report(lines[0])?;
    ensure_eq!(null["ok"], true, "write to /dev/null ({null})");
    let zero = parse_report(lines[1])?;
    ensure_eq!(zero, json!({"ok": false, "errno": 1}), "open of /dev/zero");
    Ok(())
}

/// A deny rule for some access bits refuses any open that asks for one of them, as the v1
/// devices cgroup does (on v2 the runtime's eBPF program must decide the same way).
fn devices_deny_partial_access(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": true, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "w"},
    ]);
    b.args(&[
        "/bin/sh",
        "-c",
        "/probe open /dev/zero r; /probe open /dev/zero rw",
    ]);
    let out = ctx.run(&b, &[])?.check()?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    ensure!(lines.len() == 2, "expected two outcomes: {:?}", out.stdout);
    let read = parse_report(lines[0])?;
    ensure_eq!(read["ok"], true, "read-only open of /dev/zero ({read})");
    let rw = parse_report(lines[1])?;
    ensure_eq!(
        rw,
        json!({"ok": false, "errno": 1}),
        "read-write open of /dev/zero"
    );
    Ok(())
}

/// v1 devices.list shows the config's allow rules first, in the listed order (what
/// runtime-tools' linux_cgroups_devices reads); a runtime's own default rules come after.
fn devices_list_in_config_order(ctx: &Ctx) -> TResult {
    let rules = [
        ("c", 10, 229, "rwm"),
        ("b", 8, 20, "rw"),
        ("b", 10, 200, "r"),
    ];
    let mut list = vec![json!({"allow": false, "access": "rwm"})];
    for (t, ma, mi, acc) in rules {
        list.push(json!({"allow": true, "type": t, "major": ma, "minor": mi, "access": acc}));
    }
    if !host_has("devices.list") {
        crate::skip!("no v1 devices cgroup (pure cgroup v2: the rules are an eBPF program)");
    }
    let (id, cg, _) = created_with(ctx, "devices", json!(list))?;
    let got = cgroup_file(&cg, &["devices.list"]).unwrap_or_default();
    ctx.destroy(&id)?;
    let want: Vec<String> = rules
        .iter()
        .map(|(t, ma, mi, acc)| format!("{t} {ma}:{mi} {acc}"))
        .collect();
    let head: Vec<&str> = got.lines().take(want.len()).collect();
    ensure_eq!(head, want, "first lines of devices.list ({got:?})");
    Ok(())
}

/// Docker's `update` sends the whole resources object, 0 (and "") in every field it leaves
/// alone; runc reads those as "unchanged". Limits read back from the cgroup files.
fn update_docker_zeros_unchanged(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    b.config["linux"]["resources"]["cpu"] = json!({"shares": 512});
    ctx.create(&b)?;
    let (id, cg) = (b.id.clone(), b.cgroups_path());
    let update = |mem: u64, quota: u64| -> Result<crate::runtime::Out, String> {
        let body = json!({
            "memory": {"limit": mem, "reservation": 0, "kernel": 0},
            "cpu": {"shares": 0, "quota": quota, "period": 100000, "cpus": "", "mems": ""},
            "blockIO": {"weight": 0},
            "pids": {"limit": -1},
        });
        let res = ctx.path(&format!("res-{id}-{mem}.json"));
        std::fs::write(&res, body.to_string()).ctx("write resources")?;
        ctx.rt(&["update", "--resources", &res.to_string_lossy(), &id])
    };
    let read = || {
        (
            cgroup_file(&cg, &["memory.limit_in_bytes", "memory.max"]),
            cgroup_file(&cg, &["cpu.shares", "cpu.weight"]),
            cgroup_file(&cg, &["cpu.cfs_quota_us"]).or_else(|| cgroup_file(&cg, &["cpu.max"])),
        )
    };
    let weight = |v2: &str| {
        if cgroups::mounts().len() == 1 {
            v2
        } else {
            "512"
        }
        .to_string()
    };
    // `docker update --cpus 1`: memory.limit 0, shares 0.
    let first = update(0, 100000);
    let after_cpus = read();
    // `docker update --memory 128m`: quota 0 leaves the quota set before.
    let second = update(134217728, 0);
    let after_mem = read();
    ctx.destroy(&id)?;
    first?.check()?;
    second?.check()?;
    let quota = |v: &Option<String>| {
        v.as_deref()
            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
    };
    ensure_eq!(
        after_cpus.0,
        Some("67108864".into()),
        "memory limit after --cpus"
    );
    ensure_eq!(after_cpus.1, Some(weight("20")), "cpu shares after --cpus");
    ensure_eq!(
        quota(&after_cpus.2),
        Some("100000".into()),
        "cpu quota after --cpus"
    );
    ensure_eq!(
        after_mem.0,
        Some("134217728".into()),
        "memory limit after --memory"
    );
    ensure_eq!(after_mem.1, Some(weight("20")), "cpu shares after --memory");
    ensure_eq!(
        quota(&after_mem.2),
        Some("100000".into()),
        "cpu quota after --memory"
    );
    Ok(())
}
