//! Finding process.args[0] the way execvp would, but with the container's
//! PATH, so a missing program fails `create` with runc's wording (podman
//! maps "executable file not found in $PATH" to exit code 127).

use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn executable(p: &Path) -> std::io::Result<()> {
    let m = std::fs::metadata(p)?;
    if m.is_dir() || m.permissions().mode() & 0o111 == 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).map_err(std::io::Error::from)
}

pub fn find(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match executable(&p) {
            Ok(()) => Ok(p),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Err(Error::Child {
                errno: libc::ENOENT,
                msg: format!("exec: \"{arg0}\": stat {arg0}: no such file or directory"),
            }),
            Err(e) => Err(Error::Child {
                errno: e.raw_os_error().unwrap_or(libc::EACCES),
                msg: format!("exec: \"{arg0}\": {}", errstr(&e)),
            }),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(arg0);
        if executable(&p).is_ok() {
            return Ok(p);
        }
    }
    Err(Error::Child {
        errno: libc::ENOENT,
        msg: format!("exec: \"{arg0}\": executable file not found in $PATH"),
    })
}

pub use crate::error::errstr;
