//! config-linux.md "Control groups" controllers beyond linux_resources' memory, cpu and
//! devices: Block IO, Huge page limits, Network, RDMA, Unified, and the cpu (burst, idle,
//! realtime) and memory (kernel, useHierarchy) fields it leaves out. (`update` of them:
//! linux_resources_update.) Values are read as the kernel reports them from the host side
//! (v1 file first, v2 second) and, where noted, from inside the container. A field the host
//! cannot apply must be refused with one line, leaving nothing behind.
use super::linux_cgroups::cgroup_file;
use super::{refused, sleeper};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{cgroups, ensure, ensure_eq, skip};
use serde_json::{json, Value};
use std::path::Path;

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("linux_resources_controllers";
        blkio_weight, blkio_throttle, hugepage_bad_size, rdma_without_device,
        unified_pids, unified_bad_key, memory_kernel_ignored, memory_use_hierarchy);
    for (name, f, why) in [
        (
            "linux_resources_controllers::hugepage_limits",
            hugepage_limits as fn(&Ctx) -> TResult,
            "1.1.5 looks for hugetlb among the v1 hierarchies only (a hybrid host's is in the \
             cgroup2 mount), and on v2 does not set the reservation (rsvd) limit",
        ),
        (
            "linux_resources_controllers::cpu_burst",
            cpu_burst,
            "1.1.5 predates cpu.burst (runc 1.2) and ignores it",
        ),
        (
            "linux_resources_controllers::cpu_realtime",
            cpu_realtime,
            "1.1.5 accepts realtime limits on cgroup v2 and ignores them",
        ),
        (
            "linux_resources_controllers::unified_hybrid",
            unified_hybrid,
            "1.1.5 refuses unified on any host with v1 hierarchies, even for a file of the \
             hybrid cgroup2 mount",
        ),
        (
            "linux_resources_controllers::network",
            network,
            "1.1.5 ignores network on cgroup v2 instead of refusing it",
        ),
        (
            "linux_resources_controllers::cpu_idle",
            cpu_idle,
            "1.1.5 ignores cpu.idle",
        ),
    ] {
        let t = Test::new(name, f);
        // Deviations that only show where 1.1.5 meets cgroup v2.
        v.push(
            if name.ends_with("cpu_realtime") || name.ends_with("::network") {
                t.deviates_where("runc", why, pure_v2)
            } else {
                t.deviates("runc", why)
            },
        );
    }
    v
}

/// Creates a sleeper with `resources` as linux.resources; its id and cgroupsPath.
pub(super) fn created(ctx: &Ctx, resources: Value) -> Result<(String, String), String> {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"] = resources;
    ctx.create(&b)?.check()?;
    Ok((b.id.clone(), b.cgroups_path()))
}

/// Create of a sleeper with `resources` is refused over one of `words` ([`refused`]).
fn refuses_resources(ctx: &Ctx, resources: Value, words: &[&str]) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"] = resources;
    Ok(refused(ctx, &b, &ctx.try_create(&b, &[])?, words)?)
}

/// Whether any hierarchy offers `file` at its root.
pub(super) fn host_has(file: &str) -> bool {
    cgroups::mounts().iter().any(|m| m.join(file).exists())
}

use crate::cgroups::pure_v2;

/// A v2 controller the host's cgroup2 root offers (hybrid: only what is not in v1).
fn v2_controller(name: &str) -> bool {
    cgroups::mounts().iter().any(|m| {
        std::fs::read_to_string(m.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|x| x == name))
    })
}

/// major:minor of a block device the host has (a loop device is enough for throttling).
pub(super) fn block_dev() -> Result<String, String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ctx("list /sys/block")?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| (!n.starts_with("vd") && !n.starts_with("sd"), n.clone()));
    names
        .iter()
        .find_map(|n| std::fs::read_to_string(format!("/sys/block/{n}/dev")).ok())
        .map(|s| s.trim().to_string())
        .ok_or("no block device in /sys/block".into())
}

