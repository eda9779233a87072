//! config.md "Process": args, env, cwd, user, capabilities, noNewPrivileges, rlimits, umask,
//! oomScoreAdj.
use super::{cap_mask, cap_names, host_cap_bnd, rep_caps, CAPS};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq, skip};
use serde_json::{json, Value};

pub fn tests() -> Vec<Test> {
    let mut v = crate::tests!("config_process";
        args, env, cwd, user, capabilities_root_exact, capabilities_user_exact,
        capabilities_all_grantable, no_new_privileges, rlimits, umask, oom_score_adj);
    // runc 1.1.5 fails the whole create with "unable to apply caps: operation not permitted"
    // when a listed capability is outside its own bounding set; config.md says such values
    // "MUST be logged as a warning" and runtimes "SHOULD NOT fail".
    let name = "config_process::capabilities_ungrantable_not_fatal";
    let why =
        "fails instead of warning about capabilities it cannot grant (config.md capabilities)";
    v.push(Test::new(name, capabilities_ungrantable_not_fatal).deviates("runc", why));
    v
}

fn args(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let want = ["/probe", "report", "two words", "", "x=y"];
    b.args(&want);
    let out = ctx.run(&b, &[])?.check()?;
    let rep = crate::ctx::parse_report(&out.stdout)?;
    ensure_eq!(rep["args"], json!(want), "argv");
    Ok(())
}

fn env(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let vars = ["FOO=bar", "EMPTY=", "WITH_EQUALS=a=b", "SPACES=a b  c"];
    if let Some(env) = b.config["process"]["env"].as_array_mut() {
        env.extend(vars.iter().map(|v| json!(v)));
    }
    let rep = ctx.report(&mut b)?;
    let got: Vec<&str> = rep["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for v in vars
        .iter()
        .chain(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"].iter())
    {
        ensure!(
            got.contains(v),
            "{v:?} missing from the environment {got:?}"
        );
    }
    Ok(())
}

fn cwd(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["cwd"] = json!("/tmp");
    ensure_eq!(ctx.report(&mut b)?["cwd"], "/tmp", "cwd");
    Ok(())
}

fn user(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]});
    let rep = ctx.report(&mut b)?;
    for (k, v) in [("uid", 1000), ("euid", 1000), ("gid", 1001), ("egid", 1001)] {
        ensure_eq!(rep[k], v, "{k}");
    }
    let mut groups: Vec<u64> = rep["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    groups.sort();
    ensure_eq!(groups, vec![10, 20], "supplementary groups");
    Ok(())
}

fn set_caps(b: &mut Bundle, bnd: &[&str], eff: &[&str], perm: &[&str], inh: &[&str], amb: &[&str]) {
    b.config["process"]["capabilities"] = json!({"bounding": bnd, "effective": eff, "permitted": perm, "inheritable": inh, "ambient": amb});
}

/// Compares the five sets with what the kernel reports (names in the message, not hex).
fn check_caps(rep: &Value, want: [(&str, u64); 5]) -> TResult {
    for (key, mask) in want {
        let got = rep_caps(rep, key)?;
        ensure!(
            got == mask,
            "{key}: got {:?}, want {:?}",
            cap_names(got),
            cap_names(mask)
        );
    }
    Ok(())
}

/// As uid 0 execve makes P' = I | bounding (and E' = P'), so an exact match after exec is only
/// defined when effective = permitted = bounding; inheritable and ambient stay as given.
fn capabilities_root_exact(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let bnd = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
        "CAP_SETGID",
    ];
    set_caps(&mut b, &bnd, &bnd, &bnd, &["CAP_KILL"], &["CAP_KILL"]);
    let rep = ctx.report(&mut b)?;
    let (all, kill) = (cap_mask(&bnd), cap_mask(&["CAP_KILL"]));
    check_caps(
        &rep,
        [
            ("CapBnd", all),
            ("CapPrm", all),
            ("CapEff", all),
            ("CapInh", kill),
            ("CapAmb", kill),
        ],
    )
}

/// As a non-root user only ambient capabilities survive execve (P' = E' = ambient).
fn capabilities_user_exact(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let bnd = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    set_caps(&mut b, &bnd, &kept, &kept, &kept, &kept);
    let rep = ctx.report(&mut b)?;
    let k = cap_mask(&kept);
    check_caps(
        &rep,
        [
            ("CapBnd", cap_mask(&bnd)),
            ("CapPrm", k),
            ("CapEff", k),
            ("CapInh", k),
            ("CapAmb", k),
        ],
    )
}

/// Every capability the harness itself holds (machine.md: this host lacks CAP_SYS_RESOURCE
/// in its bounding set, so it is left out here).
fn capabilities_all_grantable(ctx: &Ctx) -> TResult {
    let host = host_cap_bnd();
    let names = cap_names(host);
    let mut b = ctx.bundle()?;
    set_caps(&mut b, &names, &names, &names, &names, &names);
    let rep = ctx.report(&mut b)?;
    check_caps(
        &rep,
        [
            ("CapBnd", host),
            ("CapPrm", host),
            ("CapEff", host),
            ("CapInh", host),
            ("CapAmb", host),
        ],
    )
}

/// All 41 capabilities requested; those outside the harness's bounding set cannot be granted
/// and must only cost a warning.
fn capabilities_ungrantable_not_fatal(ctx: &Ctx) -> TResult {
    let host = host_cap_bnd();
    let missing = cap_names(!host & cap_mask(&CAPS));
    if missing.is_empty() {
        skip!("every capability is grantable on this host");
    }
    let mut b = ctx.bundle()?;
    set_caps(&mut b, &CAPS, &CAPS, &CAPS, &[], &[]);
    let rep = ctx.report(&mut b)?;
    ensure!(
        rep_caps(&rep, "CapBnd")? == host,
        "CapBnd {:?}",
        cap_names(rep_caps(&rep, "CapBnd")?)
    );
    Ok(())
}

fn no_new_privileges(ctx: &Ctx) -> TResult {
    for (set, want) in [(true, "1"), (false, "0")] {
        let mut b = ctx.bundle()?;
        b.config["process"]["noNewPrivileges"] = json!(set);
        ensure_eq!(
            ctx.report(&mut b)?["status"]["NoNewPrivs"],
            want,
            "NoNewPrivs with noNewPrivileges={set}"
        );
    }
    Ok(())
}

fn rlimits(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]);
    let rep = ctx.report(&mut b)?;
    ensure_eq!(
        rep["rlimits"]["RLIMIT_NOFILE"],
        json!([512, 1000]),
        "RLIMIT_NOFILE"
    );
    ensure_eq!(
        rep["rlimits"]["RLIMIT_CORE"],
        json!([0, 4096]),
        "RLIMIT_CORE"
    );
    ensure_eq!(
        rep["rlimits"]["RLIMIT_NPROC"],
        json!([300, 400]),
        "RLIMIT_NPROC"
    );
    Ok(())
}

fn umask(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["user"]["umask"] = json!(0o027);
    ensure_eq!(ctx.report(&mut b)?["umask"], 0o027, "umask");
    Ok(())
}

fn oom_score_adj(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["process"]["oomScoreAdj"] = json!(123);
    ensure_eq!(ctx.report(&mut b)?["oom_score_adj"], "123", "oom_score_adj");
    Ok(())
}
