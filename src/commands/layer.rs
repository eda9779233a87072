//! `layer diff ID DEST.tar` and `layer unpack LAYER.tar DIR`.

use super::Global;
use crate::error::{Ctx, Error, Result};
use crate::state;
use std::io::Read;
use std::path::Path;

pub fn diff(g: &Global, id: &str, dest: &Path) -> Result<i32> {
    let st = state::load(&g.root, id)?;
    let upper = st.layer_upper.ok_or_else(|| {
        Error::invalid(format!(
            "container {id} has no container layer (its bundle has no io.strata.layers)"
        ))
    })?;
    let tmp = dest.with_file_name(format!(
        ".{}.tmp",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("layer")
    ));
    let out = std::fs::File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    let r = crate::layer::diff::diff(&upper, std::io::BufWriter::new(out));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).ctx(|| format!("write {}", dest.display()))?;
    Ok(0)
}

pub fn unpack(tar: &Path, dir: &Path) -> Result<i32> {
    let mut f = std::fs::File::open(tar).ctx(|| format!("open {}", tar.display()))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .ctx(|| format!("read {}", tar.display()))?;
    drop(f);
    std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
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
        let r = crate::layer::unpack::unpack(std::io::BufReader::new(out), dir);
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
    crate::layer::unpack::unpack(std::io::BufReader::new(file), dir)?;
    Ok(0)
}
