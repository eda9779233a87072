//! `layer diff ID DEST.tar` and `layer unpack LAYER.tar DIR`.

use super::Global;
use crate::error::{Ctx, Error, Result};
use crate::state;
use crate::sys::fd;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub fn diff(g: &Global, id: &str, dest: &Path) -> Result<i32> {
    let st = state::load(&g.root, id)?;
    let upper = st.layer_upper.ok_or_else(|| {
        Error::invalid(format!(
            "container {id} has no container layer (its bundle has no io.strata.layers)"
        ))
    })?;
    let name = dest
        .file_name()
        .ok_or_else(|| Error::invalid(format!("layer diff: {} names no file", dest.display())))?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fd::openat(None, parent, libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| format!("open {}", parent.display()))?;
    let tmp = PathBuf::from(format!(".{}.tmp", name.to_string_lossy()));
    let shown = parent.join(&tmp);
    // O_EXCL|O_NOFOLLOW: a symlink (or file) planted at the temporary name
    // is neither followed nor truncated; the rename then replaces `dest`
    // itself, never what a symlink there points at.
    let out = match fd::openat(
        Some(dir.as_fd()),
        &tmp,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    ) {
        Ok(f) => std::fs::File::from(f),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return Err(Error::invalid(format!(
                "layer diff: {} already exists (left by a killed run, or planted): remove it",
                shown.display()
            )))
        }
        Err(e) => return Err(Error::sys(format!("create {}", shown.display()), e)),
    };
    let r = write(&upper, out).and_then(|()| {
        nix::fcntl::renameat(dir.as_fd(), &tmp, dir.as_fd(), name)
            .map_err(|e| Error::sys(format!("rename to {}", dest.display()), e.into()))
    });
    if r.is_err() {
        let _ = fd::unlinkat(dir.as_fd(), &tmp);
    }
    r.map(|()| 0)
}

fn write(upper: &Path, out: std::fs::File) -> Result<()> {
    let mut w = std::io::BufWriter::new(out);
    crate::image::diff::diff(upper, &mut w)?;
    let f = w
        .into_inner()
        .map_err(|e| Error::sys("write the layer tar", e.into_error()))?;
    f.sync_all().ctx(|| "write the layer tar")
}

pub fn unpack(tar: &Path, dir: &Path) -> Result<i32> {
    let mut f = std::fs::File::open(tar).ctx(|| format!("open {}", tar.display()))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .ctx(|| format!("read {}", tar.display()))?;
    drop(f);
    if !dir.is_dir() {
        // Missing parents (the layer store) are made 0700: layers are not
        // for other host users to enter (docs/layers.md).
        if let Some(p) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p)
                .ctx(|| format!("create {}", p.display()))?;
        }
        std::fs::create_dir(dir).ctx(|| format!("create {}", dir.display()))?;
    }
    if n == 2 && magic == [0x1f, 0x8b] {
        // gzip: decompressed by gzip(1) rather than a library in strata.
        let file = std::fs::File::open(tar).ctx(|| format!("open {}", tar.display()))?;
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(file)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ctx(|| "run gzip -dc (install gzip for compressed layers)")?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| Error::invalid("gzip: no output"))?;
        let r = crate::image::unpack::unpack(std::io::BufReader::new(out), dir);
        // gzip may still be writing (an unpack error stops reading) or be
        // done already; its status below is what counts.
        let _ = child.kill();
        let status = child.wait().ctx(|| "wait for gzip")?;
        r?;
        if !status.success() {
            return Err(Error::invalid(format!(
                "gzip -dc {}: {status}",
                tar.display()
            )));
        }
        return Ok(0);
    }
    let file = std::fs::File::open(tar).ctx(|| format!("open {}", tar.display()))?;
    crate::image::unpack::unpack(std::io::BufReader::new(file), dir)?;
    Ok(0)
}
