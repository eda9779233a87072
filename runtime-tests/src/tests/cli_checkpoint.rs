//! `checkpoint` where CRIU cannot work (this 6.18 host: Debian's CRIU 3.17 fails `criu check`
//! on the vDSO layout): one clear error line, and the container keeps running, untouched. The
//! working checkpoint/restore is hack/criu-tests.sh, in the 6.1 VM (make test-criu).
use super::{sleeper, wait_started};
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};

pub fn tests() -> Vec<Test> {
    crate::tests!("cli_checkpoint"; checkpoint_unavailable_leaves_container)
}

/// Whether CRIU works here (then this test has nothing to check).
fn criu_works() -> bool {
    std::process::Command::new("criu")
        .arg("check")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn checkpoint_unavailable_leaves_container(ctx: &Ctx) -> TResult {
    if criu_works() {
        return Ok(());
    }
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    let img = ctx.host_dir(&format!("img-{}", b.id))?;
    let img = img.to_string_lossy().into_owned();
    let r = ctx.rt(&["checkpoint", "--image-path", &img, &b.id])?;
    ensure!(!r.ok(), "checkpoint succeeded where `criu check` fails");
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure_eq!(lines.len(), 1, "checkpoint's error lines: {:?}", r.stderr);
    ensure!(
        lines[0].to_lowercase().contains("criu"),
        "the error does not name CRIU: {}",
        lines[0]
    );
    ensure_eq!(
        ctx.status(&b.id)?,
        "running",
        "status after the failed checkpoint"
    );
    // Still the same, working process: it handles a signal.
    ctx.rt(&["kill", &b.id, "USR1"])?.check()?;
    ctx.wait_status(&b.id, "stopped")?;
    Ok(ctx.destroy(&b.id)?)
}
