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
//!
//! Engines pass annotations from users who are not root on the node (CRI
//! pod annotations, `podman --annotation`), so every directory they name
//! must resolve (symlinks, `..`) to a path strictly inside the layer store
//! (`--layer-store`, default `<root>/layers`), which only its owner may
//! enter: otherwise an annotation could mount `/` or another user's files
//! into a container, or have the container write (setuid files) where
//! other host users can reach them.

use crate::error::{Ctx, Error, Result};
use crate::sys::mount::{self as m, FsContext};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

pub const LAYERS: &str = "io.strata.layers";
pub const WRITABLE: &str = "io.strata.layers.writable";
/// The layer store's name under the state root when `--layer-store` is
/// not given; not a valid container id.
pub const DEFAULT_STORE: &str = "layers";

#[derive(Debug, Clone)]
pub struct Layers {
    /// Bottom first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// The overlay, made by the runtime (`prepare`) as a detached mount and
    /// attached on the rootfs by the init (`mount`).
    tree: Option<Arc<OwnedFd>>,
}

fn bad(msg: String) -> Error {
    Error::invalid(format!("annotations: {msg}"))
}

/// The layer store, resolved; it must be a directory of ours that no
/// other user can enter.
fn open_store(store: &Path) -> Result<PathBuf> {
    let s = std::fs::canonicalize(store).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            bad(format!(
                "layer store {} does not exist: {LAYERS} dirs must lie in it (see --layer-store)",
                store.display()
            ))
        } else {
            Error::sys(format!("layer store {}", store.display()), e)
        }
    })?;
    let meta = std::fs::metadata(&s).ctx(|| format!("layer store {}", s.display()))?;
    if !meta.is_dir() {
        return Err(bad(format!(
            "layer store {} is not a directory",
            s.display()
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "layer store {} must be owned by uid {} with mode 0700 (it is uid {}, mode {:o})",
            s.display(),
            nix::unistd::geteuid(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(s)
}

/// `p` with symlinks and `..` resolved (the part that does not exist yet
/// must be plain names), refused unless strictly inside `store`.
fn in_store(store: &Path, p: &Path, ann: &str) -> Result<PathBuf> {
    let shown = p.display();
    if !p.is_absolute() {
        return Err(bad(format!("{ann}: {shown:?} must be an absolute path")));
    }
    let comps: Vec<Component> = p.components().collect();
    let mut resolved = None;
    for i in (1..=comps.len()).rev() {
        let prefix: PathBuf = comps[..i].iter().collect();
        match std::fs::canonicalize(&prefix) {
            Ok(mut r) => {
                for c in &comps[i..] {
                    match c {
                        Component::Normal(n) => r.push(n),
                        _ => {
                            return Err(bad(format!(
                                "{ann}: {shown:?} has \"..\" in a part that does not exist"
                            )))
                        }
                    }
                }
                resolved = Some(r);
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("{ann}: resolve {shown}"), e)),
        }
    }
    let r = resolved.ok_or_else(|| bad(format!("{ann}: cannot resolve {shown:?}")))?;
    if r == store || !r.starts_with(store) {
        return Err(bad(format!(
            "{ann}: {shown:?} (resolved: {}) is not inside the layer store {} (see --layer-store)",
            r.display(),
            store.display()
        )));
    }
    // overlayfs separates layers with ':' and options with ','.
    if r.to_string_lossy().contains([':', ',']) {
        return Err(bad(format!("{ann}: {:?} contains ':' or ','", r.display())));
    }
    Ok(r)
}

/// Reads and checks the annotations. `default_dir` holds the container
/// layer when no writable directory is given; `store` is the layer store
/// every directory named must lie in.
pub fn from_spec(spec: &Spec, default_dir: &Path, store: &Path) -> Result<Option<Layers>> {
    let ann = spec.annotations().as_ref();
    let Some(raw) = ann.and_then(|a| a.get(LAYERS)) else {
        if ann.is_some_and(|a| a.contains_key(WRITABLE)) {
            return Err(bad(format!("{WRITABLE} needs {LAYERS}")));
        }
        return Ok(None);
    };
    let named: Vec<PathBuf> = serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "{LAYERS} must be a JSON array of absolute paths: {e}"
        ))
    })?;
    if named.is_empty() {
        return Err(bad(format!("{LAYERS} is empty")));
    }
    for l in &named {
        if !l.is_absolute() {
            return Err(bad(format!(
                "{LAYERS}: layer {:?} must be an absolute path",
                l.display()
            )));
        }
    }
    let store = open_store(store)?;
    let mut lower = Vec::new();
    for l in &named {
        let r = in_store(&store, l, LAYERS)?;
        let meta = std::fs::metadata(&r).ctx(|| format!("{LAYERS}: layer {}", l.display()))?;
        if !meta.is_dir() {
            return Err(bad(format!(
                "{LAYERS}: layer {} is not a directory",
                l.display()
            )));
        }
        lower.push(r);
    }
    let base = match ann.and_then(|a| a.get(WRITABLE)) {
        Some(w) => in_store(&store, Path::new(w), WRITABLE)?,
        None => default_dir.to_path_buf(),
    };
    Ok(Some(Layers {
        lower,
        upper: base.join("upper"),
        work: base.join("work"),
        tree: None,
    }))
}

