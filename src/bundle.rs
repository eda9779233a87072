//! Loading a bundle: config.json read safely and validated once, up front,
//! so the container process never meets a config it cannot apply. Each
//! module checks its own fields and this is where they all meet, so no
//! module below needs this one: the loaded `Bundle` and the parsing are
//! spec.rs's.

use crate::error::{Ctx, Error, Result};
use crate::spec::{absolute, Bundle};
use oci_spec::runtime::Spec;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

/// Larger configs are refused rather than read into memory.
const MAX_CONFIG: u64 = 16 << 20;

/// Opens `<dir>/config.json` without following a symlink at the last
/// component and without blocking on a FIFO, checks it is a regular file of
/// sane size, and parses it.
pub fn read_config(dir: &Path) -> Result<Spec> {
    let path = dir.join("config.json");
    let fd = crate::sys::fd::openat(
        None,
        &path,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        0,
    )
    .ctx(|| format!("open {}", path.display()))?;
    let st = crate::sys::fd::fstat(fd.as_fd()).ctx(|| format!("stat {}", path.display()))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Error::invalid(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if st.st_size as u64 > MAX_CONFIG {
        return Err(Error::invalid(format!(
            "{} is larger than {} bytes",
            path.display(),
            MAX_CONFIG
        )));
    }
    let data = read_regular(std::fs::File::from(fd), st.st_size as usize)
        .ctx(|| format!("read {}", path.display()))?;
    check_nesting(&data).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    crate::spec::parse_spec(&data, &path.display().to_string())
}

/// Reads a regular file whose fstat said `size` bytes. std's `read_to_end`
/// would stat it again, lseek, and probe for the end with a second read
/// (three syscalls per create); here the buffer has a byte to spare, so the
/// first read is short at the end of the file and ends it (a regular file only reads
/// short at its end). A file that grew meanwhile is read on, up to
/// MAX_CONFIG.
fn read_regular(mut f: std::fs::File, size: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; size + 1];
    let mut n = 0;
    loop {
        if n == buf.len() {
            if n as u64 > MAX_CONFIG {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("grew past {MAX_CONFIG} bytes while being read"),
                ));
            }
            buf.resize(n * 2, 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(r) => {
                n += r;
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// No OCI config nests deeper than a handful of levels. serde skips unknown
/// fields without a depth limit, so a hostile config could hide any depth
/// there (security.md, bad input: "huge nesting"); refuse it up front.
const MAX_NESTING: usize = 128;

fn check_nesting(data: &[u8]) -> std::result::Result<(), String> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &c in data {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("JSON nested deeper than {MAX_NESTING} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = absolute(dir)?;
    let meta = std::fs::metadata(&dir).ctx(|| format!("bundle {}", dir.display()))?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "bundle {} is not a directory",
            dir.display()
        )));
    }
    let spec = read_config(&dir)?;
    validate(&spec)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("root: missing from config.json"))?;
    let rootfs = dir.join(root.path());
    let rootfs =
        std::fs::canonicalize(&rootfs).ctx(|| format!("root.path {}", rootfs.display()))?;
    if !rootfs.is_dir() {
        return Err(Error::invalid(format!(
            "root.path {} is not a directory",
            rootfs.display()
        )));
    }
    Ok(Bundle { dir, rootfs, spec })
}

fn validate(spec: &Spec) -> Result<()> {
    let v = spec.version();
    let major = v.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(Error::invalid(format!(
            "ociVersion {v:?}: only 1.x configs are supported"
        )));
    }
    // config.md: process is REQUIRED only when start is called; `start`
    // refuses a container without one.
    if let Some(process) = spec.process() {
        validate_process(process)?;
    }
    for m in spec.mounts().as_deref().unwrap_or_default() {
        // Relative destinations are deprecated but allowed: relative to "/".
        if crate::rootfs::resolve::relative(m.destination()) == Path::new(".") {
            return Err(Error::invalid(
                "mounts: destination \"/\" is not allowed (use root.path)",
            ));
        }
    }
    if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::cgroups::resources::validate(r)?;
    }
    refuse_unsupported(spec)?;
    crate::process::attrs::validate(spec)?;
    crate::rootfs::validate(spec)?;
    crate::hooks::validate(spec)?;
    Ok(())
}

fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::invalid("process.args: must name a program"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid(format!(
            "process.cwd {:?}: must be an absolute path",
            process.cwd()
        )));
    }
    for e in process.env().as_deref().unwrap_or_default() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(Error::invalid(format!(
                "process.env {e:?}: must be KEY=VALUE"
            )));
        }
    }
    for r in process.rlimits().as_deref().unwrap_or_default() {
        if r.soft() > r.hard() {
            return Err(Error::invalid(format!(
                "process.rlimits {:?}: soft limit {} is above hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            )));
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::invalid(format!(
                "process.oomScoreAdj {adj}: must be within -1000..1000"
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in process.rlimits().as_deref().unwrap_or_default() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(Error::invalid(format!(
                "process.rlimits: {:?} is listed twice",
                r.typ()
            )));
        }
    }
    Ok(())
}

/// Fields strata does not implement yet are refused by name: a container
/// that silently ran without its RDT settings would be worse than one that
/// does not start. The LSM fields are refused where the host lacks the LSM.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    let l = spec.linux().as_ref();
    crate::security::lsm::check_host(spec.process().as_ref(), l)?;
    let checks: [(bool, &str); 2] = [
        (l.is_some_and(|l| l.intel_rdt().is_some()), "linux.intelRdt"),
        (
            l.is_some_and(|l| l.net_devices().as_ref().is_some_and(|d| !d.is_empty())),
            "linux.netDevices",
        ),
    ];
    for (asked, field) in checks {
        if asked {
            return Err(Error::invalid(format!(
                "{field}: not supported by strata yet"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_nesting;

    #[test]
    fn nesting_is_limited_outside_strings_only() {
        assert!(check_nesting(br#"{"a": [[{"b": "[[[[{{{"}]]}"#).is_ok());
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(check_nesting(deep.as_bytes()).is_err());
        let quoted = format!(r#"{{"s": "\"{}"}}"#, "[".repeat(500));
        assert!(check_nesting(quoted.as_bytes()).is_ok());
    }
}
