//! config.md "Process": scheduler, ioPriority, execCPUAffinity; config-linux.md personality
//! and memoryPolicy. Each is checked from inside the container with `probe sched` (what the
//! kernel reports), and each invalid value must fail `create` (or `exec`) with one line naming
//! the field and leave nothing behind.
use super::{one_line_error, refused, sleeper, state_pid, wait_started};
use crate::bundle::Bundle;
use crate::ctx::{parse_report, Ctx};
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, skip};
use serde_json::{json, Value};

/// runc 1.1.5 predates scheduler, ioPriority and execCPUAffinity (runc 1.2) and memoryPolicy,
/// and, as observed here, ignores linux.personality too: it accepts every one of these fields,
/// valid or not, without a word, and applies none.
const RUNC_IGNORES: &str = "runc 1.1.5 ignores this field: the process keeps the kernel's default";
const RUNC_ACCEPTS: &str =
    "runc 1.1.5 ignores this field, so it accepts any value without an error";

pub fn tests() -> Vec<Test> {
    let mut v = vec![];
    let new = [
        (
            "personality_linux32",
            personality_linux32 as fn(&Ctx) -> TResult,
        ),
        ("personality_linux32_exec", personality_linux32_exec),
        ("scheduler_batch_nice", scheduler_batch_nice),
        ("scheduler_fifo_reset_on_fork", scheduler_fifo_reset_on_fork),
        ("scheduler_deadline", scheduler_deadline),
        ("scheduler_exec_process_json", scheduler_exec_process_json),
        ("io_priority", io_priority),
        ("exec_cpu_affinity_final", exec_cpu_affinity_final),
        (
            "exec_cpu_affinity_process_json",
            exec_cpu_affinity_process_json,
        ),
        ("memory_policy_bind", memory_policy_bind),
    ];
    for (name, f) in new {
        let t = Test::new(&format!("config_process_sched::{name}"), f);
        v.push(t.deviates("runc", RUNC_IGNORES));
    }
    v.push(
        Test::new(
            "config_process_sched::exec_bad_scheduler_rejected",
            exec_bad_scheduler_rejected,
        )
        .deviates("runc", RUNC_ACCEPTS),
    );
    for &(name, needle, edit) in CASES {
        let t = Test::new(&format!("config_process_sched::bad_{name}"), move |ctx| {
            refuses_edit(ctx, needle, edit)
        });
        v.push(t.deviates("runc", RUNC_ACCEPTS));
    }
    v
}

/// `probe sched` as the container's process.
fn sched(ctx: &Ctx, b: &mut Bundle) -> Result<Value, String> {
    b.args(&["/probe", "sched"]);
    parse_report(&ctx.run(b, &[])?.check()?.stdout)
}

/// `exec [FLAGS] ID probe sched` in a started sleeper.
fn exec_sched(ctx: &Ctx, id: &str, flags: &[&str]) -> Result<Value, String> {
    let mut args = vec!["exec"];
    args.extend_from_slice(flags);
    args.push(id);
    if flags.is_empty() {
        args.extend_from_slice(&["/probe", "sched"]);
    }
    parse_report(&ctx.rt(&args)?.check()?.stdout)
}

fn started(ctx: &Ctx, edit: impl Fn(&mut Bundle)) -> Result<(Bundle, i32), String> {
    let (mut b, out) = sleeper(ctx)?;
    edit(&mut b);
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let pid = state_pid(&ctx.state(&b.id)?)?;
    Ok((b, pid))
}

/// A process.json for `exec --process` running `probe sched`.
fn process_json(ctx: &Ctx, extra: Value) -> Result<String, String> {
    let mut p = json!({"user": {"uid": 0, "gid": 0}, "args": ["/probe", "sched"], "cwd": "/",
        "env": ["PATH=/bin", format!("RUNTIME_TESTS_TAG={}", ctx.tag)]});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let path = ctx.path(&format!("process-{}.json", ctx.new_id()));
    std::fs::write(&path, p.to_string()).ctx("write process.json")?;
    Ok(path.to_string_lossy().into_owned())
}

fn scheduler_batch_nice(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(s["policy"], 3, "policy (SCHED_BATCH): {s}");
    ensure_eq!(s["nice"], 7, "nice: {s}");
    Ok(())
}

