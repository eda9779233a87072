//! security.md "symlink-exchange races on mount targets" (CVE-2021-30465, CVE-2024-45310):
//! while a thread keeps exchanging a directory of the rootfs with a symlink to a host
//! canary directory (renameat2 RENAME_EXCHANGE, so the name always exists), a series of
//! creates mount a tmpfs, a bind of a host dir and a bind of a host file below that name.
//! Creates may fail; what matters is that the canary is never written to or mounted on.
use super::security::untouched;
use crate::ctx::Ctx;
use crate::ensure;
use crate::harness::{Context, TResult, Test};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Bounded: the race is probabilistic, each create is one more chance to lose it.
const CREATES: usize = 50;
/// Creates that must succeed: one whose mounts were refused never raced the exchange to the
/// end, and a runtime that fails every create (for whatever reason) proves nothing.
const MIN_CREATED: usize = 5;

pub fn tests() -> Vec<Test> {
    vec![Test::new(
        "security_race::symlink_exchange_during_creates",
        symlink_exchange_during_creates,
    )
    // Seen in 6 of 12 runs here: runc 1.1.5 creates the tmpfs destination `t` in the host
    // canary (it resolves the path with securejoin, then MkdirAll walks the string again).
    .deviates_sometimes(
        "runc",
        "1.1.5 sometimes mkdirs a mount destination through the swapped symlink on the host \
         (CVE-2024-45310, fixed in runc 1.1.14)",
    )]
}

fn symlink_exchange_during_creates(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let canary = ctx.host_dir("canary")?;
    let src_dir = ctx.host_dir("bind-src")?;
    let src_file = ctx.path("bind-src-file");
    std::fs::write(&src_file, "bound").ctx("write the bind source file")?;
    let root = b.rootfs();
    let dir = root.join("race");
    let link = root.join("race-link");
    std::fs::create_dir(&dir).ctx("mkdir rootfs/race")?;
    std::os::unix::fs::symlink(&canary, &link).ctx("symlink rootfs/race-link")?;
    b.mount(json!({"destination": "/race/t", "type": "tmpfs", "source": "tmpfs"}));
    b.mount(
        json!({"destination": "/race/d", "type": "bind", "source": src_dir, "options": ["rbind"]}),
    );
    b.mount(
        json!({"destination": "/race/f", "type": "bind", "source": src_file, "options": ["bind"]}),
    );
    b.args(&["/probe", "exit", "0"]);

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        let (dir, link) = (dir.clone(), link.clone());
        std::thread::spawn(move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                nix::fcntl::renameat2(
                    nix::fcntl::AT_FDCWD,
                    &dir,
                    nix::fcntl::AT_FDCWD,
                    &link,
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .ctx("renameat2 RENAME_EXCHANGE")?;
                swaps.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let mut ids = Vec::new();
    let mut created = 0;
    for _ in 0..CREATES {
        b.id = ctx.new_id();
        ids.push(b.id.clone());
        b.write()?;
        let out = ctx.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
        if out.ok() {
            created += 1;
        }
        let _ = ctx.rt(&["delete", "--force", &b.id]);
    }
    stop.store(true, Ordering::Relaxed);
    let swapped = swapper
        .join()
        .map_err(|_| "the swap thread panicked".to_string())?;
    swapped?;
    let entries: Vec<String> = std::fs::read_dir(&canary)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ensure!(
        entries.is_empty(),
        "created in the host canary {} during {created}/{CREATES} successful creates: {entries:?}",
        canary.display()
    );
    untouched(&canary)?;
    for id in &ids {
        ctx.ensure_clean(Some(id), &b.cgroups_path())?;
    }
    let swaps = swaps.load(Ordering::Relaxed);
    eprintln!("{created}/{CREATES} creates succeeded during {swaps} exchanges");
    ensure!(
        created >= MIN_CREATED && swaps >= CREATES as u64,
        "only {created}/{CREATES} creates succeeded (at least {MIN_CREATED} must, or the race \
         was never run to the end) during {swaps} exchanges"
    );
    Ok(())
}
