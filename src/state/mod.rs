//! `<root>/<id>/`: one directory per container, claimed with an atomic
//! mkdir, locked with flock for every mutating command, and holding
//! `state.json` written atomically (temp file, fsync, rename).

#[cfg(test)]
mod compat_tests;
mod proc;
mod status;

pub use proc::{process_alive, start_time};
pub use status::Status;

use crate::cgroups::Saved;
use crate::error::{Ctx, Error, Result};
use crate::sys::fd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
/// The config as `create` used it (see `Locked::write_config`).
pub const CONFIG_FILE: &str = "config.json";
/// The create/start gate: init waits in accept() on this socket until
/// `start` connects.
pub const START_SOCKET: &str = "start.sock";
/// The first byte init writes on the start connection, once it has left
/// the gate; what follows (until exec closes the connection) is an error.
pub const START_ACK: u8 = b'+';

/// What strata keeps about a container. A superset of the OCI state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// Recorded status; the live status is derived in `container.rs`.
    pub status: Status,
    pub pid: i32,
    /// Field 22 of /proc/PID/stat, so a reused pid never passes for our init.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Saved,
    /// The container has a pid namespace of its own: killing its init
    /// kills every process of it, and whatever else is in its cgroup is
    /// someone else's. False in older state files: everything in the
    /// cgroup is killed, as before.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// Kept for poststop, which runs at delete when the bundle may be gone.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container layer (overlay upper dir) when the rootfs is layered.
    #[serde(default)]
    pub layer_upper: Option<PathBuf>,
    /// Created with --no-new-keyring: `exec` keeps the caller's session
    /// keyring too, as with runc.
    #[serde(default)]
    pub no_new_keyring: bool,
}

/// What `list` prints of a state file: decoded without the cgroup block
/// (most of a state file) and the hooks, which only a live container's
/// status needs (`container::listed_status`).
#[derive(Debug, Deserialize)]
pub struct Summary {
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub start_time: u64,
    pub bundle: PathBuf,
    pub created: String,
    pub owner: String,
}

/// Default state root: /run/strata as root, $XDG_RUNTIME_DIR/strata when
/// rootless (runc's rule: `rootless::honor_xdg_runtime_dir`)
/// (/tmp/strata-UID without it). A non-root fallback is made
/// 0700 if missing and must be a directory of the caller's own: another
/// user who planted /tmp/strata-UID (or a symlink there) would otherwise
/// read our state (hook environments, annotations) and feed us theirs.
pub fn default_root() -> Result<PathBuf> {
    let uid = nix::unistd::geteuid();
    if !crate::rootless::honor_xdg_runtime_dir() {
        return Ok(PathBuf::from("/run/strata"));
    }
    let root = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("strata"),
        _ => PathBuf::from(format!("/tmp/strata-{uid}")),
    };
    match private_dir(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        r => r.ctx(|| format!("create state root {}", root.display()))?,
    }
    check_owned(&root, uid.as_raw())?;
    Ok(root)
}

/// mkdir -p with 0700 for every directory made.
fn private_dir(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
}

/// `root` is a real directory (not a symlink) owned by `uid`.
pub fn check_owned(root: &Path, uid: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let md =
        std::fs::symlink_metadata(root).ctx(|| format!("stat state root {}", root.display()))?;
    if md.file_type().is_symlink() || !md.is_dir() {
        return Err(Error::invalid(format!(
            "state root {}: not a directory (a symlink?); refusing it (use --root)",
            root.display()
        )));
    }
    if md.uid() != uid {
        return Err(Error::invalid(format!(
            "state root {}: owned by uid {}, not by uid {uid}; refusing it (use --root)",
            root.display(),
            md.uid()
        )));
    }
    Ok(())
}

/// Container ids: `[A-Za-z0-9_+.-]`, not `.` or `..`, at most 255 bytes
/// (one path component).
pub fn validate_id(id: &str) -> Result<()> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
    if crate::security::seccomp::cache::owns(id) {
        // The seccomp cache lives beside the containers' directories.
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: reserved for strata's seccomp cache"
        )));
    }
    if id == crate::rootfs::layers::DEFAULT_STORE {
        // So is the default layer store: `delete --force layers` would
        // otherwise remove it as a directory without a state file.
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: reserved for strata's layer store"
        )));
    }
    if id.is_empty() || id == "." || id == ".." || !ok_chars || id.len() > 255 {
        return Err(Error::invalid(format!(
            "invalid container id {:?}: use 1-255 characters from [A-Za-z0-9_+.-], not \".\" or \"..\"",
            id
        )));
    }
    Ok(())
}

/// A container directory held under an exclusive flock.
pub struct Locked {
    pub dir: PathBuf,
    pub fd: OwnedFd,
}