/// What the container reads from the first of `files` (relative to /sys/fs/cgroup) that it
/// sees under its cgroup mount.
fn inside(ctx: &Ctx, resources: Value, files: &[&str]) -> Result<String, String> {
    let mut b: Bundle = ctx.bundle()?;
    b.config["linux"]["resources"] = resources;
    // Its own namespace: the mount then shows the container's cgroup as its root, on v2 too.
    b.namespace("cgroup", None);
    b.mount(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                   "options": ["nosuid", "noexec", "nodev", "ro"]}),
    );
    let list: Vec<String> = files
        .iter()
        .map(|f| format!("/sys/fs/cgroup/{f}"))
        .collect();
    let script = format!(
        "for f in {}; do if [ -f $f ]; then cat $f; exit 0; fi; done; echo none",
        list.join(" ")
    );
    b.args(&["/bin/sh", "-c", &script]);
    let out = ctx.run(&b, &[])?.check()?;
    Ok(out.stdout.trim().to_string())
}

/// blockIO.weight: v1 blkio.weight (CFQ) or blkio.bfq.weight; v2 io.bfq.weight as is or
/// io.weight converted as runc does (1 + (w - 10) * 9999 / 990: 500 -> 4950).
/// Whether this kernel has a blkio weight at all: v1 shows blkio.weight (CFQ) or
/// blkio.bfq.weight (BFQ) in a child cgroup only when a scheduler provides it (a guest
/// with no block device has neither). Asked of a scratch cgroup, not of a runtime.
pub(super) fn v1_blkio_weight_missing() -> bool {
    let root = Path::new("/sys/fs/cgroup/blkio");
    if !root.is_dir() {
        return false;
    }
    let scratch = root.join(format!("runtime-tests-weight-{}", std::process::id()));
    let _ = std::fs::create_dir(&scratch);
    let has = ["blkio.weight", "blkio.bfq.weight"]
        .iter()
        .any(|f| scratch.join(f).exists());
    let _ = std::fs::remove_dir(&scratch);
    !has
}

fn blkio_weight(ctx: &Ctx) -> TResult {
    if v1_blkio_weight_missing() {
        skip!("this kernel has no blkio.weight or blkio.bfq.weight (no CFQ/BFQ)");
    }
    let (id, cg) = created(ctx, json!({"blockIO": {"weight": 500}}))?;
    let v1 = cgroup_file(&cg, &["blkio.weight", "blkio.bfq.weight"]);
    let bfq2 = cgroup_file(&cg, &["io.bfq.weight"]);
    let io2 = cgroup_file(&cg, &["io.weight"]);
    ctx.destroy(&id)?;
    let ok = v1
        .as_deref()
        .is_some_and(|v| v.split_whitespace().any(|x| x == "500"))
        || bfq2.as_deref().is_some_and(|v| v.contains("default 500"))
        || io2.as_deref().is_some_and(|v| v.contains("default 4950"));
    ensure!(
        ok,
        "weight 500: v1 {v1:?}, io.bfq.weight {bfq2:?}, io.weight {io2:?}"
    );
    Ok(())
}

