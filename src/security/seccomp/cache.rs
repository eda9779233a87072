//! Compiled seccomp programs, cached by content under the state root:
//! `<root>/.seccomp-cache/<sha256>.bpf`. libseccomp needs ~50 ms here to
//! turn Docker's default profile into BPF; loading the cached program is
//! one seccomp(2) call.
//!
//! The name is the SHA-256 of the filter as config.json states it, plus
//! everything else the program depends on (strata's binary, by device,
//! inode, size and mtime; libseccomp's version and API level, which
//! reflects the kernel). A file
//! holds the program followed by the SHA-256 of the program; it is written
//! to a temporary name and renamed, and a file that fails the check is
//! recompiled and replaced. The root is the runtime's own (0700 under
//! /run): whoever can write there can already change every container.
//! Filters with SCMP_ACT_NOTIFY are not cached: libseccomp loads them to
//! get the listener fd.

use super::{compile, Filter};
use crate::error::Result;
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The cache's directory in the state root, beside the containers'.
const DIR: &str = ".seccomp-cache";

/// The kernel takes at most BPF_MAXINSNS (4096) instructions of 8 bytes.
const MAX_PROG: usize = 4096 * 8;

/// `compile::compile`, with the program taken from or put into the cache.
/// Any cache problem (read-only root, a damaged file) falls back to
/// compiling; it never fails a create.
pub fn compile(s: &LinuxSeccomp, root: &Path) -> Result<Filter> {
    if compile::wants_notify(s) {
        return compile::compile(s);
    }
    let Some(path) = entry(s, root) else {
        return compile::compile(s);
    };
    let flags = compile::kernel_flags(s);
    if let Some(prog) = read(&path) {
        return Ok(Filter::from_bpf(prog, flags));
    }
    let f = compile::compile(s)?;
    match write(&f, &path) {
        Ok(prog) => Ok(Filter::from_bpf(prog, flags)),
        Err(e) => {
            tracing::debug!("seccomp cache: {}: {e}", path.display());
            Ok(f)
        }
    }
}

/// Whether `name`, an entry of the state root, is the cache's: it is no
/// container, and no container may take its name.
pub fn owns(name: &str) -> bool {
    name == DIR
}

fn entry(s: &LinuxSeccomp, root: &Path) -> Option<PathBuf> {
    let v = libseccomp::ScmpVersion::current().ok()?;
    // The binary itself is part of the key, not just its version number: a
    // rebuilt or upgraded strata (a fixed translation, say) must not load a
    // program an older one made.
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    let mut key = format!(
        "strata {} exe {}:{}:{}:{}.{} libseccomp {}.{}.{} api {}\n",
        env!("CARGO_PKG_VERSION"),
        exe.dev(),
        exe.ino(),
        exe.len(),
        exe.mtime(),
        exe.mtime_nsec(),
        v.major,
        v.minor,
        v.micro,
        libseccomp::get_api()
    )
    .into_bytes();
    key.extend(serde_json::to_vec(s).ok()?);
    let name = format!("{}.bpf", hex(&sha256(&key)));
    Some(root.join(DIR).join(name))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The program, if the file holds one whose checksum matches.
fn read(path: &Path) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take((MAX_PROG + 32 + 1) as u64)
        .read_to_end(&mut data)
        .ok()?;
    if data.len() < 8 + 32 || data.len() > MAX_PROG + 32 || !(data.len() - 32).is_multiple_of(8) {
        return None;
    }
    let sum = data.split_off(data.len() - 32);
    (sha256(&data)[..] == sum[..]).then_some(data)
}

/// Exports the program into a temporary file beside `path`, appends its
/// checksum and renames it into place; returns the program.
fn write(f: &Filter, path: &Path) -> std::io::Result<Vec<u8>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let result = (|| {
        f.export(&file)?;
        file.rewind()?;
        let mut prog = Vec::new();
        (&file).take(MAX_PROG as u64 + 1).read_to_end(&mut prog)?;
        if prog.is_empty() || prog.len() > MAX_PROG || !prog.len().is_multiple_of(8) {
            return Err(std::io::Error::other(
                "libseccomp exported no usable program",
            ));
        }
        file.write_all(&sha256(&prog))?;
        std::fs::rename(&tmp, path)?;
        Ok(prog)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_checks_the_checksum() {
        let dir = std::env::temp_dir().join(format!("strata-seccomp-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.bpf");
        let prog: Vec<u8> = (0..64).collect();
        let mut data = prog.clone();
        data.extend(sha256(&prog));
        std::fs::write(&p, &data).unwrap();
        assert_eq!(read(&p), Some(prog));
        data[3] ^= 1;
        std::fs::write(&p, &data).unwrap();
        assert_eq!(read(&p), None, "flipped bit");
        std::fs::write(&p, &data[..data.len() - 1]).unwrap();
        assert_eq!(read(&p), None, "truncated");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