impl Layers {
    /// Makes the container layer's directories and the overlay (in the
    /// runtime, before the container process exists). The overlay is made
    /// here, with the runtime's credentials, so a container with a user
    /// namespace (whose init cannot enter the 0700 store) gets it too.
    pub fn prepare(&mut self) -> Result<()> {
        // The top directory is 0700: what the container writes (setuid
        // binaries, secrets) is not reachable by other host users. upper/
        // keeps 0755: it is the container's "/".
        if let Some(top) = self.upper.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(top)
                .ctx(|| format!("create container layer {}", top.display()))?;
        }
        for d in [&self.upper, &self.work] {
            std::fs::create_dir_all(d).ctx(|| format!("create container layer {}", d.display()))?;
        }
        self.tree = Some(Arc::new(self.overlay()?));
        Ok(())
    }

    /// Attaches the overlay made by `prepare` onto `target` (the rootfs
    /// directory, in the container's mount namespace).
    pub fn mount(&self, target: BorrowedFd) -> Result<()> {
        let tree = self
            .tree
            .as_ref()
            .ok_or_else(|| Error::invalid("image layers: overlay not prepared"))?;
        m::move_to_fd(tree.as_fd(), target).ctx(|| "mount the image layers on the rootfs")
    }

    /// The overlay of the stack as a detached mount.
    fn overlay(&self) -> Result<OwnedFd> {
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
        ctx.mount(0).map_err(|e| why(&ctx, e, "create"))
    }
}

#[cfg(test)]
mod tests {
    use super::{in_store, WRITABLE};
    use std::path::Path;

    #[test]
    fn only_paths_strictly_inside_the_store() {
        let base = std::env::temp_dir().join(format!("strata-store-{}", std::process::id()));
        let store = base.join("store");
        std::fs::create_dir_all(store.join("a")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), store.join("esc")).unwrap();
        std::os::unix::fs::symlink("a", store.join("in")).unwrap();
        let store = std::fs::canonicalize(&store).unwrap();
        let s = store.display().to_string();
        for ok in [
            format!("{s}/a"),
            format!("{s}/in"),
            format!("{s}/new/dir"),
            format!("{s}/esc/../store/a"),
        ] {
            let r = in_store(&store, Path::new(&ok), WRITABLE);
            assert!(
                r.as_ref().is_ok_and(|r| r.starts_with(&store)),
                "{ok}: {r:?}"
            );
        }
        for bad in [
            "/".to_string(),
            s.clone(),
            format!("{s}/.."),
            format!("{s}/../outside"),
            format!("{s}/esc"),
            format!("{s}/esc/new"),
            format!("{s}/new/../../outside"),
            "relative".to_string(),
        ] {
            let r = in_store(&store, Path::new(&bad), WRITABLE);
            assert!(r.is_err(), "{bad} accepted: {r:?}");
            assert!(format!("{:#}", r.unwrap_err()).contains(WRITABLE), "{bad}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
