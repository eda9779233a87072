//! Finding process.args[0] the way execvp would, but with the container's
//! PATH, and opening it so that what runs is exactly what was checked, so a missing program fails `create` with runc's wording (podman
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

/// The file to execveat and the argv to give it.
pub struct Target {
    pub fd: std::os::fd::OwnedFd,
    pub argv: Vec<String>,
}

/// Opens `path` for execution and refuses the runtime's own binary
/// (CVE-2019-5736: a container whose entrypoint is `/proc/self/exe`, or a
/// script with it as interpreter, would run the host's strata and could
/// then overwrite it through /proc/PID/exe). Scripts are resolved here as
/// the kernel's binfmt_script would, so the interpreter is checked too and
/// execveat runs the verified fd: nothing is looked up again after the
/// check, so a process racing in the container cannot swap it.
pub fn open_target(path: &Path, args: &[String], runtime: (u64, u64)) -> Result<Target> {
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut path = path.to_path_buf();
    let mut argv = args.to_vec();
    // The kernel's limit on nested interpreters (BINPRM_MAX_RECURSION).
    for _ in 0..5 {
        let fd = crate::sys::fd::openat(None, &path, libc::O_RDONLY, 0)
            .or_else(|_| crate::sys::fd::openat(None, &path, libc::O_PATH, 0))
            .map_err(|e| Error::Child {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                msg: format!("exec: \"{}\": {}", path.display(), errstr(&e)),
            })?;
        let st = crate::sys::fd::fstat(fd.as_fd())
            .map_err(|e| Error::sys(format!("stat {}", path.display()), e))?;
        if (st.st_dev, st.st_ino) == runtime {
            return Err(Error::Child {
                errno: libc::EPERM,
                msg: format!("exec: \"{}\": refusing to run the runtime binary inside the container (CVE-2019-5736)", path.display()),
            });
        }
        let mut head = [0u8; 256];
        let n = std::fs::File::from(fd.try_clone().map_err(|e| Error::sys("dup", e))?)
            .read(&mut head)
            .unwrap_or(0);
        let Some(line) = head[..n].strip_prefix(b"#!") else {
            return Ok(Target { fd, argv });
        };
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let line = line.trim_matches(|c| c == ' ' || c == '\t');
        let (interp, arg) = match line.split_once([' ', '\t']) {
            Some((i, a)) => (i, Some(a.trim_matches(|c| c == ' ' || c == '\t'))),
            None => (line, None),
        };
        if interp.is_empty() {
            return Ok(Target { fd, argv });
        }
        let mut next = vec![interp.to_string()];
        next.extend(arg.filter(|a| !a.is_empty()).map(str::to_string));
        next.push(path.display().to_string());
        next.extend(argv.iter().skip(1).cloned());
        argv = next;
        path = PathBuf::from(interp);
    }
    Err(Error::Child {
        errno: libc::ELOOP,
        msg: format!("exec: \"{}\": too many levels of interpreters", args[0]),
    })
}

/// (st_dev, st_ino) of the running binary, taken before any namespace
/// change.
pub fn runtime_identity() -> (u64, u64) {
    std::fs::metadata("/proc/self/exe")
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        })
        .unwrap_or((0, 0))
}
