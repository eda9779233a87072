//! Bad linux.resources (runtime.md "Errors"): negative or absurd values, bad device rules,
//! unknown unified keys, a cgroupsPath with `..`. `create` fails with one line and leaves
//! nothing (no state, cgroup or process).
use super::{refused, sleeper};
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use serde_json::{json, Value};

/// A case: its name, the words its error must name (any one, without case: strata's and
/// runc's wording), and linux.resources as given (the whole object).
type Case = (&'static str, &'static [&'static str], fn() -> Value);

const CASES: &[Case] = &[
    (
        "memory_limit_negative",
        &["memory.limit"],
        || json!({"memory": {"limit": -5}}),
    ),
    (
        "memory_swappiness_absurd",
        &["swappiness"],
        || json!({"memory": {"swappiness": 1000}}),
    ),
    (
        "cpu_quota_negative",
        &["quota"],
        || json!({"cpu": {"quota": -5}}),
    ),
    (
        "cpu_period_tiny",
        &["period"],
        || json!({"cpu": {"period": 10}}),
    ),
    ("cpu_idle_absurd", &["idle"], || json!({"cpu": {"idle": 7}})),
    (
        "cpu_cpus_absurd",
        &["cpus"],
        || json!({"cpu": {"cpus": "0-99999"}}),
    ),
    (
        "blkio_weight_absurd",
        &["weight"],
        || json!({"blockIO": {"weight": 5000}}),
    ),
    (
        "blkio_throttle_major_negative",
        &["throttle"],
        || json!({"blockIO": {"throttleReadBpsDevice": [{"major": -3, "minor": 0, "rate": 1}]}}),
    ),
    (
        "device_major_negative",
        &["-5"],
        || json!({"devices": [{"allow": true, "type": "c", "major": -5, "minor": 3, "access": "rwm"}]}),
    ),
    (
        "device_minor_absurd",
        &["8589934592"],
        || json!({"devices": [{"allow": true, "type": "c", "major": 1, "minor": 1_u64 << 33, "access": "rwm"}]}),
    ),
    (
        "device_type_bad",
        &["`x`", "device type"],
        || json!({"devices": [{"allow": true, "type": "x", "major": 1, "minor": 3, "access": "rwm"}]}),
    ),
    (
        "device_access_bad",
        &["rwx"],
        || json!({"devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx"}]}),
    ),
    (
        "hugepage_size_malformed",
        &["2M"],
        || json!({"hugepageLimits": [{"pageSize": "2M", "limit": 0}]}),
    ),
    (
        "unified_dotdot",
        &["../cgroup.procs"],
        || json!({"unified": {"../cgroup.procs": "0"}}),
    ),
    (
        "unified_slash",
        &["memory/memory.max"],
        || json!({"unified": {"memory/memory.max": "1"}}),
    ),
    (
        "unified_unknown_file",
        &["cgroup.nosuchfile"],
        || json!({"unified": {"cgroup.nosuchfile": "1"}}),
    ),
];

const RUNC_DEVIATIONS: &[(&str, &str)] = &[
    (
        "cpu_quota_negative",
        "accepts any negative quota as unlimited",
    ),
    ("cpu_idle_absurd", "1.1.5 ignores cpu.idle"),
    (
        "memory_swappiness_absurd",
        "on cgroup v2 ignores swappiness, whatever its value",
    ),
    (
        "device_major_negative",
        "on cgroup v2 accepts a negative major",
    ),
    ("cpu_cpus_absurd", "logs a warning line before the error"),
    (
        "hugepage_size_malformed",
        "on cgroup v1 fails for another reason: the hugetlb cgroup cannot be joined",
    ),
    (
        "unified_dotdot",
        "on cgroup v1 fails for another reason: no unified on cgroup v1",
    ),
    (
        "unified_slash",
        "on cgroup v1 fails for another reason: no unified on cgroup v1",
    ),
    (
        "unified_unknown_file",
        "on cgroup v1 fails for another reason: no unified on cgroup v1",
    ),
    ("device_access_bad", "accepts unknown access letters"),
    (
        "cgroups_path_dotdot",
        "cleans the path lexically and creates the cgroup outside /runtime-tests",
    ),
];

pub fn tests() -> Vec<Test> {
    let mut v: Vec<Test> = CASES
        .iter()
        .map(|&(name, words, res)| {
            Test::new(&format!("linux_resources_bad::{name}"), move |ctx| {
                refuses_resources(ctx, res(), None, words)
            })
        })
        .collect();
    v.push(Test::new(
        "linux_resources_bad::cgroups_path_dotdot",
        |ctx| {
            refuses_resources(
                ctx,
                json!({}),
                Some("/runtime-tests/../strata-escape"),
                &[".."],
            )
        },
    ));
    v.into_iter()
        .map(|t| {
            let short = t
                .name
                .trim_start_matches("linux_resources_bad::")
                .to_string();
            match RUNC_DEVIATIONS.iter().find(|(n, _)| *n == short) {
                Some((_, why)) if why.starts_with("on cgroup v2") => {
                    t.deviates_where("runc", why, crate::cgroups::pure_v2)
                }
                Some((_, why)) if why.starts_with("on cgroup v1") => {
                    t.deviates_where("runc", why, not_pure_v2)
                }
                Some((_, why)) => t.deviates("runc", why),
                None => t,
            }
        })
        .collect()
}

/// Create of a sleeper with `resources` (and `cgroups_path`) is refused over one of `words`
/// ([`refused`]).
fn refuses_resources(
    ctx: &Ctx,
    resources: Value,
    cgroups_path: Option<&str>,
    words: &[&str],
) -> TResult {
    let (mut b, _) = sleeper(ctx)?;
    b.config["linux"]["resources"] = resources;
    if let Some(p) = cgroups_path {
        b.config["linux"]["cgroupsPath"] = json!(p);
    }
    refused(ctx, &b, &ctx.try_create(&b, &[])?, words)?;
    // The escape target of a `..` path must not exist either.
    ctx.ensure_clean(None, "/strata-escape")?;
    Ok(())
}

/// A host with any cgroup v1 hierarchy (hybrid or v1), where runc 1.1.5 refuses some cases
/// for reasons of its own.
fn not_pure_v2() -> bool {
    !crate::cgroups::pure_v2()
}
