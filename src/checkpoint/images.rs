//! The image and work directories, and descriptors.json: runc's record
//! (same name, same format: a JSON array) of what the init's fds 0-2 were,
//! so restore can hand CRIU new pipes for the old ones (`inherit_fd`).

use super::rpc::InheritFd;
use crate::error::{Ctx, Error, Result};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub const DESCRIPTORS: &str = "descriptors.json";

/// The image and work directories of one checkpoint or restore, open.
pub struct Dirs {
    pub images: PathBuf,
    pub work: PathBuf,
    pub images_fd: OwnedFd,
    pub work_fd: OwnedFd,
}

/// --image-path (default ./checkpoint, as runc) and --work-path (default
/// the image path). `create`: made (0700) when missing, for checkpoint;
/// restore needs the images to exist.
pub fn open(image: Option<&Path>, work: Option<&Path>, create: bool) -> Result<Dirs> {
    let images = crate::spec::absolute(image.unwrap_or(Path::new("checkpoint")))?;
    let work = match work {
        Some(w) => crate::spec::absolute(w)?,
        None => images.clone(),
    };
    let images_fd = open_dir(&images, create, "--image-path")?;
    let work_fd = open_dir(&work, true, "--work-path")?;
    Ok(Dirs {
        images,
        work,
        images_fd,
        work_fd,
    })
}

fn open_dir(p: &Path, create: bool, flag: &str) -> Result<OwnedFd> {
    if create {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(p)
            .ctx(|| format!("{flag}: mkdir {}", p.display()))?;
    }
    crate::sys::fd::openat(None, p, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .ctx(|| format!("{flag}: open {}", p.display()))
}

/// Writes what fds 0-2 of `pid` are ("pipe:[123]", "/dev/null", ...).
pub fn write_descriptors(dir: &Path, pid: i32) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|n| {
            std::fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let path = dir.join(DESCRIPTORS);
    let data = serde_json::to_vec(&fds)
        .map_err(|e| Error::invalid(format!("encode {DESCRIPTORS}: {e}")))?;
    std::fs::write(&path, data).ctx(|| format!("write {}", path.display()))
}

/// The init's old pipes, each to be replaced by the restoring process's
/// fd of the same number (its stdio: the caller's new pipes), as runc does.
pub fn inherit_fds(dir: &Path) -> Result<Vec<InheritFd>> {
    let path = dir.join(DESCRIPTORS);
    let data =
        std::fs::read(&path).ctx(|| format!("read {} (not a checkpoint?)", path.display()))?;
    let fds: Vec<String> = serde_json::from_slice(&data)
        .map_err(|e| Error::invalid(format!("corrupt {}: {e}", path.display())))?;
    Ok(pipes(&fds))
}

fn pipes(fds: &[String]) -> Vec<InheritFd> {
    fds.iter()
        .enumerate()
        .filter(|(_, t)| t.starts_with("pipe:"))
        .map(|(i, t)| InheritFd {
            key: t.clone(),
            fd: i as i32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pipes_are_inherited() {
        let fds = ["/dev/null", "pipe:[77]", "pipe:[78]"].map(String::from);
        let got: Vec<_> = pipes(&fds).into_iter().map(|i| (i.key, i.fd)).collect();
        assert_eq!(got, [("pipe:[77]".into(), 1), ("pipe:[78]".into(), 2)]);
    }
}