fn flock(fd: &OwnedFd, dir: &Path) -> Result<()> {
    crate::sys::fd::flock_exclusive(fd.as_fd()).ctx(|| format!("flock {}", dir.display()))
}

/// Claims `id` under `root` with mkdir (atomic: exactly one creator wins).
/// The root is made 0700 and the container directory 0700: state.json
/// holds hook environments and annotations.
pub fn claim(root: &Path, id: &str) -> Result<Locked> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = root.join(id);
    let mkdir = || std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // The root usually exists: it is only made when the mkdir says it is
    // missing (a mkdir EEXIST + stat per create otherwise), or not a
    // directory (then the error names the root).
    let mut made = mkdir();
    if matches!(&made, Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))) {
        private_dir(root).ctx(|| format!("create state root {}", root.display()))?;
        made = mkdir();
    }
    match made {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::invalid(format!("container with id exists: {id}")))
        }
        Err(e) => return Err(Error::sys(format!("mkdir {}", dir.display()), e)),
    }
    let fd = fd::openat(
        None,
        &dir,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
    .ctx(|| format!("open {}", dir.display()))?;
    flock(&fd, &dir)?;
    // A `delete` of the same id may have removed our fresh (state-less)
    // directory between the mkdir and the open, and another create made a
    // new one: the one we locked must be the one at the path.
    if !is_at_path(&fd, &dir)? {
        return Err(Error::invalid(format!("container with id exists: {id}")));
    }
    Ok(Locked { dir, fd })
}

/// Whether the directory open at `fd` is still the one at `path` (same
/// device and inode): after waiting for a flock, the holder may have
/// removed it and someone else made a new one under the same name.
fn is_at_path(fd: &OwnedFd, path: &Path) -> Result<bool> {
    let held = fd::fstat(fd.as_fd()).ctx(|| format!("fstat {}", path.display()))?;
    match nix::sys::stat::lstat(path) {
        Ok(now) => Ok(same_inode(
            (held.st_dev, held.st_ino),
            (now.st_dev, now.st_ino),
        )),
        Err(nix::errno::Errno::ENOENT) => Ok(false),
        Err(e) => Err(Error::sys(format!("stat {}", path.display()), e.into())),
    }
}

fn same_inode(a: (u64, u64), b: (u64, u64)) -> bool {
    a == b
}

/// Locks an existing container directory. Retries when the directory was
/// replaced while we waited for its lock (deleted and created again under
/// the same id): the lock must be on the directory at the path.
pub fn lock(root: &Path, id: &str) -> Result<Locked> {
    validate_id(id)?;
    let dir = root.join(id);
    for _ in 0..8 {
        let fd = match fd::openat(
            None,
            &dir,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        ) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Err(Error::NotExist(id.to_string()))
            }
            Err(e) => return Err(Error::sys(format!("open {}", dir.display()), e)),
        };
        flock(&fd, &dir)?;
        if is_at_path(&fd, &dir)? {
            return Ok(Locked { dir, fd });
        }
        // Deleted meanwhile (ENOENT next time round) or replaced (retry).
    }
    Err(Error::Status(format!(
        "container {id}: its state directory keeps being replaced; try again"
    )))
}

impl Locked {
    /// Writes state.json atomically: a reader sees the old or the new file.
    pub fn write(&self, state: &State) -> Result<()> {
        let data =
            serde_json::to_vec(state).map_err(|e| Error::invalid(format!("encode state: {e}")))?;
        self.write_file(STATE_FILE, &data, true)
    }

    /// Saves the config `create` used (`data`: its JSON): `exec` takes its
    /// defaults from it, never from the bundle (runtime.md: changes to
    /// config.json after create do not affect the container).
    ///
    /// Not fsync'ed, unlike state.json: it is read only by `start` and
    /// `exec`, each after the status check, which finds every container of
    /// a machine that crashed stopped (its processes died with it); `delete`
    /// unlinks it unread. So a config.json lost or torn by a crash is never
    /// read, and the temp+rename still keeps a reader from a half-written one.
    pub fn write_config(&self, data: &[u8]) -> Result<()> {
        self.write_file(CONFIG_FILE, data, false)
    }

    /// `name` in the container directory, written whole: a fresh 0600 temp
    /// file (O_EXCL|O_NOFOLLOW: never through something planted at its
    /// name), fsync'ed when `durable`, renamed over `name`.
    fn write_file(&self, name: &str, data: &[u8], durable: bool) -> Result<()> {
        let tmp_name = format!(".{name}.tmp");
        let tmp = self.dir.join(&tmp_name);
        // A write killed half-way leaves its temp file behind.
        let _ = fd::unlinkat(self.fd.as_fd(), Path::new(&tmp_name));
        let f = fd::openat(
            Some(self.fd.as_fd()),
            Path::new(&tmp_name),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            0o600,
        )
        .ctx(|| format!("create {}", tmp.display()))?;
        let mut f = std::fs::File::from(f);
        f.write_all(data)
            .ctx(|| format!("write {}", tmp.display()))?;
        if durable {
            f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        }
        nix::fcntl::renameat(self.fd.as_fd(), tmp_name.as_str(), self.fd.as_fd(), name)
            .map_err(|e| Error::sys(format!("rename {} to {name}", tmp.display()), e.into()))?;
        Ok(())
    }