/// config.md spells the flag SCHED_FLAG_RESET_ON_FORK; sched_getattr reports it back.
/// With real-time group scheduling (cgroup v1 `cpu.rt_runtime_us`) a new cpu cgroup has no
/// real-time budget, so SCHED_FIFO needs linux.resources.cpu.realtimeRuntime, which is not
/// under test here.
fn scheduler_fifo_reset_on_fork(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    // With real-time group scheduling (v1), a new cpu cgroup has no RT budget: give the
    // shared parent one, and the container's cgroup its own through linux.resources.
    let parent = std::path::Path::new("/sys/fs/cgroup/cpu/runtime-tests");
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        std::fs::create_dir_all(parent).ctx("mkdir the cpu parent cgroup")?;
        let budget = parent.join("cpu.rt_runtime_us");
        if std::fs::read_to_string(&budget).is_ok_and(|s| s.trim() == "0") {
            std::fs::write(&budget, "100000").ctx("give the parent an RT budget")?;
        }
        b.config["linux"]["resources"]["cpu"] =
            json!({"realtimePeriod": 1000000, "realtimeRuntime": 10000});
    }
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(s["policy"], 1, "policy (SCHED_FIFO): {s}");
    ensure_eq!(s["priority"], 10, "priority: {s}");
    ensure!(
        s["flags"].as_u64().unwrap_or(0) & 1 == 1,
        "SCHED_FLAG_RESET_ON_FORK not set: {s}"
    );
    Ok(())
}

fn scheduler_deadline(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE",
        "runtime": 2000000, "deadline": 10000000, "period": 20000000});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(s["policy"], 6, "policy (SCHED_DEADLINE): {s}");
    ensure_eq!(
        [&s["runtime"], &s["deadline"], &s["period"]],
        [&json!(2000000), &json!(10000000), &json!(20000000)],
        "runtime, deadline, period: {s}"
    );
    Ok(())
}

/// An exec'd process gets the scheduler of its own process.json.
fn scheduler_exec_process_json(ctx: &Ctx) -> TResult {
    let (b, _) = started(ctx, |_| {})?;
    let p = process_json(ctx, json!({"scheduler": {"policy": "SCHED_IDLE"}}))?;
    let s = exec_sched(ctx, &b.id, &["--process", &p])?;
    ensure_eq!(s["policy"], 5, "policy (SCHED_IDLE): {s}");
    Ok(ctx.destroy(&b.id)?)
}

fn io_priority(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(s["ioprio_class"], 2, "class (IOPRIO_CLASS_BE): {s}");
    ensure_eq!(s["ioprio_level"], 6, "priority: {s}");
    Ok(())
}

/// config-linux.md: LINUX32 "will set the uname system call to show a 32 bit CPU type".
fn personality_linux32(ctx: &Ctx) -> TResult {
    if std::env::consts::ARCH != "x86_64" {
        skip!("the i686 check is for x86_64 hosts");
    }
    let mut b = ctx.bundle()?;
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(
        s["personality"].as_i64().map(|p| p & 0xff),
        Some(8),
        "persona: {s}"
    );
    ensure_eq!(s["machine"], "i686", "uname -m: {s}");
    Ok(())
}

/// The personality is the container's: an exec'd process runs under it too.
fn personality_linux32_exec(ctx: &Ctx) -> TResult {
    if std::env::consts::ARCH != "x86_64" {
        skip!("the i686 check is for x86_64 hosts");
    }
    let (b, _) = started(ctx, |b| {
        b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    })?;
    let s = exec_sched(ctx, &b.id, &[])?;
    ensure_eq!(s["machine"], "i686", "uname -m in exec: {s}");
    Ok(ctx.destroy(&b.id)?)
}

fn host_cpus() -> Vec<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut v = vec![];
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            v.extend(a..=b);
        }
    }
    v
}

