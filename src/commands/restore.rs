//! `restore`: a new container from a checkpoint. The state, cgroup and
//! cleanup are create's (`create::new_state`, `resolve_cgroup`,
//! `Cleanup`); CRIU, not strata's init, makes the processes, their
//! namespaces and their mounts. In the foreground it waits for the
//! restored init and deletes the container when it exits, as `run` does.

use super::{create, Global};
use crate::cgroups::Manager;
use crate::checkpoint::{self, criu, images, mounts, rpc};
use crate::cli::RestoreArgs;
use crate::container::Status;
use crate::error::{Ctx, Error, Result};
use crate::state;
use crate::sys::mount as m;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub fn run(g: &Global, a: &RestoreArgs) -> Result<i32> {
    state::validate_id(&a.id)?;
    let b = crate::bundle::load(&a.bundle)?;
    refuse_unsupported(&b.spec, a)?;
    let saved =
        serde_json::to_vec(&b.spec).map_err(|e| Error::invalid(format!("encode config: {e}")))?;
    let exe = checkpoint::require(&format!("restore container {}", a.id))?;
    // Before any directory is opened: CRIU works in the work directory
    // through our fd and mounts its cgroup yard there, and the kernel
    // refuses a mount (EINVAL) on a mount of another namespace.
    private_mount_ns()?;
    let dirs = images::open(
        a.criu.image_path.as_deref(),
        a.criu.work_path.as_deref(),
        false,
    )?;
    let mut inherit = images::inherit_fds(&dirs.images)?;
    let netns = joined_netns(&b.spec)?;
    if let Some(fd) = &netns {
        inherit.push(rpc::InheritFd {
            key: super::checkpoint::NET_KEY.into(),
            fd: fd.as_raw_fd(),
        });
    }
    let ns = crate::namespaces::Plan::from_spec(&b.spec)?;
    let own_pid_ns = ns.new & libc::CLONE_NEWPID != 0;
    drop(ns);
    let (cgroup, with_cgroup) = create::resolve_cgroup(g, &b.spec, &a.id)?;
    let hooks_started = std::cell::Cell::new(false);
    let mut cleanup = create::Cleanup::new(own_pid_ns, &hooks_started);
    let locked = state::claim(&g.root, &a.id)?;
    cleanup.dir = Some(locked.dir.clone());
    let mut st = create::new_state(&a.id, &b, &cgroup, own_pid_ns, None, false);
    locked.write(&st)?;
    locked.write_config(&saved)?;
    cleanup.cgroup = Some(&cgroup);
    if cgroup.create()? {
        st.cgroup = cgroup.saved();
        locked.write(&st)?;
    }
    let resources = b.spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let pending = match resources.filter(|_| with_cgroup) {
        Some(r) => cgroup.apply_before_init(r)?,
        None => crate::cgroups::Deferred::default(),
    };
    // Dropped before `cleanup`: the bind must be gone before a failed
    // restore removes the state directory it sits in.
    let root = CriuRoot::bind(&locked.dir, &b.rootfs)?;
    let mut opts = checkpoint::common_opts(
        &a.criu,
        dirs.images_fd.as_raw_fd(),
        dirs.work_fd.as_raw_fd(),
        "restore.log",
    )?;
    opts.root = Some(root.path.to_string_lossy().into_owned());
    opts.rst_sibling = Some(true);
    opts.evasive_devices = Some(true);
    opts.ext_mnt = mounts::for_restore(&b.spec, &b.dir);
    let inherit_raw: Vec<i32> = netns.iter().map(|f| f.as_raw_fd()).collect();
    opts.inherit_fd = inherit;
    let req = rpc::Req {
        r#type: rpc::ReqType::Restore as i32,
        opts: Some(opts),
        notify_success: None,
    };
    let mut swrk = criu::Swrk::start(&exe, &inherit_raw, true)?;
    // CRIU restores the tasks into its own cgroup's subtree as dumped; it
    // starts in the container's, as runc puts it there.
    if with_cgroup {
        if let Err(e) = cgroup.add_pid(swrk.pid(), false, false) {
            swrk.finish();
            return Err(e);
        }
    }
    let for_hooks = st.clone();
    let console = a.console_socket.clone();
    let mut on_notify = |script: &str, pid: i32, fd: Option<OwnedFd>| -> Result<()> {
        match script {
            "setup-namespaces" => {
                hooks_started.set(true);
                create_hooks(&for_hooks, pid)
            }
            "orphan-pts-master" => send_console(console.as_deref(), fd),
            _ => Ok(()),
        }
    };
    cleanup.poststop = st.hooks.is_some().then(|| st.clone());
    let resp = swrk.call(&req, &mut on_notify);
    let log = dirs.work.join("restore.log");
    let pid = match resp {
        Ok(r) if r.success => r.restore.map(|x| x.pid).unwrap_or(0),
        Ok(r) => {
            swrk.finish();
            return Err(Error::invalid(criu::failure("restore", Some(&r), &log)));
        }
        Err(e) => {
            swrk.finish();
            return Err(Error::invalid(format!(
                "{e}; {}",
                criu::failure("restore", None, &log)
            )));
        }
    };
    swrk.finish();
    drop(root);
    if pid <= 0 {
        return Err(Error::invalid(format!(
            "criu restore answered without a pid (log: {})",
            log.display()
        )));
    }
    cleanup.init = Some(pid);
    st.pid = pid;
    st.start_time = state::start_time(pid).unwrap_or(0);
    st.status = Status::Running;
    locked.write(&st)?;
    pending.finish()?;
    if let Some(p) = &a.pid_file {
        create::write_pid_file(p, pid)?;
    }
    cleanup.disarm();
    if a.detach {
        return Ok(0);
    }
    locked.unlock()?;
    let set = crate::sys::sigset(&[libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
    crate::sys::sigmask(libc::SIG_BLOCK, &set).map_err(|e| Error::sys("sigprocmask", e))?;
    let code = super::run::wait_init(pid, &set)?;
    if locked.relock()? {
        super::delete::destroy_as(locked, &st, Status::Stopped)?;
    }
    Ok(code)
}

fn refuse_unsupported(spec: &oci_spec::runtime::Spec, a: &RestoreArgs) -> Result<()> {
    let layered = spec
        .annotations()
        .as_ref()
        .is_some_and(|m| m.contains_key(crate::rootfs::layers::LAYERS));
    if layered {
        return Err(Error::invalid(
            "restore: a layered rootfs (io.strata.layers) is not supported by checkpoint/restore yet",
        ));
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && !a.criu.shell_job {
        return Err(Error::invalid(
            "restore: the config has process.terminal; CRIU restores a terminal only as a shell job (--shell-job, with --console-socket for the new pty)",
        ));
    }
    Ok(())
}

/// prestart and createRuntime, once CRIU has made the namespaces (runc
/// runs them at the same point).
fn create_hooks(st: &state::State, pid: i32) -> Result<()> {
    let Some(h) = &st.hooks else { return Ok(()) };
    let mut s = st.clone();
    s.pid = pid;
    let doc = super::state::document(&s, Status::Created).to_string();
    crate::hooks::run_created(h, &doc)
}

/// The restored terminal's new master (CRIU's orphan-pts-master) goes to
/// --console-socket, as create sends a new one.
fn send_console(socket: Option<&Path>, fd: Option<OwnedFd>) -> Result<()> {
    let fd = fd.ok_or_else(|| Error::invalid("criu sent no pty master"))?;
    let p = socket.ok_or_else(|| {
        Error::invalid("the restored container has a terminal: --console-socket is required")
    })?;
    let sock = crate::process::relay::connect(p)?;
    crate::sys::fd::send_with_fd(
        std::os::fd::AsFd::as_fd(&sock),
        b"/dev/ptmx",
        Some(fd.as_raw_fd()),
    )
    .ctx(|| format!("send the pty master to {}", p.display()))
}

/// The network namespace the config joins by path, open for CRIU
/// (checkpoint recorded it as external).
fn joined_netns(spec: &oci_spec::runtime::Spec) -> Result<Option<OwnedFd>> {
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let Some(p) = nss
        .iter()
        .filter(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        .find_map(|n| n.path().clone())
    else {
        return Ok(None);
    };
    crate::sys::fd::openat(None, &p, libc::O_RDONLY, 0)
        .map(Some)
        .ctx(|| format!("open network namespace {}", p.display()))
}

/// CRIU's root for the restore: the rootfs bound on `<state dir>/criu-root`
/// (CRIU wants a mount point whose parent is not overmounted), in a mount
/// namespace of this process's own, so nothing shows on the host and a
/// killed restore leaves no mount behind.
struct CriuRoot {
    path: PathBuf,
}

/// strata's own mount namespace, private, for criu: the root bind below
/// (and anything criu leaves mounted) goes with strata, never on the host.
fn private_mount_ns() -> Result<()> {
    crate::sys::clone::unshare(libc::CLONE_NEWNS).ctx(|| "unshare a mount namespace for criu")?;
    m::mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE)
        .ctx(|| "make / private for criu")
}

impl CriuRoot {
    /// In the namespace of `private_mount_ns`.
    fn bind(dir: &Path, rootfs: &Path) -> Result<CriuRoot> {
        let path = dir.join("criu-root");
        std::fs::create_dir(&path).ctx(|| format!("mkdir {}", path.display()))?;
        let r = CriuRoot { path };
        m::mount(Some(rootfs), &r.path, None, libc::MS_BIND | libc::MS_REC)
            .ctx(|| format!("bind {} on {}", rootfs.display(), r.path.display()))?;
        Ok(r)
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        // Not remove_dir_all: were the bind still there, it would empty
        // the rootfs.
        let _ = std::fs::remove_dir(&self.path);
    }
}
