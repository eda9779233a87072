//! Hostile layer tars through the real `strata layer unpack`: each case
//! asserts the specific refusal (or, for a write through a symlink, that
//! the symlink itself was replaced) and that a canary beside the target
//! survives. Then owners and file capabilities through unpack, a
//! container's copy-up and `layer diff` (PAX uid, `SCHILY.xattr.*`).
use super::{store, tree};
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, skip};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "strata_layers::tar_whiteout_dotdot_spares_parent",
            tar_whiteout_dotdot_spares_parent,
        ),
        Test::new(
            "strata_layers::tar_whiteout_dot_spares_target",
            tar_whiteout_dot_spares_target,
        ),
        Test::new(
            "strata_layers::tar_nested_whiteout_dotdot",
            tar_nested_whiteout_dotdot,
        ),
        Test::new("strata_layers::tar_hard_link_out", tar_hard_link_out),
        Test::new("strata_layers::tar_symlink_parent", tar_symlink_parent),
        Test::new(
            "strata_layers::tar_write_through_absolute_symlink",
            tar_write_through_absolute_symlink,
        ),
        Test::new(
            "strata_layers::tar_pax_ids_and_caps_round_trip",
            tar_pax_ids_and_caps_round_trip,
        ),
    ]
}

/// A ustar archive written by hand: real tools will not write these names.
#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn add(mut self, name: &str, typ: u8, link: &str, data: &[u8]) -> Tar {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let mode = if typ == b'5' { "0000755" } else { "0000644" };
        h[100..107].copy_from_slice(mode.as_bytes());
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = typ;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Tar {
        self.add(name, b'0', "", data)
    }
    fn dir(self, name: &str) -> Tar {
        self.add(name, b'5', "", b"")
    }
}

/// `<test>/work/{canary,target/}`.
struct Scene {
    work: PathBuf,
    target: PathBuf,
}

impl Scene {
    fn new(ctx: &Ctx) -> Result<Scene, String> {
        let work = ctx.host_dir("work")?;
        let target = work.join("target");
        std::fs::create_dir_all(&target).ctx("mkdir target")?;
        std::fs::write(work.join("canary"), "canary\n").ctx("write canary")?;
        Ok(Scene { work, target })
    }

    fn canary(&self) -> PathBuf {
        self.work.join("canary")
    }

    /// `layer unpack` of `t`; Ok(stderr) if it failed, Err if it succeeded.
    fn unpack(&self, ctx: &Ctx, t: Tar, ok: bool) -> Result<String, String> {
        let path = self.work.join(format!(
            "t{}.tar",
            self.work.read_dir().map(|d| d.count()).unwrap_or(0)
        ));
        std::fs::write(&path, &t.0).ctx("write tar")?;
        let out = ctx.rt(&[
            "layer",
            "unpack",
            &path.display().to_string(),
            &self.target.display().to_string(),
        ])?;
        match (ok, out.ok()) {
            (true, true) => Ok(String::new()),
            (false, false) => Ok(out.stderr),
            _ => Err(format!("layer unpack: {}", out.describe())),
        }
    }

    fn refused(&self, ctx: &Ctx, t: Tar, want: &str) -> TResult {
        let err = self.unpack(ctx, t, false)?;
        // The canary first: before the fix the unpack failed too, after
        // the damage.
        self.canary_intact()?;
        ensure!(
            err.contains(want),
            "not the refusal {want:?}: {}",
            err.trim()
        );
        Ok(())
    }

    fn canary_intact(&self) -> TResult {
        ensure_eq!(
            std::fs::read_to_string(self.canary()).ctx("read the canary beside the target")?,
            "canary\n",
            "the canary beside the target"
        );
        Ok(())
    }
}

const BAD_WHITEOUT: &str = "whiteout of an empty name";

/// `.wh...` names `..`: removing it once emptied the target's parent.
fn tar_whiteout_dotdot_spares_parent(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    s.refused(ctx, Tar::default().file(".wh...", b""), BAD_WHITEOUT)
}

/// `.wh..` names the target itself, `.wh.` nothing.
fn tar_whiteout_dot_spares_target(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    for wh in [".wh..", ".wh."] {
        s.refused(
            ctx,
            Tar::default().file("keep", b"k").file(wh, b""),
            BAD_WHITEOUT,
        )?;
        ensure!(s.target.join("keep").exists(), "{wh} emptied the target");
    }
    Ok(())
}

fn tar_nested_whiteout_dotdot(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    let t = Tar::default()
        .dir("a/")
        .file("keep", b"k")
        .file("a/.wh...", b"");
    s.refused(ctx, t, BAD_WHITEOUT)?;
    ensure!(
        s.target.join("keep").exists(),
        "a/.wh... emptied the target"
    );
    Ok(())
}

fn tar_hard_link_out(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    let abs = s.canary().display().to_string();
    for to in ["../canary", abs.as_str()] {
        let t = Tar::default().add("h", b'1', to, b"");
        s.refused(ctx, t, "hard link target outside the directory")?;
    }
    ensure_eq!(
        std::fs::metadata(s.canary()).ctx("stat canary")?.nlink(),
        1,
        "links to the canary"
    );
    Ok(())
}

