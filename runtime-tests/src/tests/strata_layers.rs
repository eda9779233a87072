//! strata's own extension, not the runtime spec: a rootfs stacked from
//! read-only image layers plus one writable container layer
//! (`io.strata.layers` annotations), and `layer diff` / `layer unpack`
//! (docs/layers.md). Other runtimes do not have it: they show as skipped.
use super::{one_line_error, require};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn tests() -> Vec<Test> {
    let why = "strata's layer annotations and `layer` command are an extension (docs/layers.md)";
    [
        Test::new(
            "strata_layers::shared_layers_own_writes",
            shared_layers_own_writes,
        ),
        Test::new(
            "strata_layers::whiteout_in_layer_diff",
            whiteout_in_layer_diff,
        ),
        Test::new(
            "strata_layers::diff_unpack_roundtrip",
            diff_unpack_roundtrip,
        ),
        Test::new(
            "strata_layers::unpack_refuses_escapes",
            unpack_refuses_escapes,
        ),
        Test::new("strata_layers::bad_layers_refused", bad_layers_refused),
    ]
    .into_iter()
    .map(|t| t.only_for("strata", why))
    .collect()
}

/// Every entry under `dir`: (relative path, type, mode, size, symlink target, content hash).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            let link = std::fs::read_link(&p)
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            let sum: u64 = if m.is_file() {
                std::fs::read(&p)
                    .map(|b| {
                        b.iter()
                            .fold(17u64, |a, &x| a.wrapping_mul(31).wrapping_add(x as u64))
                    })
                    .unwrap_or(0)
            } else {
                0
            };
            out.push(format!(
                "{rel} {:o} {} {} {link} {sum} {}",
                m.mode(),
                m.size(),
                m.uid(),
                m.rdev()
            ));
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Turns `b`'s rootfs into a base layer plus a small second layer; returns the layer dirs.
fn layered(ctx: &Ctx, b: &mut Bundle, layers: Option<&[PathBuf]>) -> Result<Vec<PathBuf>, String> {
    let dirs = match layers {
        Some(l) => l.to_vec(),
        None => {
            let l1 = ctx.path("layer1");
            std::fs::rename(b.rootfs(), &l1).ctx("move rootfs to layer1")?;
            let l2 = ctx.host_dir("layer2")?;
            std::fs::write(l2.join("layer2.txt"), "from layer 2\n").ctx("write layer2.txt")?;
            vec![l1, l2]
        }
    };
    std::fs::remove_dir_all(b.rootfs()).ok();
    std::fs::create_dir_all(b.rootfs()).ctx("mkdir rootfs")?;
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    b.config["annotations"] =
        serde_json::json!({"io.strata.layers": serde_json::to_string(&list).unwrap_or_default()});
    b.config["root"]["readonly"] = serde_json::json!(false);
    Ok(dirs)
}

fn shared_layers_own_writes(ctx: &Ctx) -> TResult {
    let mut b1 = ctx.bundle()?;
    let layers = layered(ctx, &mut b1, None)?;
    let before: Vec<Vec<String>> = layers.iter().map(|l| tree(l)).collect();
    let mut b2 = ctx.bundle()?;
    layered(ctx, &mut b2, Some(&layers))?;
    for (b, word) in [(&mut b1, "one"), (&mut b2, "two")] {
        let script = format!("cat /layer2.txt; echo {word} > /layer2.txt; echo {word} > /new.txt; cat /layer2.txt /new.txt");
        b.args(&["/bin/sh", "-c", &script]);
        let out = ctx.run(b, &[])?.check()?;
        ensure_eq!(
            out.stdout,
            format!("from layer 2\n{word}\n{word}\n"),
            "what the container saw"
        );
    }
    let after: Vec<Vec<String>> = layers.iter().map(|l| tree(l)).collect();
    ensure!(before == after, "a layer directory changed");
    Ok(())
}

/// Runs `script` in a layered container kept after exit; returns the bundle and the tar.
fn kept_with_diff(ctx: &Ctx, script: &str) -> Result<(Bundle, PathBuf), String> {
    let mut b = ctx.bundle()?;
    layered(ctx, &mut b, None)?;
    b.args(&["/bin/sh", "-c", script]);
    ctx.run(&b, &["--keep"])?.check()?;
    let tar = ctx.path("layer.tar");
    ctx.rt(&["layer", "diff", &b.id, &tar.display().to_string()])?
        .check()?;
    Ok((b, tar))
}