fn cpus_allowed(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// config.md: `final` pins exec'd processes; "not applicable to the container's init".
fn exec_cpu_affinity_final(ctx: &Ctx) -> TResult {
    let cpus = host_cpus();
    let Some(last) = cpus.last().filter(|_| cpus.len() >= 2) else {
        skip!("needs two online CPUs");
    };
    let want = last.to_string();
    let (b, pid) = started(ctx, |b| {
        b.config["process"]["execCPUAffinity"] = json!({"final": want});
    })?;
    ensure!(
        cpus_allowed(pid) != want,
        "the init was pinned to {want} too"
    );
    let s = exec_sched(ctx, &b.id, &[])?;
    ensure_eq!(
        s["cpus_allowed"],
        want,
        "exec'd process's Cpus_allowed_list: {s}"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// `initial` and `final` from `exec --process`; `final` wins inside.
fn exec_cpu_affinity_process_json(ctx: &Ctx) -> TResult {
    let cpus = host_cpus();
    if cpus.len() < 2 {
        skip!("needs two online CPUs");
    }
    let (first, last) = (cpus[0].to_string(), cpus[cpus.len() - 1].to_string());
    let (b, _) = started(ctx, |_| {})?;
    let p = process_json(
        ctx,
        json!({"execCPUAffinity": {"initial": first, "final": last}}),
    )?;
    let s = exec_sched(ctx, &b.id, &["--process", &p])?;
    ensure_eq!(
        s["cpus_allowed"],
        last,
        "exec'd process's Cpus_allowed_list: {s}"
    );
    Ok(ctx.destroy(&b.id)?)
}

fn memory_policy_bind(ctx: &Ctx) -> TResult {
    if !std::path::Path::new("/sys/devices/system/node/node0").exists() {
        skip!("the host kernel has no NUMA support");
    }
    let mut b = ctx.bundle()?;
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    let s = sched(ctx, &mut b)?;
    ensure_eq!(s["mempolicy_mode"], 2, "mode (MPOL_BIND): {s}");
    ensure_eq!(s["mempolicy_nodes"], 1, "nodemask: {s}");
    Ok(())
}

/// An invalid scheduler in `exec --process` fails the exec in one line and leaves the
/// container as it was.
fn exec_bad_scheduler_rejected(ctx: &Ctx) -> TResult {
    let (b, pid) = started(ctx, |_| {})?;
    let p = process_json(
        ctx,
        json!({"scheduler": {"policy": "SCHED_OTHER", "nice": 99}}),
    )?;
    let out = ctx.rt(&["exec", "--process", &p, &b.id])?;
    one_line_error(&out)?;
    ensure!(
        out.stderr.contains("nice"),
        "error does not name the field: {}",
        out.describe()
    );
    let others: Vec<i32> = crate::sys::tagged_pids(&ctx.tag)
        .into_iter()
        .filter(|x| *x != pid)
        .collect();
    ensure_eq!(others, Vec::<i32>::new(), "processes besides the init");
    ensure_eq!(ctx.status(&b.id)?, "running", "container status");
    Ok(ctx.destroy(&b.id)?)
}

type Edit = fn(&mut Bundle);

/// (name, text the error must contain, edit); runc 1.1.5 accepts every one (RUNC_ACCEPTS).
const CASES: &[(&str, &str, Edit)] = &[
    (
        "scheduler_policy_unknown",
        "process.scheduler.policy",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_BOGUS"});
        },
    ),
    (
        "scheduler_policy_missing",
        "process.scheduler.policy",
        |b| {
            b.config["process"]["scheduler"] = json!({"nice": 1});
        },
    ),
    ("scheduler_flag_unknown", "process.scheduler.flags", |b| {
        b.config["process"]["scheduler"] =
            json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_BOGUS"]});
    }),
    (
        "scheduler_nice_out_of_range",
        "process.scheduler.nice",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 20});
        },
    ),
    (
        "scheduler_fifo_priority_zero",
        "process.scheduler.priority",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_FIFO"});
        },
    ),
    (
        "scheduler_rr_priority_100",
        "process.scheduler.priority",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 100});
        },
    ),
    (
        "scheduler_other_with_priority",
        "process.scheduler.priority",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "priority": 5});
        },
    ),
    (
        "scheduler_deadline_fields_on_other",
        "process.scheduler.runtime",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "runtime": 1000000});
        },
    ),
    (
        "scheduler_deadline_runtime_above_deadline",
        "process.scheduler.deadline",
        |b| {
            b.config["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE",
            "runtime": 2000000, "deadline": 1000000, "period": 3000000});
        },
    ),
    // Listed by config.md but never merged into Linux: the kernel refuses it in the container
    // process, and create must still fail cleanly.
    ("scheduler_iso_unsupported_by_kernel", "SCHED_ISO", |b| {
        b.config["process"]["scheduler"] = json!({"policy": "SCHED_ISO"});
    }),
    (
        "io_priority_class_unknown",
        "process.ioPriority.class",
        |b| {
            b.config["process"]["ioPriority"] =
                json!({"class": "IOPRIO_CLASS_BOGUS", "priority": 0});
        },
    ),
    (
        "io_priority_out_of_range",
        "process.ioPriority.priority",
        |b| {
            b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 8});
        },
    ),
    ("personality_domain_unknown", "personality", |b| {
        b.config["linux"]["personality"] = json!({"domain": "LINUX64"});
    }),
    ("personality_flags", "linux.personality.flags", |b| {
        b.config["linux"]["personality"] =
            json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]});
    }),
    (
        "exec_cpu_affinity_syntax",
        "process.execCPUAffinity.final",
        |b| {
            b.config["process"]["execCPUAffinity"] = json!({"final": "0-"});
        },
    ),
    (
        "exec_cpu_affinity_cpu_absent",
        "process.execCPUAffinity.initial",
        |b| {
            b.config["process"]["execCPUAffinity"] = json!({"initial": "4095"});
        },
    ),
    (
        "memory_policy_mode_unknown",
        "linux.memoryPolicy.mode",
        |b| {
            b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BOGUS"});
        },
    ),
    (
        "memory_policy_bind_without_nodes",
        "linux.memoryPolicy.nodes",
        |b| {
            b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND"});
        },
    ),
    (
        "memory_policy_node_absent",
        "linux.memoryPolicy.nodes",
        |b| {
            b.config["linux"]["memoryPolicy"] =
                json!({"mode": "MPOL_INTERLEAVE", "nodes": "0,1000"});
        },
    ),
];

/// Create of a bundle changed by `edit` is refused over `needle` ([`refused`]).
fn refuses_edit(ctx: &Ctx, needle: &str, edit: Edit) -> TResult {
    let mut b = ctx.bundle()?;
    edit(&mut b);
    Ok(refused(ctx, &b, &ctx.try_create(&b, &[])?, &[needle])?)
}