fn tar_symlink_parent(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    let abs = s.work.display().to_string();
    for (name, to) in [("l", ".."), ("m", abs.as_str())] {
        let t = Tar::default()
            .add(name, b'2', to, b"")
            .file(&format!("{name}/canary"), b"pwned\n");
        s.refused(ctx, t, "a parent directory is a symlink")?;
    }
    Ok(())
}

/// A file entry over a symlink to a host file replaces the symlink.
fn tar_write_through_absolute_symlink(ctx: &Ctx) -> TResult {
    let s = Scene::new(ctx)?;
    let abs = s.canary().display().to_string();
    let t = Tar::default()
        .add("s", b'2', &abs, b"")
        .file("s", b"pwned\n");
    s.unpack(ctx, t, true)?;
    s.canary_intact()?;
    let m = std::fs::symlink_metadata(s.target.join("s")).ctx("stat s")?;
    ensure!(
        m.is_file(),
        "s is not the tar's regular file: {:?}",
        m.file_type()
    );
    ensure_eq!(
        std::fs::read_to_string(s.target.join("s")).ctx("read s")?,
        "pwned\n",
        "s"
    );
    Ok(())
}

const BIG_ID: u32 = 123_456_789;

/// uid and file capability of `<dir>/bin/ping`.
fn ping_meta(dir: &Path) -> Result<(u32, u32, String), String> {
    let p = dir.join("bin/ping");
    let m = std::fs::metadata(&p).ctx(format!("stat {}", p.display()))?;
    let out = Command::new("getcap").arg(&p).output().ctx("getcap")?;
    Ok((
        m.uid(),
        m.gid(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    ))
}

/// An image's ping: uid 123456789 (a PAX record) and cap_net_raw
/// (`SCHILY.xattr.security.capability`), written by GNU tar. Unpacked, used
/// as a layer, copied up by a chmod in the container, exported by
/// `layer diff` and unpacked again: owner and capability all the way.
fn tar_pax_ids_and_caps_round_trip(ctx: &Ctx) -> TResult {
    for tool in ["setcap", "getcap"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            skip!("{tool} not installed (libcap2-bin)");
        }
    }
    let img = ctx.host_dir("img")?;
    std::fs::create_dir_all(img.join("bin")).ctx("mkdir img/bin")?;
    let ping = img.join("bin/ping");
    std::fs::write(&ping, "not really ping\n").ctx("write ping")?;
    std::os::unix::fs::chown(&ping, Some(BIG_ID), Some(BIG_ID)).ctx("chown ping")?;
    let st = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&ping)
        .status()
        .ctx("setcap")?;
    ensure!(st.success(), "setcap failed");
    let tar = ctx.path("img.tar");
    let st = Command::new("tar")
        .args([
            "--format=posix",
            "--xattrs",
            "--xattrs-include=security.capability",
        ])
        .arg("-C")
        .arg(&img)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .ctx("tar -c")?;
    ensure!(st.success(), "tar -c failed");
    let layers = store(ctx)?;
    let unpacked = layers.join("img");
    ctx.rt(&[
        "layer",
        "unpack",
        &tar.display().to_string(),
        &unpacked.display().to_string(),
    ])?
    .check()?;
    let (uid, gid, caps) = ping_meta(&unpacked)?;
    ensure_eq!((uid, gid), (BIG_ID, BIG_ID), "owner after unpack");
    ensure!(
        caps.contains("cap_net_raw"),
        "capability after unpack: {caps:?}"
    );

    let mut b = ctx.bundle()?;
    let base = layers.join("base");
    std::fs::rename(b.rootfs(), &base).ctx("move rootfs")?;
    std::fs::create_dir_all(b.rootfs()).ctx("mkdir rootfs")?;
    let list = [base.display().to_string(), unpacked.display().to_string()];
    b.config["annotations"] = serde_json::json!({
        "io.strata.layers": serde_json::to_string(&list).unwrap_or_default()
    });
    b.config["root"]["readonly"] = serde_json::json!(false);
    for set in ["bounding", "effective", "permitted"] {
        if let Some(a) = b.config["process"]["capabilities"][set].as_array_mut() {
            a.push(serde_json::json!("CAP_FOWNER"));
        }
    }
    // chmod copies the file up into the container layer, xattrs and all.
    b.args(&["/bin/sh", "-c", "chmod 750 /bin/ping"]);
    ctx.run(&b, &["--keep"])?.check()?;
    let diff = ctx.path("diff.tar");
    ctx.rt(&["layer", "diff", &b.id, &diff.display().to_string()])?
        .check()?;
    let again = layers.join("again");
    ctx.rt(&[
        "layer",
        "unpack",
        &diff.display().to_string(),
        &again.display().to_string(),
    ])?
    .check()?;
    let (uid, gid, caps) = ping_meta(&again)?;
    ensure_eq!((uid, gid), (BIG_ID, BIG_ID), "owner after diff and unpack");
    ensure!(
        caps.contains("cap_net_raw"),
        "capability after diff and unpack: {caps:?}"
    );
    let upper = ctx.root.join(&b.id).join("layer/upper");
    ensure_eq!(
        tree(&again),
        tree(&upper),
        "unpacked diff vs the container layer"
    );
    Ok(ctx.destroy(&b.id)?)
}