fn whiteout_in_layer_diff(ctx: &Ctx) -> TResult {
    let (b, tar) = kept_with_diff(ctx, "rm /layer2.txt; mkdir -p /d && echo x > /d/f")?;
    let out = Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .ctx("tar -tf")?;
    let names = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(
        names.lines().any(|l| l == ".wh.layer2.txt"),
        "no .wh.layer2.txt in the diff: {names:?}"
    );
    ensure!(
        names.lines().any(|l| l == "d/f"),
        "no d/f in the diff: {names:?}"
    );
    Ok(ctx.destroy(&b.id)?)
}

fn diff_unpack_roundtrip(ctx: &Ctx) -> TResult {
    let script = "rm /layer2.txt; rm -rf /etc; mkdir /etc; echo x > /etc/only; mkdir -p /n; echo hi > /n/f; ln /n/f /n/h; ln -s ../bin/sh /n/s";
    let (b, tar) = kept_with_diff(ctx, script)?;
    let upper = ctx.root.join(&b.id).join("layer/upper");
    let target = ctx.host_dir("unpacked")?;
    ctx.rt(&[
        "layer",
        "unpack",
        &tar.display().to_string(),
        &target.display().to_string(),
    ])?
    .check()?;
    // Hard links share an inode: drop link counts from the comparison by design of tree().
    ensure_eq!(
        tree(&target),
        tree(&upper),
        "unpacked tree vs the container layer"
    );
    Ok(ctx.destroy(&b.id)?)
}

fn unpack_refuses_escapes(ctx: &Ctx) -> TResult {
    let work = ctx.host_dir("tars")?;
    let inner = work.join("in");
    std::fs::create_dir_all(&inner).ctx("mkdir")?;
    std::fs::write(work.join("canary"), "canary\n").ctx("canary")?;
    // GNU tar keeps "../" with -P: an entry pointing outside the target.
    let t = work.join("evil.tar");
    let st = Command::new("tar")
        .current_dir(&inner)
        .arg("-cPf")
        .arg(&t)
        .arg("../canary")
        .status()
        .ctx("tar -cPf")?;
    require(st.success(), "tar -cPf failed".into())?;
    std::fs::write(work.join("canary"), "canary\n").ctx("canary")?;
    let target = work.join("target");
    std::fs::create_dir_all(&target).ctx("mkdir target")?;
    let out = ctx.rt(&[
        "layer",
        "unpack",
        &t.display().to_string(),
        &target.display().to_string(),
    ])?;
    ensure!(!out.ok(), "unpack of a ../ entry succeeded");
    ensure_eq!(
        std::fs::read_to_string(work.join("canary")).ctx("read canary")?,
        "canary\n",
        "the file outside"
    );
    ensure!(
        std::fs::read_dir(&target)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false),
        "something was written into the target"
    );
    Ok(())
}

/// A missing layer, a relative one and a layer that is a file: one line, nothing left.
fn bad_layers_refused(ctx: &Ctx) -> TResult {
    let file = ctx.path("a-file");
    std::fs::write(&file, "x").ctx("write a-file")?;
    let cases = [
        ctx.path("missing").display().to_string(),
        "relative/layer".to_string(),
        file.display().to_string(),
    ];
    for bad in cases {
        let mut b = ctx.bundle()?;
        let l1 = ctx.path(&format!("base-{}", b.id));
        std::fs::rename(b.rootfs(), &l1).ctx("move rootfs")?;
        std::fs::create_dir_all(b.rootfs()).ctx("mkdir rootfs")?;
        let list =
            serde_json::to_string(&[l1.display().to_string(), bad.clone()]).unwrap_or_default();
        b.config["annotations"] = serde_json::json!({"io.strata.layers": list});
        b.write()?;
        let dir = b.dir.display().to_string();
        let out = ctx.rt(&["create", "--bundle", &dir, &b.id])?;
        one_line_error(&out).map_err(|e| format!("layer {bad:?}: {e}"))?;
        ctx.ensure_clean(None, &b.cgroups_path())?;
    }
    Ok(())
}
