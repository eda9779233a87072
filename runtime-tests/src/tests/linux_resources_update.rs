//! `update` of linux.resources (runc's flags and `--resources`), read back as the kernel
//! reports it from the host side (v1 file first, v2 second): the blockIO weight and
//! throttles, device rules, memory and swap raised together, and memory.checkBeforeUpdate.
//! (The zeros Docker sends: linux_resources.)
use super::linux_cgroups::cgroup_file;
use super::linux_resources_controllers::{block_dev, created, host_has, v1_blkio_weight_missing};
use super::{one_line_error, sleeper};
use crate::cgroups::pure_v2;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("linux_resources_update";
        update_blkio_weight_flag, update_memory_and_swap_up);
    for (name, f, why) in [
        (
            "linux_resources_update::check_before_update",
            check_before_update as fn(&Ctx) -> TResult,
            "1.1.5 predates checkBeforeUpdate: on v2 it lowers the limit; on v1 the kernel \
             refuses but runc logs a warning line before the error",
        ),
        (
            "linux_resources_update::update_throttle",
            update_throttle,
            "1.1.5 `update` applies only the blockIO weight, not throttles",
        ),
        (
            "linux_resources_update::update_devices",
            update_devices,
            "1.1.5 `update` does not apply linux.resources.devices",
        ),
    ] {
        v.push(Test::new(name, f).deviates("runc", why));
    }
    v
}

/// checkBeforeUpdate: `update` to a limit below the current usage fails with one line and
/// leaves the old limit (v1's kernel refuses too; v2 would OOM-kill without the check).
fn check_before_update(ctx: &Ctx) -> TResult {
    let (id, cg) = created(ctx, json!({"memory": {"limit": 67108864}}))?;
    ctx.start(&id)?.check()?;
    let res = ctx.path(&format!("res-{id}.json"));
    let body = json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}});
    std::fs::write(&res, body.to_string()).ctx("write resources")?;
    let out = ctx.rt(&["update", "--resources", &res.to_string_lossy(), &id])?;
    let limit = cgroup_file(&cg, &["memory.limit_in_bytes", "memory.max"]);
    let status = ctx.status(&id);
    ctx.destroy(&id)?;
    one_line_error(&out)?;
    ensure_eq!(
        limit,
        Some("67108864".into()),
        "memory limit after the refused update"
    );
    ensure_eq!(status?, "running", "container after the refused update");
    Ok(())
}

/// `update --blkio-weight`.
fn update_blkio_weight_flag(ctx: &Ctx) -> TResult {
    if v1_blkio_weight_missing() {
        skip!("this kernel has no blkio.weight or blkio.bfq.weight (no CFQ/BFQ)");
    }
    let (id, cg) = created(ctx, json!({}))?;
    let out = ctx.rt(&["update", "--blkio-weight", "300", &id])?;
    let v1 = cgroup_file(&cg, &["blkio.weight", "blkio.bfq.weight"]);
    let v2 = cgroup_file(&cg, &["io.bfq.weight", "io.weight"]);
    ctx.destroy(&id)?;
    out.check()?;
    // v2 io.weight: 1 + (300 - 10) * 9999 / 990 = 2930.
    let ok = v1
        .as_deref()
        .is_some_and(|v| v.split_whitespace().any(|x| x == "300"))
        || v2
            .as_deref()
            .is_some_and(|v| v.contains("default 300") || v.contains("default 2930"));
    ensure!(ok, "after update: v1 {v1:?}, v2 {v2:?}");
    Ok(())
}

/// `update --resources` with a throttle the container did not have.
fn update_throttle(ctx: &Ctx) -> TResult {
    let dev = block_dev()?;
    let (ma, mi) = dev.split_once(':').ok_or(format!("bad dev {dev}"))?;
    let (id, cg) = created(ctx, json!({}))?;
    let res = ctx.path(&format!("res-{id}.json"));
    let body = json!({"blockIO": {"throttleWriteBpsDevice":
        [{"major": ma.parse::<i64>().ctx("major")?, "minor": mi.parse::<i64>().ctx("minor")?,
          "rate": 2097152}]}});
    std::fs::write(&res, body.to_string()).ctx("write resources")?;
    let out = ctx.rt(&["update", "--resources", &res.to_string_lossy(), &id])?;
    let v1 = cgroup_file(&cg, &["blkio.throttle.write_bps_device"]);
    let v2 = cgroup_file(&cg, &["io.max"]);
    ctx.destroy(&id)?;
    out.check()?;
    let ok = v1 == Some(format!("{dev} 2097152"))
        || v2
            .as_deref()
            .is_some_and(|v| v.contains(&format!("{dev} rbps=max wbps=2097152")));
    ensure!(ok, "after update: v1 {v1:?}, io.max {v2:?}");
    Ok(())
}

/// `update --resources` with device rules: /dev/zero, denied at create, opens afterwards
/// (v1 devices cgroup, v2 the replaced eBPF filter).
fn update_devices(ctx: &Ctx) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rw"},
    ]);
    ctx.create(&b)?.check()?;
    ctx.start(&b.id)?.check()?;
    let open = |ctx: &Ctx| -> Result<Value, String> {
        let out = ctx
            .rt(&["exec", &b.id, "/probe", "open", "/dev/zero", "r"])?
            .check()?;
        parse_report(&out.stdout)
    };
    let before = open(ctx);
    let res = ctx.path(&format!("res-{}.json", b.id));
    let body = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rw"}]});
    std::fs::write(&res, body.to_string()).ctx("write resources")?;
    let upd = ctx.rt(&["update", "--resources", &res.to_string_lossy(), &b.id]);
    let after = open(ctx);
    ctx.destroy(&b.id)?;
    ensure_eq!(
        before?,
        json!({"ok": false, "errno": 1}),
        "/dev/zero before update"
    );
    upd?.check()?;
    ensure_eq!(after?["ok"], true, "/dev/zero after update");
    Ok(())
}

/// `update --memory --memory-swap` raising both past the current swap limit (v1 needs the
/// memsw limit written first: the kernel keeps limit <= memsw at every step).
fn update_memory_and_swap_up(ctx: &Ctx) -> TResult {
    if !host_has("memory.memsw.limit_in_bytes") && !pure_v2() {
        skip!("the host's v1 memory controller has no swap accounting (memory.memsw.*)");
    }
    let mem = json!({"limit": 67108864, "swap": 134217728});
    let (id, cg) = created(ctx, json!({"memory": mem}))?;
    let out = ctx.rt(&["update", "--memory", "256m", "--memory-swap", "512m", &id])?;
    let limit = cgroup_file(&cg, &["memory.limit_in_bytes", "memory.max"]);
    let v1 = cgroup_file(&cg, &["memory.memsw.limit_in_bytes"]);
    let v2 = cgroup_file(&cg, &["memory.swap.max"]);
    ctx.destroy(&id)?;
    out.check()?;
    ensure_eq!(limit, Some((256u64 << 20).to_string()), "memory limit");
    ensure!(
        v1 == Some((512u64 << 20).to_string()) || v2 == Some((256u64 << 20).to_string()),
        "swap after update: memsw {v1:?}, swap.max {v2:?}"
    );
    Ok(())
}
