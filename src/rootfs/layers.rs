//! A root filesystem assembled from image layers (Docker's model): the
//! read-only layers, bottom first, under one writable container layer,
//! stacked with overlayfs on `root.path` inside the container's mount
//! namespace. Given by annotations on config.json:
//!
//! - `io.strata.layers`: JSON array of absolute directories, base layer
//!   first. Never written: overlayfs only reads its lower layers.
//! - `io.strata.layers.writable` (optional): absolute directory for the
//!   container layer; strata uses `upper/` and `work/` inside it and keeps
//!   it. Without it the layer lives in the container's state directory and
//!   goes away on `delete` (`run --keep` keeps it).

use crate::error::{Ctx, Error, Result};
use crate::sys::mount::{self as m, FsContext};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

pub const LAYERS: &str = "io.strata.layers";
pub const WRITABLE: &str = "io.strata.layers.writable";

#[derive(Debug, Clone)]
pub struct Layers {
    /// Bottom first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

fn bad(msg: String) -> Error {
    Error::invalid(format!("annotations: {msg}"))
}

/// Reads and checks the annotations. `default_dir` holds the container
/// layer when no writable directory is given.
pub fn from_spec(spec: &Spec, default_dir: &Path) -> Result<Option<Layers>> {
    let ann = spec.annotations().as_ref();
    let Some(raw) = ann.and_then(|a| a.get(LAYERS)) else {
        if ann.is_some_and(|a| a.contains_key(WRITABLE)) {
            return Err(bad(format!("{WRITABLE} needs {LAYERS}")));
        }
        return Ok(None);
    };
    let lower: Vec<PathBuf> = serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "{LAYERS} must be a JSON array of absolute paths: {e}"
        ))
    })?;
    if lower.is_empty() {
        return Err(bad(format!("{LAYERS} is empty")));
    }
    for l in &lower {
        let s = l.to_string_lossy();
        if !l.is_absolute() {
            return Err(bad(format!(
                "{LAYERS}: layer {s:?} must be an absolute path"
            )));
        }
        // overlayfs separates layers with ':' and options with ','.
        if s.contains([':', ',']) {
            return Err(bad(format!("{LAYERS}: layer {s:?} contains ':' or ','")));
        }
        let meta = std::fs::metadata(l).ctx(|| format!("{LAYERS}: layer {s}"))?;
        if !meta.is_dir() {
            return Err(bad(format!("{LAYERS}: layer {s} is not a directory")));
        }
    }
    let base = match ann.and_then(|a| a.get(WRITABLE)) {
        Some(w) => {
            let p = PathBuf::from(w);
            if !p.is_absolute() || w.contains([':', ',']) {
                return Err(bad(format!(
                    "{WRITABLE}: {w:?} must be an absolute path without ':' or ','"
                )));
            }
            p
        }
        None => default_dir.to_path_buf(),
    };
    Ok(Some(Layers {
        lower,
        upper: base.join("upper"),
        work: base.join("work"),
    }))
}

impl Layers {
    /// Makes the container layer's directories (in the runtime, before the
    /// container process exists).
    pub fn prepare(&self) -> Result<()> {
        for d in [&self.upper, &self.work] {
            std::fs::create_dir_all(d).ctx(|| format!("create container layer {}", d.display()))?;
        }
        Ok(())
    }

    /// Mounts the stack onto `target` (the rootfs directory).
    pub fn mount(&self, target: BorrowedFd) -> Result<()> {
        let lowerdir = self
            .lower
            .iter()
            .rev()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":");
        let ctx = FsContext::open("overlay").ctx(|| "overlayfs is not available in this kernel")?;
        let why = |ctx: &FsContext, e: std::io::Error, what: &str| {
            let k = ctx
                .last_message()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            Error::sys(format!("mount the image layers: {what}{k}"), e)
        };
        for (k, v) in [
            ("lowerdir", lowerdir.as_str()),
            ("upperdir", &self.upper.to_string_lossy()),
            ("workdir", &self.work.to_string_lossy()),
        ] {
            ctx.set(k, Some(v)).map_err(|e| why(&ctx, e, k))?;
        }
        let tree = ctx.mount(0).map_err(|e| why(&ctx, e, "create"))?;
        m::move_to_fd(tree.as_fd(), target).ctx(|| "mount the image layers on the rootfs")
    }
}
