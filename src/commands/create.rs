//! `create`: make the container and leave its init waiting at the start
//! gate. Also the first half of `run`.

use super::Global;
use crate::bundle;
use crate::cgroups::{self, Cgroup, Manager};
use crate::cli::CreateArgs;
use crate::container::Status;
use crate::error::{Ctx, Result};
use crate::namespaces::Plan;
use crate::process::channel::Channel;
use crate::process::request::{Gate, Request};
use crate::process::spawn;
use crate::state::{self, Locked, State};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub struct Created {
    pub pid: i32,
    pub chan: Channel,
    pub locked: Locked,
    pub state: State,
    /// `run` in the foreground with process.terminal and no
    /// --console-socket: the pty master comes back here for the relay.
    pub tty: Option<crate::process::relay::Pending>,
}

/// Undoes a half-made container: its cgroup and its state directory, and
/// runs poststop hooks once the create hooks have started (runtime.md:
/// a failed prestart/createRuntime/createContainer hook continues the
/// lifecycle at destroy + poststop).
/// (Also restore's, with the restored process as `init`.)
pub struct Cleanup<'a> {
    pub cgroup: Option<&'a Cgroup>,
    /// The init once `spawn` returned it (before, spawn kills its own).
    pub init: Option<i32>,
    own_pid_ns: bool,
    pub dir: Option<PathBuf>,
    /// The state for poststop, and whether the create hooks have started.
    pub poststop: Option<State>,
    hooks_started: &'a std::cell::Cell<bool>,
}

impl<'a> Cleanup<'a> {
    /// Nothing to undo yet; each field is set once its object exists.
    pub fn new(own_pid_ns: bool, hooks_started: &'a std::cell::Cell<bool>) -> Self {
        Cleanup {
            cgroup: None,
            init: None,
            own_pid_ns,
            dir: None,
            poststop: None,
            hooks_started,
        }
    }

    /// Success: undo nothing.
    pub fn disarm(&mut self) {
        self.cgroup = None;
        self.init = None;
        self.dir = None;
        self.poststop = None;
    }
}

/// The container's cgroup from the config, and whether it has one at all
/// (rootless without a cgroup: an empty one, nothing to make or join).
pub fn resolve_cgroup(
    g: &Global,
    spec: &oci_spec::runtime::Spec,
    id: &str,
) -> Result<(Cgroup, bool)> {
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_deref());
    let cgroup = cgroups::resolve(cgroups_path, id, g.systemd_cgroup)?;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let explicit_path = cgroups_path.is_some_and(|p| !p.as_os_str().is_empty());
    let rootless_cg = crate::rootless::cgroup(cgroup, resources, explicit_path)?;
    let with_cgroup = rootless_cg.is_some();
    Ok((rootless_cg.unwrap_or_default(), with_cgroup))
}

