//! strata's own extension, not the runtime spec: a rootfs stacked from
//! read-only image layers plus one writable container layer
//! (`io.strata.layers` annotations), and `layer diff` / `layer unpack`
//! (docs/layers.md). Other runtimes do not have it: they show as skipped.
//! Hostile layer tars are in `strata_layers/tars.rs`.
mod tars;

use super::{one_line_error, require};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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
        Test::new(
            "strata_layers::annotation_outside_store_refused",
            annotation_outside_store_refused,
        ),
        Test::new(
            "strata_layers::layer_store_flag_and_private_dirs",
            layer_store_flag_and_private_dirs,
        ),
        Test::new(
            "strata_layers::layer_store_reachable_refused",
            layer_store_reachable_refused,
        ),
        Test::new(
            "strata_layers::diff_temp_symlink_not_followed",
            diff_temp_symlink_not_followed,
        ),
        Test::new(
            "strata_layers::user_namespace_reads_private_store",
            user_namespace_reads_private_store,
        ),
    ]
    .into_iter()
    .chain(tars::tests())
    .map(|t| t.only_for("strata", why))
    .collect()
}

/// Every entry under `dir`: (relative path, type, mode, size, symlink target, content hash).
pub(crate) fn tree(dir: &Path) -> Vec<String> {
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

/// The layer store strata uses by default: `<root>/layers`, made 0700.
pub(crate) fn store(ctx: &Ctx) -> Result<PathBuf, String> {
    private_dir(&ctx.root.join("layers"))
}

fn private_dir(p: &Path) -> Result<PathBuf, String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .ctx(format!("mkdir {}", p.display()))?;
    Ok(p.to_path_buf())
}