    pub fn read(&self) -> Result<Option<State>> {
        read_state_file(&self.dir)
    }

    /// Releases the lock but keeps the directory open, for `relock`.
    pub fn unlock(&self) -> Result<()> {
        fd::flock_unlock(self.fd.as_fd()).ctx(|| format!("unlock {}", self.dir.display()))
    }

    /// Takes the lock again on the directory `unlock` left open (never one
    /// re-created under the same id since). False when that container has
    /// been deleted meanwhile: a removed directory has no state.json left,
    /// and a directory without one holds no container to destroy (as
    /// `lock` + `read` would find).
    pub fn relock(&self) -> Result<bool> {
        flock(&self.fd, &self.dir)?;
        match nix::sys::stat::fstatat(
            self.fd.as_fd(),
            STATE_FILE,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::ENOENT) => Ok(false),
            Err(e) => Err(Error::sys(
                format!("stat {}", self.dir.join(STATE_FILE).display()),
                e.into(),
            )),
        }
    }

    /// Removes the container directory and everything in it. Usually only
    /// state.json and config.json are left: they are unlinked through the
    /// locked fd and the directory removed (3 syscalls, not ~10); anything else in
    /// it (start socket, notify dir, layer) makes the rmdir fail and
    /// `remove_dir_all` does the rest.
    pub fn remove(self) -> Result<()> {
        // Errors here (ENOENT included) are left to remove_dir_all.
        let _ = fd::unlinkat(self.fd.as_fd(), Path::new(STATE_FILE));
        let _ = fd::unlinkat(self.fd.as_fd(), Path::new(CONFIG_FILE));
        if std::fs::remove_dir(&self.dir).is_ok() {
            return Ok(());
        }
        std::fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))
    }

    pub fn dirfd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Reads the state of `id` without locking (readers tolerate concurrent
/// deletes: a vanished directory reads as "does not exist").
pub fn load(root: &Path, id: &str) -> Result<State> {
    validate_id(id)?;
    match read_state_file(&root.join(id))? {
        Some(s) => Ok(s),
        None => Err(Error::NotExist(id.to_string())),
    }
}

/// The saved config's `process` and `linux`: all that `exec` reads. The
/// rest (mounts, root, hooks, annotations) is skipped, never built.
#[derive(Deserialize)]
struct ExecConfig {
    #[serde(default)]
    process: Option<oci_spec::runtime::Process>,
    #[serde(default)]
    linux: Option<oci_spec::runtime::Linux>,
}

/// Whether the saved config has a `process` (`start`), left undecoded.
#[derive(Deserialize)]
struct ProcessPresence {
    #[serde(default)]
    process: Option<serde::de::IgnoredAny>,
}

/// The config `create` saved for `id`, decoded as `T`; None for a
/// container made by a strata that did not save it.
fn load_config_as<T: serde::de::DeserializeOwned>(root: &Path, id: &str) -> Result<Option<T>> {
    validate_id(id)?;
    let path = root.join(id).join(CONFIG_FILE);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::sys(format!("read {}", path.display()), e)),
    };
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|e| Error::invalid(format!("corrupt saved config {}: {e}", path.display())))
}

/// The whole saved config (`checkpoint`: mounts, masked paths, terminal).
pub fn load_config(root: &Path, id: &str) -> Result<Option<oci_spec::runtime::Spec>> {
    load_config_as(root, id)
}

/// The saved config as `exec` needs it: a `Spec` with only `process` and
/// `linux` set.
pub fn load_exec_config(root: &Path, id: &str) -> Result<Option<oci_spec::runtime::Spec>> {
    let Some(c) = load_config_as::<ExecConfig>(root, id)? else {
        return Ok(None);
    };
    // Not Spec::default, which fills in a sample config: an empty document
    // leaves every field unset. from_slice, not from_str: the Spec decoder
    // for byte input is in the binary anyway, and one for &str is a second
    // copy of it.
    let mut spec: oci_spec::runtime::Spec = serde_json::from_slice(b"{}")
        .map_err(|e| Error::invalid(format!("an empty config does not decode: {e}")))?;
    spec.set_process(c.process);
    spec.set_linux(c.linux);
    Ok(Some(spec))
}