/// Throttles: v1 blkio.throttle.*_device "M:m rate"; v2 one io.max line per device. Also
/// read from inside through the container's cgroup mount.
fn blkio_throttle(ctx: &Ctx) -> TResult {
    let dev = block_dev()?;
    let (ma, mi) = dev.split_once(':').ok_or(format!("bad dev {dev}"))?;
    let (ma, mi): (i64, i64) = (ma.parse().ctx("major")?, mi.parse().ctx("minor")?);
    let res = json!({"blockIO": {
        "throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 2000}]}});
    let (id, cg) = created(ctx, res.clone())?;
    let rbps = cgroup_file(&cg, &["blkio.throttle.read_bps_device"]);
    let wiops = cgroup_file(&cg, &["blkio.throttle.write_iops_device"]);
    let io_max = cgroup_file(&cg, &["io.max"]);
    ctx.destroy(&id)?;
    let v1_ok = rbps == Some(format!("{dev} 1048576")) && wiops == Some(format!("{dev} 2000"));
    let v2_ok = io_max == Some(format!("{dev} rbps=1048576 wbps=max riops=max wiops=2000"));
    ensure!(
        v1_ok || v2_ok,
        "read_bps {rbps:?}, write_iops {wiops:?}, io.max {io_max:?}"
    );
    let seen = inside(
        ctx,
        res,
        &[
            "blkio/blkio.throttle.read_bps_device",
            "blkio,blkcg/blkio.throttle.read_bps_device",
            "io.max",
        ],
    )?;
    ensure!(
        seen.contains(&format!("{dev} ")) && seen.contains("1048576"),
        "inside the container: {seen:?}"
    );
    Ok(())
}

/// hugepageLimits: hugetlb.<size>.limit_in_bytes (v1) or .max (v2, also the hybrid cgroup2
/// mount), and the reservation file (rsvd) when the kernel has one.
fn hugepage_limits(ctx: &Ctx) -> TResult {
    let limit = 4u64 << 21;
    let (id, cg) = created(
        ctx,
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": limit}]}),
    )?;
    let got = cgroup_file(&cg, &["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"]);
    let rsvd_file = ["hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.2MB.rsvd.max"];
    let rsvd = cgroup_file(&cg, &rsvd_file);
    ctx.destroy(&id)?;
    ensure_eq!(got, Some(limit.to_string()), "hugetlb 2MB limit");
    if rsvd.is_some() {
        ensure_eq!(rsvd, Some(limit.to_string()), "hugetlb 2MB rsvd limit");
    }
    Ok(())
}

/// A page size the kernel does not offer is refused (no hugetlb.3MB.* files exist).
fn hugepage_bad_size(ctx: &Ctx) -> TResult {
    refuses_resources(
        ctx,
        json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 6291456}]}),
        &["3MB", "hugetlb"],
    )
}

/// net_cls/net_prio: applied where a v1 hierarchy has them, else refused with one line
/// (pure v2, or a v1 host that does not mount them, like the development machines).
fn network(ctx: &Ctx) -> TResult {
    let res = json!({"network": {"classID": 1048577}});
    if host_has("net_cls.classid") {
        let (id, cg) = created(ctx, res)?;
        let got = cgroup_file(&cg, &["net_cls.classid"]);
        ctx.destroy(&id)?;
        ensure_eq!(got, Some("1048577".into()), "net_cls.classid");
        return Ok(());
    }
    refuses_resources(ctx, res, &["net_cls", "classID", "network"])
}

/// rdma.max names a device; there is no RDMA device here, so create fails either way
/// (no rdma controller, or the kernel refuses the unknown device) with one line.
fn rdma_without_device(ctx: &Ctx) -> TResult {
    refuses_resources(
        ctx,
        json!({"rdma": {"strata-none0": {"hcaHandles": 3}}}),
        &["rdma"],
    )
}

/// unified on pure v2: the file is written as given. Elsewhere pids is a v1 controller,
/// so "pids.max" has no cgroup2 home and is refused.
fn unified_pids(ctx: &Ctx) -> TResult {
    let res = json!({"unified": {"pids.max": "33"}});
    if !pure_v2() {
        return refuses_resources(ctx, res, &["pids.max", "unified"]);
    }
    let (id, cg) = created(ctx, res)?;
    let got = cgroup_file(&cg, &["pids.max"]);
    ctx.destroy(&id)?;
    ensure_eq!(got, Some("33".into()), "pids.max");
    Ok(())
}

/// Hybrid: a file of a controller the cgroup2 mount holds goes there.
fn unified_hybrid(ctx: &Ctx) -> TResult {
    if pure_v2() || !v2_controller("hugetlb") {
        skip!("not a hybrid host whose cgroup2 mount holds hugetlb");
    }
    let (id, cg) = created(ctx, json!({"unified": {"hugetlb.2MB.max": "4194304"}}))?;
    let got = cgroup_file(&cg, &["hugetlb.2MB.max"]);
    ctx.destroy(&id)?;
    ensure_eq!(got, Some("4194304".into()), "hugetlb.2MB.max via unified");
    Ok(())
}

/// A file no controller has is refused (config-linux.md: an error for a controller that is
/// not present).
fn unified_bad_key(ctx: &Ctx) -> TResult {
    refuses_resources(
        ctx,
        json!({"unified": {"nosuchcontroller.max": "1"}}),
        &["nosuchcontroller", "unified"],
    )
}