/// The state a new container starts with: `creating`, no pid yet.
pub fn new_state(
    id: &str,
    b: &crate::spec::Bundle,
    cgroup: &Cgroup,
    own_pid_ns: bool,
    layer_upper: Option<PathBuf>,
    no_new_keyring: bool,
) -> State {
    State {
        oci_version: crate::SPEC_VERSION.to_string(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        start_time: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: b
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: cgroup.saved(),
        own_pid_ns,
        hooks: b.spec.hooks().clone(),
        layer_upper,
        no_new_keyring,
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.init {
            // Reaped when it is our child; ECHILD otherwise.
            crate::sys::clone::kill_and_reap(pid);
        }
        if let Some(cg) = self.cgroup {
            if let Err(e) = cg.destroy(!self.own_pid_ns) {
                tracing::warn!("cleanup: {e}");
            }
        }
        if let Some(d) = &self.dir {
            // Best effort while unwinding: the create's own error is reported.
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(st) = self.poststop.as_ref().filter(|_| self.hooks_started.get()) {
            super::delete::poststop(st);
        }
    }
}

pub fn run(g: &Global, o: &CreateArgs) -> Result<i32> {
    create(g, o, false, false)?;
    Ok(0)
}

/// Creates the container. With `for_run`, the init waits for `Start` on the
/// channel instead of the start socket; with `relay` too (foreground), a
/// terminal without --console-socket is relayed by the caller.
pub fn create(g: &Global, o: &CreateArgs, for_run: bool, relay: bool) -> Result<Created> {
    state::validate_id(&o.id)?;
    let mut b = bundle::load(&o.bundle)?;
    // Before anything is made: this may re-execute strata (CVE-2019-5736).
    crate::process::readonly_exe::ensure(&b.spec)?;
    // Saved for `exec` as the bundle gave it: without the init's own
    // LISTEN_FDS and NOTIFY_SOCKET, which no exec'd process should get.
    // Encoded now rather than cloned: the bytes are all that is written.
    let saved = serde_json::to_vec(&b.spec)
        .map_err(|e| crate::error::Error::invalid(format!("encode config: {e}")))?;
    let listen = socket_activation(&mut b.spec)?;
    let ns = Plan::from_spec(&b.spec)?;
    let mut layers = crate::rootfs::layers::from_spec(
        &b.spec,
        &g.root.join(&o.id).join("layer"),
        &g.layer_store,
    )?;
    let seccomp = b
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::security::seccomp::cache::compile(s, &g.root))
        .transpose()?;
    let (cgroup, with_cgroup) = resolve_cgroup(g, &b.spec, &o.id)?;
    let terminal = b
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let (console, tty) =
        crate::process::relay::console(o.console_socket.as_deref(), terminal && relay)?;
    let hooks_started = std::cell::Cell::new(false);
    // Made before the lock, so dropped after it: on failure the lock's fd is
    // closed before the directory is removed (under EMFILE that fd is the
    // one the removal needs).
    let own_pid_ns = ns.new & libc::CLONE_NEWPID != 0;
    let mut cleanup = Cleanup::new(own_pid_ns, &hooks_started);
    let locked = state::claim(&g.root, &o.id)?;
    cleanup.dir = Some(locked.dir.clone());
    crate::process::notify::prepare(&mut b.spec, &locked.dir)?;
    let mut st = new_state(
        &o.id,
        &b,
        &cgroup,
        own_pid_ns,
        layers.as_ref().map(|l| l.upper.clone()),
        o.no_new_keyring,
    );
    // The cgroup path is on disk before the cgroup exists, so a create
    // killed from here on can still be cleaned up by `delete --force`.
    locked.write(&st)?;
    locked.write_config(&saved)?;
    if b.spec.process().is_none() {
        // config.md: process is REQUIRED only when start is called. The
        // init is set up without one and `start` refuses the container.
        b.spec.set_process(Some(placeholder_process()));
    }
    cleanup.cgroup = Some(&cgroup);
    if cgroup.create()? {
        st.cgroup = cgroup.saved();
        locked.write(&st)?;
    }
    if let Some(l) = &mut layers {
        l.prepare()?;
    }
    let resources = b.spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let pending = match resources.filter(|_| with_cgroup) {
        Some(r) => cgroup.apply_before_init(r)?,
        None => cgroups::Deferred::default(),
    };
    let gate = if for_run {
        Gate::Channel
    } else {
        Gate::Socket(
            crate::sys::fd::listen_unix(locked.dirfd(), state::START_SOCKET)
                .ctx(|| "listen on the start socket")?,
        )
    };
    let req = Request {
        bundle: &b,
        ns: &ns,
        cgroup: &cgroup,
        gate,
        preserve_fds: o.preserve_fds + listen,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        id: &o.id,
        console,
        close_in_child: vec![locked.fd.as_raw_fd()],
        seccomp,
        exec: false,
        layers,
    };
    // No state write for the pid alone: until `Ready` the child dies with
    // us (PDEATHSIG), and the `creating` state already names the cgroup
    // that `delete --force` empties.
    let for_hooks = st.clone();
    cleanup.poststop = st.hooks.is_some().then(|| st.clone());
    let on_hooks = |pid: i32| -> Result<String> {
        hooks_started.set(true);
        let mut s = for_hooks.clone();
        s.pid = pid;
        // runtime.md State: `created` is "after step 2 in the lifecycle", and
        // these hooks are steps 3 and 4 (runc 1.1 sends `creating`).
        let doc = super::state::document(&s, Status::Created).to_string();
        if let Some(h) = &s.hooks {
            crate::hooks::run_created(h, &doc)?;
        }
        Ok(doc)
    };
    let spawned = spawn::spawn(
        req,
        |pid| {
            st.pid = pid;
            st.start_time = state::start_time(pid)?;
            Ok(())
        },
        on_hooks,
    )?;
    cleanup.init = Some(spawned.pid);
    pending.finish()?;
    st.status = Status::Created;
    locked.write(&st)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, spawned.pid)?;
    }
    if let Some(p) = &o.pidfd_socket {
        send_pidfd(p, spawned.pid)?;
    }
    cleanup.disarm();
    Ok(Created {
        pid: spawned.pid,
        chan: spawned.chan,
        locked,
        state: st,
        tty,
    })
}