/// `start`: whether the saved config has a `process`; None without a
/// saved config.
pub fn config_has_process(root: &Path, id: &str) -> Result<Option<bool>> {
    Ok(load_config_as::<ProcessPresence>(root, id)?.map(|c| c.process.is_some()))
}

/// `load` for `list`: the state file of `id` under the open root `root`.
pub fn load_at(root: std::os::fd::BorrowedFd, id: &str) -> Result<State> {
    validate_id(id)?;
    let rel = Path::new(id).join(STATE_FILE);
    match fd::read_small_bytes_at(root, &rel) {
        Ok(b) => parse_state(&b, &rel),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotExist(id.to_string())),
        Err(e) => Err(Error::sys(format!("read {}", rel.display()), e)),
    }
}

/// `load_at`, decoding only the `Summary`.
pub fn load_summary_at(root: std::os::fd::BorrowedFd, id: &str) -> Result<Summary> {
    validate_id(id)?;
    let rel = Path::new(id).join(STATE_FILE);
    match fd::read_small_bytes_at(root, &rel) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::invalid(format!("corrupt state file {}: {e}", rel.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotExist(id.to_string())),
        Err(e) => Err(Error::sys(format!("read {}", rel.display()), e)),
    }
}

fn read_state_file(dir: &Path) -> Result<Option<State>> {
    let path = dir.join(STATE_FILE);
    // open, one read, close: File::read_to_end adds a statx, an lseek and a
    // second read, per container in `list`. A short read is the end: the
    // file is replaced by rename, never written in place.
    let buf = match fd::read_small_bytes(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::sys(format!("read {}", path.display()), e)),
    };
    parse_state(&buf, &path).map(Some)
}

fn parse_state(buf: &[u8], path: &Path) -> Result<State> {
    serde_json::from_slice(buf)
        .map_err(|e| Error::invalid(format!("corrupt state file {}: {e}", path.display())))
}

/// Ids of every container directory under `root` (sorted).
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::sys(format!("read {}", root.display()), e)),
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !crate::security::seccomp::cache::owns(n))
        .filter(|n| n != crate::rootfs::layers::DEFAULT_STORE)
        .collect();
    ids.sort();
    Ok(ids)
}

/// Current time as RFC 3339 with nanoseconds, UTC (like runc's `created`).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for bad in ["", ".", "..", "a/b", "a b", "a\nb", &"x".repeat(256)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "A-b_c.d+e", "..a", &"x".repeat(255)] {
            assert!(validate_id(good).is_ok(), "{good:?}");
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("strata-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    #[test]
    fn locked_dir_replaced_is_noticed() {
        let d = scratch("replaced");
        let dir = d.join("c");
        std::fs::create_dir(&dir).expect("mkdir");
        let fd = fd::openat(None, &dir, libc::O_RDONLY | libc::O_DIRECTORY, 0).expect("open");
        assert!(is_at_path(&fd, &dir).expect("check"));
        std::fs::rename(&dir, d.join("old")).expect("rename");
        assert!(!is_at_path(&fd, &dir).expect("check when gone"));
        std::fs::create_dir(&dir).expect("mkdir again");
        assert!(!is_at_path(&fd, &dir).expect("check when replaced"));
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn foreign_or_symlinked_root_refused() {
        use std::os::unix::fs::MetadataExt;
        let d = scratch("owned");
        let me = std::fs::metadata(&d).expect("stat").uid();
        assert!(check_owned(&d, me).is_ok());
        assert!(check_owned(&d, me.wrapping_add(1)).is_err());
        let link = d.join("link");
        std::os::unix::fs::symlink(&d, &link).expect("symlink");
        assert!(check_owned(&link, me).is_err());
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn exec_config_is_process_and_linux_only() {
        let d = scratch("config");
        std::fs::create_dir(d.join("c")).expect("mkdir");
        let save = |spec: &oci_spec::runtime::Spec| {
            let data = serde_json::to_vec(spec).expect("encode");
            std::fs::write(d.join("c").join(CONFIG_FILE), data).expect("write");
        };
        let mut full = oci_spec::runtime::Spec::default();
        save(&full);
        let spec = load_exec_config(&d, "c").expect("load").expect("saved");
        assert_eq!(spec.process(), full.process());
        assert_eq!(spec.linux(), full.linux());
        assert!(spec.mounts().is_none() && spec.root().is_none() && spec.hostname().is_none());
        assert_eq!(config_has_process(&d, "c").expect("read"), Some(true));
        full.set_process(None);
        save(&full);
        assert_eq!(config_has_process(&d, "c").expect("read"), Some(false));
        assert_eq!(config_has_process(&d, "gone").expect("read"), None);
        std::fs::write(d.join("c").join(CONFIG_FILE), "{").expect("write");
        assert!(load_exec_config(&d, "c").is_err());
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
    }
}