/// kernel / kernelTCP are deprecated: accepted and ignored (runc 1.1 and 1.2 warn and
/// ignore), the rest of memory still applies.
fn memory_kernel_ignored(ctx: &Ctx) -> TResult {
    let mem = json!({"limit": 67108864, "kernel": 33554432, "kernelTCP": 16777216});
    let (id, cg) = created(ctx, json!({"memory": mem}))?;
    let limit = cgroup_file(&cg, &["memory.limit_in_bytes", "memory.max"]);
    let kmem = cgroup_file(&cg, &["memory.kmem.limit_in_bytes"]);
    ctx.destroy(&id)?;
    ensure_eq!(limit, Some("67108864".into()), "memory limit");
    ensure!(
        kmem.as_deref() != Some("33554432"),
        "kmem limit was applied: {kmem:?}"
    );
    Ok(())
}

/// useHierarchy true: v1 memory.use_hierarchy is 1 (v2 is always hierarchical).
fn memory_use_hierarchy(ctx: &Ctx) -> TResult {
    let (id, cg) = created(ctx, json!({"memory": {"useHierarchy": true}}))?;
    let got = cgroup_file(&cg, &["memory.use_hierarchy"]);
    ctx.destroy(&id)?;
    if pure_v2() {
        // cgroup2 is always hierarchical: that the create succeeded is the check.
        ensure_eq!(got, None, "memory.use_hierarchy on cgroup2");
        return Ok(());
    }
    ensure_eq!(got, Some("1".into()), "memory.use_hierarchy");
    Ok(())
}

/// cpu.burst: v1 cpu.cfs_burst_us, v2 cpu.max.burst.
fn cpu_burst(ctx: &Ctx) -> TResult {
    if !host_has("cpu.cfs_burst_us") && !pure_v2() {
        skip!("the host's v1 cpu controller has no cpu.cfs_burst_us");
    }
    let cpu = json!({"quota": 50000, "period": 100000, "burst": 20000});
    let (id, cg) = created(ctx, json!({"cpu": cpu}))?;
    let got = cgroup_file(&cg, &["cpu.cfs_burst_us", "cpu.max.burst"]);
    ctx.destroy(&id)?;
    ensure_eq!(got, Some("20000".into()), "cpu burst");
    Ok(())
}

/// cpu.idle (Linux 5.15+, v1 and v2): 1 makes the group SCHED_IDLE.
fn cpu_idle(ctx: &Ctx) -> TResult {
    let (id, cg) = created(ctx, json!({"cpu": {"idle": 1}}))?;
    let got = cgroup_file(&cg, &["cpu.idle"]);
    ctx.destroy(&id)?;
    ensure_eq!(got, Some("1".into()), "cpu.idle");
    Ok(())
}

/// Realtime: v1 cpu.rt_period_us / cpu.rt_runtime_us (the parent needs a budget first, as
/// for any nested RT group); refused on v2, which has no RT group scheduling.
fn cpu_realtime(ctx: &Ctx) -> TResult {
    let cpu = json!({"realtimePeriod": 1000000, "realtimeRuntime": 10000});
    let parent = Path::new("/sys/fs/cgroup/cpu/runtime-tests");
    if !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        if pure_v2() {
            return refuses_resources(ctx, json!({"cpu": cpu}), &["realtime", "rt_"]);
        }
        skip!("the host's v1 cpu controller has no RT group scheduling (cpu.rt_runtime_us)");
    }
    std::fs::create_dir_all(parent).ctx("mkdir the cpu parent cgroup")?;
    let budget = parent.join("cpu.rt_runtime_us");
    if std::fs::read_to_string(&budget).is_ok_and(|s| s.trim() == "0") {
        std::fs::write(&budget, "100000").ctx("give the parent an RT budget")?;
    }
    let (id, cg) = created(ctx, json!({"cpu": cpu}))?;
    let rt = cgroup_file(&cg, &["cpu.rt_runtime_us"]);
    let period = cgroup_file(&cg, &["cpu.rt_period_us"]);
    ctx.destroy(&id)?;
    ensure_eq!(rt, Some("10000".into()), "cpu.rt_runtime_us");
    ensure_eq!(period, Some("1000000".into()), "cpu.rt_period_us");
    Ok(())
}
