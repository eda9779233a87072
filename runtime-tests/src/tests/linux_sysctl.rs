//! config-linux.md "Sysctl": namespaced keys are set in the container's namespaces only; keys
//! that are not namespaced, or whose namespace is the host's, are refused (security.md bad
//! input: "sysctls that are not namespaced or would reach the host").
//!
//! The harness shares the host's ipc and network namespaces, so host values are read
//! directly. Keys a runtime should refuse are given the host's current value, so a runtime
//! that wrongly applies them changes nothing; a namespaced key that leaks to the host is
//! put back.
use super::refused;
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    crate::tests!("linux_sysctl";
        ipc_key_in_new_ipc_ns, net_keys_in_new_net_ns, not_namespaced_refused,
        host_namespace_refused)
}

fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

fn host_value(key: &str) -> Result<String, String> {
    let p = proc_path(key);
    Ok(std::fs::read_to_string(&p).ctx(&p)?.trim().to_string())
}

/// Runs a container that prints each key's value, one per line, and checks them; then checks
/// (and repairs) the host's values.
fn applied_inside_only(ctx: &Ctx, b: &mut Bundle, keys: &[(&str, &str)]) -> TResult {
    let before: Vec<String> = keys
        .iter()
        .map(|(k, _)| host_value(k))
        .collect::<Result<_, _>>()?;
    let script: Vec<String> = keys
        .iter()
        .map(|(k, _)| format!("cat {}", proc_path(k)))
        .collect();
    b.config["linux"]["sysctl"] = keys
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    b.args(&["/bin/sh", "-c", &script.join("; ")]);
    let out = ctx.run(b, &[]);
    let mut leaked = vec![];
    for ((key, _), old) in keys.iter().zip(&before) {
        if host_value(key)? != *old {
            leaked.push(*key);
            let _ = std::fs::write(proc_path(key), old);
        }
    }
    ensure!(
        leaked.is_empty(),
        "host values changed (restored): {leaked:?}"
    );
    let out = out?.check()?;
    let got: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let want: Vec<&str> = keys.iter().map(|(_, v)| *v).collect();
    ensure_eq!(got, want, "values inside the container");
    Ok(())
}

fn ipc_key_in_new_ipc_ns(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    applied_inside_only(ctx, &mut b, &[("kernel.shmmni", "1234")])
}

/// ip_forward as asked; ip_default_ttl (64 by default) so the host check means something.
fn net_keys_in_new_net_ns(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let keys = [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.ip_default_ttl", "99"),
    ];
    applied_inside_only(ctx, &mut b, &keys)
}

/// kernel.panic belongs to no namespace: setting it would change the host.
fn not_namespaced_refused(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["linux"]["sysctl"] = json!({"kernel.panic": host_value("kernel.panic")?});
    Ok(refused(
        ctx,
        &b,
        &ctx.try_create(&b, &[])?,
        &["kernel.panic"],
    )?)
}

/// An ipc key without a new ipc namespace, a net key without a new network namespace.
fn host_namespace_refused(ctx: &Ctx) -> TResult {
    for (key, ns) in [("kernel.shmmni", "ipc"), ("net.ipv4.ip_forward", "network")] {
        let mut b = ctx.bundle()?;
        b.without_namespace(ns);
        b.config["linux"]["sysctl"] = json!({key: host_value(key)?});
        refused(ctx, &b, &ctx.try_create(&b, &[])?, &[key])
            .map_err(|e| format!("{key} without a {ns} namespace: {e}"))?;
    }
    Ok(())
}
