//! config.md "Hostname" and "Domainname" (set in the container's UTS namespace).
use crate::ctx::Ctx;
use crate::ensure_eq;
use crate::harness::{TResult, Test};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        Test::new("config_hostname::hostname", hostname),
        // runc 1.1 predates runtime-spec 1.1.0 and silently ignores `domainname`; runtime.md:
        // "If the runtime cannot apply a property as specified ... it MUST generate an error".
        Test::new("config_hostname::domainname", domainname).deviates(
            "runc",
            "ignores domainname (runtime-spec 1.1.0) instead of setting it or failing",
        ),
    ]
}

fn hostname(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["hostname"] = json!("strata-test-host");
    ensure_eq!(
        ctx.report(&mut b)?["hostname"],
        "strata-test-host",
        "hostname"
    );
    Ok(())
}

/// `domainname` exists since runtime-spec 1.1.0, hence that ociVersion.
fn domainname(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.config["ociVersion"] = json!("1.1.0");
    b.config["domainname"] = json!("example.org");
    ensure_eq!(
        ctx.report(&mut b)?["domainname"],
        "example.org",
        "domainname"
    );
    Ok(())
}