/// The init of a config without `process`: root, "/", nothing to exec
/// (empty args: the init fails at the gate if it is ever opened).
fn placeholder_process() -> oci_spec::runtime::Process {
    let mut p = oci_spec::runtime::Process::default();
    p.set_args(Some(vec![]));
    p.set_env(None);
    p.set_rlimits(None);
    p.set_capabilities(None);
    p
}

pub use crate::process::relay::connect;

/// The pid file is written whole (temp + rename): containerd reads it as
/// soon as create returns. The temp file is made fresh (O_EXCL|O_NOFOLLOW)
/// after removing whatever has its name: a symlink planted there must not
/// make us write through it into a host file.
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    use std::io::Write;
    let p = crate::spec::absolute(p)?;
    let tmp = p.with_file_name(format!(
        ".{}.tmp",
        p.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    let ctx = || format!("write --pid-file {}", tmp.display());
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).ctx(ctx),
        _ => {}
    }
    let fd = crate::sys::fd::openat(
        None,
        &tmp,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o644,
    )
    .ctx(ctx)?;
    std::fs::File::from(fd)
        .write_all(pid.to_string().as_bytes())
        .ctx(ctx)?;
    std::fs::rename(&tmp, &p).ctx(|| format!("write --pid-file {}", p.display()))
}

/// --pidfd-socket: hand the caller a pidfd of the init.
pub fn send_pidfd(p: &Path, pid: i32) -> Result<()> {
    let fd = crate::sys::pidfd::open(pid).ctx(|| format!("pidfd_open {pid}"))?;
    let s = std::os::unix::net::UnixStream::connect(p)
        .ctx(|| format!("connect to --pidfd-socket {}", p.display()))?;
    crate::sys::fd::send_with_fd(std::os::fd::AsFd::as_fd(&s), b"pidfd", Some(fd.as_raw_fd()))
        .ctx(|| format!("send pidfd to {}", p.display()))?;
    Ok(())
}

/// Socket activation (systemd's LISTEN_FDS): when strata is started with
/// LISTEN_FDS=N, fds 3..3+N pass into the container ahead of any
/// --preserve-fds, and the container gets LISTEN_FDS=N and LISTEN_PID=1,
/// as runc does. Only when LISTEN_PID names this process (sd_listen_fds(3),
/// and runc): variables inherited from a socket-activated ancestor describe
/// its fds, not ours. Returns N.
fn socket_activation(spec: &mut oci_spec::runtime::Spec) -> Result<u32> {
    let Ok(v) = std::env::var("LISTEN_FDS") else {
        return Ok(0);
    };
    let pid = std::env::var("LISTEN_PID").unwrap_or_default();
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(0);
    }
    let n: u32 = v
        .trim()
        .parse()
        .map_err(|_| crate::error::Error::invalid(format!("LISTEN_FDS={v:?}: not a number")))?;
    if n == 0 {
        return Ok(0);
    }
    if let Some(p) = spec.process_mut() {
        let mut env: Vec<String> = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
    Ok(n)
}