/// Turns `b`'s rootfs into a base layer plus a small second layer; returns the layer dirs.
fn layered(ctx: &Ctx, b: &mut Bundle, layers: Option<&[PathBuf]>) -> Result<Vec<PathBuf>, String> {
    let dirs = match layers {
        Some(l) => l.to_vec(),
        None => {
            let l1 = store(ctx)?.join("layer1");
            std::fs::rename(b.rootfs(), &l1).ctx("move rootfs to layer1")?;
            let l2 = store(ctx)?.join("layer2");
            std::fs::create_dir(&l2).ctx("mkdir layer2")?;
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
    let file = store(ctx)?.join("a-file");
    std::fs::write(&file, "x").ctx("write a-file")?;
    let cases = [
        store(ctx)?.join("missing").display().to_string(),
        "relative/layer".to_string(),
        file.display().to_string(),
    ];
    for bad in cases {
        let mut b = ctx.bundle()?;
        let l1 = store(ctx)?.join(format!("base-{}", b.id));
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

/// A bundle whose rootfs is the base layer `store/base-<id>`, with `annotations`.
fn annotated(ctx: &Ctx, annotations: serde_json::Value) -> Result<Bundle, String> {
    let mut b = ctx.bundle()?;
    let base = store(ctx)?.join(format!("base-{}", b.id));
    std::fs::rename(b.rootfs(), &base).ctx("move rootfs")?;
    std::fs::create_dir_all(b.rootfs()).ctx("mkdir rootfs")?;
    let mut ann = serde_json::json!({
        "io.strata.layers": serde_json::to_string(&[base.display().to_string()]).unwrap_or_default()
    });
    if let (Some(a), Some(extra)) = (ann.as_object_mut(), annotations.as_object()) {
        a.extend(extra.clone());
    }
    b.config["annotations"] = ann;
    b.config["root"]["readonly"] = serde_json::json!(false);
    Ok(b)
}

/// Annotations come from users who are not root on the node: a layer or
/// writable dir of `/`, outside the store, or escaping it by `..` or a
/// symlink is refused, naming the annotation, and nothing is left.
fn annotation_outside_store_refused(ctx: &Ctx) -> TResult {
    let s = store(ctx)?;
    let outside = ctx.host_dir("outside")?;
    std::fs::write(outside.join("secret"), "host\n").ctx("write secret")?;
    std::os::unix::fs::symlink(&outside, s.join("escape")).ctx("symlink")?;
    let o = outside.display().to_string();
    let dotdot = format!("{}/../outside", s.display());
    let link = s.join("escape").display().to_string();
    let store_itself = s.display().to_string();
    let cases: Vec<(&str, &str)> = vec![
        ("io.strata.layers", "/"),
        ("io.strata.layers", &o),
        ("io.strata.layers", &dotdot),
        ("io.strata.layers", &link),
        ("io.strata.layers", &store_itself),
        ("io.strata.layers.writable", "/"),
        ("io.strata.layers.writable", &o),
        ("io.strata.layers.writable", &link),
    ];
    for (key, dir) in cases {
        let mut b = annotated(ctx, serde_json::json!({}))?;
        if key == "io.strata.layers" {
            let base = b.config["annotations"]["io.strata.layers"]
                .as_str()
                .unwrap_or("[]");
            let mut list: Vec<String> = serde_json::from_str(base).unwrap_or_default();
            list.push(dir.to_string());
            b.config["annotations"][key] =
                serde_json::json!(serde_json::to_string(&list).unwrap_or_default());
        } else {
            b.config["annotations"][key] = serde_json::json!(dir);
        }
        b.args(&["/bin/cat", "/secret"]);
        let out = ctx.run(&b, &[])?;
        let case = format!("{key} = {dir:?}");
        one_line_error(&out).map_err(|e| format!("{case}: {e}"))?;
        ensure!(
            out.stderr.contains(key) && out.stderr.contains("is not inside the layer store"),
            "{case}: not the store refusal: {}",
            out.stderr.trim()
        );
        ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
    }
    ensure!(
        std::fs::read_dir(&outside).ctx("read outside")?.count() == 1,
        "something was written outside the store"
    );
    Ok(())
}

/// `--layer-store` before or after the subcommand; a writable dir inside the
/// store works; container-layer top dirs are 0700 (what the container
/// writes, setuid files too, is not reachable by other host users).
fn layer_store_flag_and_private_dirs(ctx: &Ctx) -> TResult {
    let own = private_dir(&ctx.path("own-store"))?;
    let base = own.join("base");
    for (i, before) in [true, false].into_iter().enumerate() {
        let mut b = ctx.bundle()?;
        if i == 0 {
            std::fs::rename(b.rootfs(), &base).ctx("move rootfs")?;
        }
        std::fs::remove_dir_all(b.rootfs()).ok();
        std::fs::create_dir_all(b.rootfs()).ctx("mkdir rootfs")?;
        let w = own.join(format!("c{i}"));
        b.config["annotations"] = serde_json::json!({
            "io.strata.layers": serde_json::to_string(&[base.display().to_string()]).unwrap_or_default(),
            "io.strata.layers.writable": w.display().to_string(),
        });
        b.config["root"]["readonly"] = serde_json::json!(false);
        b.args(&["/bin/sh", "-c", "echo hi > /new.txt"]);
        b.write()?;
        let (dir, st) = (b.dir.display().to_string(), own.display().to_string());
        let args: Vec<&str> = if before {
            vec!["--layer-store", &st, "run", "--bundle", &dir, &b.id]
        } else {
            vec!["run", "--bundle", &dir, "--layer-store", &st, &b.id]
        };
        ctx.rt(&args)?.check()?;
        ensure_eq!(
            std::fs::read_to_string(w.join("upper/new.txt")).ctx("new.txt in the store")?,
            "hi\n",
            "the container layer in the store"
        );
        let mode = std::fs::metadata(&w)
            .ctx("stat writable")?
            .permissions()
            .mode()
            & 0o777;
        ensure_eq!(mode, 0o700, "mode of the writable dir strata made");
        // Without --layer-store the default store (<root>/layers) is used: refused.
        let mut b2 = annotated(ctx, serde_json::json!({}))?;
        b2.config["annotations"]["io.strata.layers"] =
            serde_json::json!(
                serde_json::to_string(&[base.display().to_string()]).unwrap_or_default()
            );
        b2.args(&["/bin/true"]);
        let out = ctx.run(&b2, &[])?;
        one_line_error(&out)?;
        ensure!(
            out.stderr.contains("is not inside the layer store"),
            "default store: {}",
            out.stderr.trim()
        );
    }
    // The default container layer, <root>/<id>/layer: 0700 while it exists.
    let mut b = ctx.bundle()?;
    layered(ctx, &mut b, None)?;
    b.args(&["/bin/true"]);
    ctx.run(&b, &["--keep"])?.check()?;
    let top = ctx.root.join(&b.id).join("layer");
    let mode = std::fs::metadata(&top)
        .ctx("stat layer")?
        .permissions()
        .mode()
        & 0o777;
    ensure_eq!(mode, 0o700, "mode of {}", top.display());
    Ok(ctx.destroy(&b.id)?)
}

/// A store other users can enter exposes every layer: refused.
fn layer_store_reachable_refused(ctx: &Ctx) -> TResult {
    let s = store(ctx)?;
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).ctx("chmod store")?;
    let mut b = annotated(ctx, serde_json::json!({}))?;
    b.args(&["/bin/true"]);
    let out = ctx.run(&b, &[])?;
    one_line_error(&out)?;
    ensure!(
        out.stderr.contains("with mode 0700"),
        "not the store-mode refusal: {}",
        out.stderr.trim()
    );
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `layer diff` writes DEST through a temporary name beside it: a symlink
/// planted there (DEST's directory may be writable by others) is not followed.
fn diff_temp_symlink_not_followed(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    layered(ctx, &mut b, None)?;
    b.args(&["/bin/sh", "-c", "echo x > /f"]);
    ctx.run(&b, &["--keep"])?.check()?;
    let out_dir = ctx.host_dir("out")?;
    let canary = ctx.path("canary");
    std::fs::write(&canary, "canary\n").ctx("canary")?;
    let tmp = out_dir.join(".layer.tar.tmp");
    std::os::unix::fs::symlink(&canary, &tmp).ctx("plant symlink")?;
    let dest = out_dir.join("layer.tar").display().to_string();
    let out = ctx.rt(&["layer", "diff", &b.id, &dest])?;
    one_line_error(&out)?;
    ensure!(
        out.stderr.contains("already exists"),
        "not the planted-name refusal: {}",
        out.stderr.trim()
    );
    ensure_eq!(
        std::fs::read_to_string(&canary).ctx("read canary")?,
        "canary\n",
        "the symlink's target"
    );
    ensure!(
        std::fs::symlink_metadata(&tmp)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false),
        "the planted symlink was replaced"
    );
    std::fs::remove_file(&tmp).ctx("remove symlink")?;
    ctx.rt(&["layer", "diff", &b.id, &dest])?.check()?;
    let mode = std::fs::metadata(&dest)
        .ctx("stat tar")?
        .permissions()
        .mode()
        & 0o777;
    ensure_eq!(mode, 0o600, "mode of the layer tar");
    Ok(ctx.destroy(&b.id)?)
}

/// The store is 0700 and root's, which a container's mapped root cannot
/// enter: the runtime makes the overlay, so the container still sees its
/// layers (and writes where its mapped root may, copied up into the layer).
fn user_namespace_reads_private_store(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    layered(ctx, &mut b, None)?;
    b.namespace("user", None);
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map;
    let tmp = store(ctx)?.join("layer2/tmp");
    std::fs::create_dir(&tmp).ctx("mkdir layer2/tmp")?;
    std::os::unix::fs::chown(&tmp, Some(100000), Some(100000)).ctx("chown layer2/tmp")?;
    b.args(&[
        "/bin/sh",
        "-c",
        "cat /layer2.txt && echo w > /tmp/w && cat /tmp/w",
    ]);
    let out = ctx.run(&b, &["--keep"])?.check()?;
    ensure_eq!(out.stdout, "from layer 2\nw\n", "what the container saw");
    let w = ctx.root.join(&b.id).join("layer/upper/tmp/w");
    ensure_eq!(
        std::fs::read_to_string(&w).ctx("the write in the container layer")?,
        "w\n",
        "the copy-up"
    );
    Ok(ctx.destroy(&b.id)?)
}
