//! Finding process.args[0] the way execvp would, but with the container's
//! PATH, and opening it so that what runs is exactly what was checked, so a missing program fails `create` with runc's wording (podman
//! maps "executable file not found in $PATH" to exit code 127).

use crate::error::{Error, Result};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn executable(p: &Path) -> std::io::Result<()> {
    let m = std::fs::metadata(p)?;
    check_mode(m.is_dir(), m.permissions().mode())?;
    access_x(p)
}

/// What execve would refuse before trying: a directory, or a file with
/// no execute bit at all.
fn check_mode(dir: bool, mode: u32) -> std::io::Result<()> {
    if dir || mode & 0o111 == 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    Ok(())
}

/// Execute permission for the user the process now runs as (ACLs,
/// capabilities and noexec mounts included).
fn access_x(p: &Path) -> std::io::Result<()> {
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).map_err(std::io::Error::from)
}

/// process.args[0] found (execvp's PATH search with the container's PATH)
/// and opened for execveat: see [`open_target`].
pub fn target(args: &[String], env: &[String], runtime: (u64, u64)) -> Result<Target> {
    let arg0 = args.first().map(String::as_str).unwrap_or_default();
    if arg0.contains('/') {
        // Checked on the fd open_target opens: one lookup instead of a
        // stat before it.
        return open_target(Path::new(arg0), args, runtime, true);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(arg0);
        if executable(&p).is_ok() {
            return open_target(&p, args, runtime, false);
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
/// `check`: `path` is process.args[0] as given, not yet checked like a
/// PATH search result: its errors get runc's wording here.
fn open_target(path: &Path, args: &[String], runtime: (u64, u64), check: bool) -> Result<Target> {
    let mut path = path.to_path_buf();
    let mut argv = args.to_vec();
    let mut check = check;
    let child = |p: &Path, e: std::io::Error| Error::Child {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        msg: format!("exec: \"{}\": {}", p.display(), errstr(&e)),
    };
    // The kernel's limit on nested interpreters (BINPRM_MAX_RECURSION).
    for _ in 0..5 {
        // O_NONBLOCK|O_NOCTTY: a FIFO or a tty named as the program is
        // opened without waiting or becoming our terminal (execveat
        // refuses it later).
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = crate::sys::fd::openat(None, &path, flags, 0)
            .or_else(|_| crate::sys::fd::openat(None, &path, libc::O_PATH, 0))
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) if check => Error::Child {
                    errno: libc::ENOENT,
                    msg: format!(
                        "exec: \"{0}\": stat {0}: no such file or directory",
                        path.display()
                    ),
                },
                _ => child(&path, e),
            })?;
        let st = crate::sys::fd::fstat(fd.as_fd())
            .map_err(|e| Error::sys(format!("stat {}", path.display()), e))?;
        if check {
            check_mode(st.st_mode & libc::S_IFMT == libc::S_IFDIR, st.st_mode)
                .and_then(|()| access_x(&path))
                .map_err(|e| child(&path, e))?;
            check = false;
        }
        if (st.st_dev, st.st_ino) == runtime {
            return Err(Error::Child {
                errno: libc::EPERM,
                msg: format!("exec: \"{}\": refusing to run the runtime binary inside the container (CVE-2019-5736)", path.display()),
            });
        }
        // pread leaves the fd as it is (an O_PATH one just reads nothing).
        let mut head = [0u8; 256];
        let n = nix::sys::uio::pread(fd.as_fd(), &mut head, 0).unwrap_or(0);
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
