//! `checkpoint` where CRIU cannot work (this 6.18 host: Debian's CRIU 3.17 fails `criu check`
//! on the vDSO layout): one clear error line, and the container keeps running, untouched. The
//! working checkpoint/restore is hack/criu-tests.sh, in the 6.1 VM (make test-criu).
use super::{sleeper, wait_started};
use crate::ctx::Ctx;
use crate::harness::{TResult, Test};
use crate::{ensure, ensure_eq};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "cli_checkpoint::checkpoint_unavailable_leaves_container",
            checkpoint_unavailable_leaves_container,
        )
        .deviates(
            "runc",
            "runs CRIU without checking it: two error lines (\"container still running\", \"criu failed: type DUMP\"), and the image dir it made is left",
        ),
        Test::new(
            "cli_checkpoint::restore_unavailable_leaves_nothing",
            restore_unavailable_leaves_nothing,
        )
        .deviates(
            "runc",
            "reads descriptors.json before it runs CRIU, so the error names a missing file, not CRIU",
        ),
    ]
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
        crate::skip!(
            "CRIU works here (`criu check`): nothing to refuse; hack/criu-tests.sh covers it"
        );
    }
    let (b, out) = sleeper(ctx)?;
    ctx.create_start(&b)?;
    wait_started(&out)?;
    // Not made yet: a failed checkpoint must not leave it behind.
    let img_dir = ctx.host_dir(&format!("img-{}", b.id))?.join("images");
    let img = img_dir.to_string_lossy().into_owned();
    let r = ctx.rt(&["checkpoint", "--image-path", &img, &b.id])?;
    ensure!(!r.ok(), "checkpoint succeeded where `criu check` fails");
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure_eq!(lines.len(), 1, "checkpoint's error lines: {:?}", r.stderr);
    ensure!(
        lines[0].to_lowercase().contains("criu"),
        "the error does not name CRIU: {}",
        lines[0]
    );
    ensure!(
        !img_dir.exists(),
        "the failed checkpoint left {}",
        img_dir.display()
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

/// `restore` where CRIU cannot work: one line naming CRIU, and no container state.
fn restore_unavailable_leaves_nothing(ctx: &Ctx) -> TResult {
    if criu_works() {
        crate::skip!(
            "CRIU works here (`criu check`): nothing to refuse; hack/criu-tests.sh covers it"
        );
    }
    let (b, _out) = sleeper(ctx)?;
    b.write()?;
    let img = ctx.host_dir(&format!("img-{}", b.id))?;
    let img = img.to_string_lossy().into_owned();
    let bundle = b.dir.to_string_lossy().into_owned();
    let r = ctx.rt(&[
        "restore",
        "-d",
        "--image-path",
        &img,
        "--bundle",
        &bundle,
        &b.id,
    ])?;
    ensure!(!r.ok(), "restore succeeded where `criu check` fails");
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure_eq!(lines.len(), 1, "restore's error lines: {:?}", r.stderr);
    ensure!(
        lines[0].to_lowercase().contains("criu"),
        "the error does not name CRIU: {}",
        lines[0]
    );
    let st = ctx.rt(&["state", &b.id])?;
    ensure!(
        !st.ok(),
        "state exists after the failed restore: {}",
        st.stdout
    );
    Ok(())
}
