//! The container process: the child's half of the protocol
//! (docs/architecture.md, "Parent/child protocol").
//! Ordered steps from namespaces to execve; every failure is sent to the
//! parent as `Error { errno, msg }` and the process exits.

use super::channel::{Channel, Msg};
use super::request::{Gate, Request};
use crate::container::Status;
use crate::error::{Ctx as _, Error, Result};
use crate::security::{caps, rlimits, user};
use crate::sys::{self, clone, fd};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

pub struct Child<'a> {
    pub req: &'a Request<'a>,
    pub chan: &'a Channel,
    pub caps: caps::Sets,
    /// The bounding set held at the drop, when known (`caps::held`).
    pub bounding_held: Option<u64>,
    /// SigIgn, read by the runtime before the clone (we inherited it).
    pub ignored: Option<u64>,
    pub single: bool,
    /// The parent joined the pid namespace before the clone (`exec`).
    pub pid_joined: bool,
    /// (dev, inode) of the strata binary, which must never run inside.
    pub runtime: (u64, u64),
    pub idmapped: &'a crate::rootfs::idmap::Trees,
}

/// Never returns: execs the payload or exits.
pub fn run(ctx: &Child) -> ! {
    let err = match steps(ctx) {
        Ok(e) | Err(e) => e,
    };
    // Best effort: a parent that cannot be told is gone, and we exit anyway.
    let _ = ctx.chan.send(&Msg::Error {
        errno: err.errno(),
        msg: err.to_string(),
    });
    sys::exit_now(1)
}

/// How far `steps` got: an error before the gate goes over the channel;
/// after it, to whoever opened the gate.
fn steps(ctx: &Child) -> Result<Error> {
    let req = ctx.req;
    let spec = &req.bundle.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process: missing"))?;
    // Die with the runtime while being set up; and stay non-dumpable so no
    // other process can reach into us through /proc until execve.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as _, 0).ctx(|| "prctl PR_SET_PDEATHSIG")?;
    // A rootless parent writes our id maps as a plain user, and a
    // non-dumpable process's /proc/PID/uid_map belongs to root: stay
    // dumpable (reachable only by the caller's own uid) until they are in.
    let maps_by_user = crate::rootless::active() && req.ns.new & libc::CLONE_NEWUSER != 0;
    if !maps_by_user {
        sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).ctx(|| "prctl PR_SET_DUMPABLE")?;
    }
    let ignored = ctx.ignored;
    if matches!(req.gate, Gate::Socket(_)) {
        // `create`: we may wait at the gate long after the runtime exited;
        // its caller's fds (a pipe it reads to EOF) must not stay open here.
        // Stdio and --preserve-fds stay for the payload.
        fd::close_inherited_from(3 + req.preserve_fds);
    }
    ctx.chan.expect(Msg::Go)?;
    if req.exec {
        // Through the host's cgroupfs: before any chroot or namespace join.
        req.cgroup.join_v1_self()?;
    }
    if let Some(root) = &req.ns.root {
        // `exec` into a container without a mount namespace: enter its
        // root as the init did, or the process would run in the host's;
        // before joining a user namespace, which has no say over our root.
        fd::fchdir(root.as_fd()).ctx(|| "chdir to the container's root")?;
        sys::chroot_dot().ctx(|| "chroot to the container's root")?;
    }
    if !ctx.single {
        join_namespaces(ctx)?;
    }
    if req.ns.user() {
        // Become root of the new user namespace: mounts and mknod need it.
        sys::setresgid(0).ctx(|| "setresgid 0 in the user namespace")?;
        sys::setresuid(0).ctx(|| "setresuid 0 in the user namespace")?;
    }
    if maps_by_user {
        sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).ctx(|| "prctl PR_SET_DUMPABLE")?;
    }
    nix::unistd::setsid().map_err(|e| Error::sys("setsid", e.into()))?;
    if !req.no_new_keyring {
        session_keyring(req.id, process, !req.exec && req.ns.user())?;
    }
    let state_json = if req.exec {
        String::new()
    } else {
        build_container(ctx)?
    };
    if process.terminal().unwrap_or(false) {
        let sock = req.console.as_ref().ok_or_else(|| {
            Error::invalid("process.terminal is true but no --console-socket was given")
        })?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        super::console::setup(sock.as_fd(), size, !req.exec)?;
    }
    enter_cwd(process.cwd())?;
    // Read as root, before the user switch, from the container's root.
    let env = with_home(
        process.env().as_deref().unwrap_or_default(),
        process.user().uid(),
    );
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    super::attrs::apply(spec, process, req.exec)?;
    // Last of the privileged steps, before any seccomp filter of the
    // config's: the labels take effect at execve, and a bad one fails
    // `create` (as with runc), not `start`.
    crate::security::lsm::set_exec(crate::security::lsm::Labels::of(process))?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let seccomp = req.seccomp.as_ref();
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
    // before the capabilities are dropped. With it, load as late as
    // possible, unless the notify fd must reach the parent first.
    let early = seccomp.filter(|f| !nnp || f.notify);
    if let Some(f) = seccomp.filter(|_| !nnp) {
        load_seccomp(ctx, f)?;
    }
    caps::drop_bounding(&ctx.caps, ctx.bounding_held)?;
    user::switch(process.user(), setgroups_allowed)?;
    caps::apply(&ctx.caps)?;
    if nnp {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).ctx(|| "prctl PR_SET_NO_NEW_PRIVS")?;
        if let Some(f) = early {
            load_seccomp(ctx, f)?;
        }
    }
    sys::umask(process.user().umask().unwrap_or(0o022));
    let args = process.args().as_deref().unwrap_or_default();
    // No args: a config without `process` (create's placeholder).
    let target = if args.is_empty() {
        None
    } else {
        Some(super::exec_path::target(args, &env, ctx.runtime)?)
    };

    sys::prctl(libc::PR_SET_PDEATHSIG, 0, 0).ctx(|| "prctl PR_SET_PDEATHSIG")?;
    ctx.chan.send(&Msg::Ready)?;
    let report: Option<OwnedFd> = match &req.gate {
        Gate::Socket(listener) => {
            sys::shed_memory(); // `create`: we may wait here for a long time
            let conn = fd::accept(listener.as_fd()).ctx(|| "wait for start")?;
            // Without this byte, `start` would take an init that died at
            // the gate (connection closed) for one that exec'd.
            fd::write_all_fd(conn.as_fd(), &[crate::state::START_ACK])
                .ctx(|| "acknowledge start")?;
            Some(conn)
        }
        Gate::Channel => {
            ctx.chan.expect(Msg::Start)?;
            None
        }
    };
    let start_hooks = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_deref())
        .unwrap_or_default();
    // The state document is only built for a hook that gets it.
    let started = if start_hooks.is_empty() {
        Ok(())
    } else {
        crate::hooks::run(
            "startContainer",
            start_hooks,
            &with_status(&state_json, Status::Created),
        )
    };
    let err = match started {
        Ok(()) => match seccomp.filter(|_| early.is_none()).map(|f| f.load()) {
            Some(Err(e)) => e,
            _ => match target {
                Some(t) => exec(req.preserve_fds, t, &env, ignored),
                None => Error::invalid(
                    "process: not set in config.json (it is REQUIRED to start a container)",
                ),
            },
        },
        Err(e) => e,
    };
    if let Some(conn) = report {
        // The `start` command reads this and reports it; with `start` gone
        // there is no one to tell, and we exit 1 either way.
        let _ = fd::write_all_fd(conn.as_fd(), err.to_string().as_bytes());
        sys::exit_now(1);
    }
    Ok(err)
}

/// The slow path (see mod.rs): join namespaces in a safe order, make the
/// user namespace with the parent's help, unshare the rest, and fork once
/// more if a pid or time namespace only applies to children.
fn join_namespaces(ctx: &Child) -> Result<()> {
    let ns = ctx.req.ns;
    let join_user = |u: &crate::namespaces::Joined| {
        clone::setns(u.fd.as_raw_fd(), libc::CLONE_NEWUSER).ctx(|| "join the user namespace")
    };
    // A rootless caller holds no privilege over namespaces a user namespace
    // owns (a rootless container's, for `exec`): it joins that first, as
    // runc does, and gets its capabilities there.
    let user_first = crate::rootless::active();
    if let Some(u) = ns.join_user.as_ref().filter(|_| user_first) {
        join_user(u)?;
    }
    // Else non-user namespaces first, while we still hold the host's
    // privileges.
    for j in &ns.join {
        if ctx.pid_joined && j.flag == libc::CLONE_NEWPID {
            continue;
        }
        clone::setns(j.fd.as_raw_fd(), j.flag).ctx(|| format!("join the {} namespace", j.name))?;
    }
    if let Some(u) = &ns.join_user {
        if !user_first {
            join_user(u)?;
        }
    } else if ns.new & libc::CLONE_NEWUSER != 0 {
        clone::unshare(libc::CLONE_NEWUSER).ctx(|| "unshare the user namespace")?;
        ctx.chan.send(&Msg::MapsRequest)?;
        ctx.chan.expect(Msg::MapsDone)?;
    }
    let rest = ns.new & !(libc::CLONE_NEWUSER | libc::CLONE_NEWCGROUP);
    if rest != 0 {
        clone::unshare(rest).ctx(|| format!("unshare namespaces {rest:#x}"))?;
    }
    if ns.new & crate::namespaces::CLONE_NEWTIME != 0 {
        write_time_offsets(ctx)?;
    }
    let joined_pid_or_time = !ctx.pid_joined
        && ns
            .join
            .iter()
            .any(|j| j.flag == libc::CLONE_NEWPID || j.flag == crate::namespaces::CLONE_NEWTIME);
    if ns.new & (libc::CLONE_NEWPID | crate::namespaces::CLONE_NEWTIME) != 0 || joined_pid_or_time {
        // CLONE_PARENT: the init becomes the runtime's child (and so, after
        // the runtime exits, the caller's), not ours.
        match clone::clone(libc::CLONE_PARENT as u64, None).ctx(|| "fork the container init")? {
            (clone::Forked::Parent(pid), _) => {
                // A runtime that cannot be told is gone, and the init finds
                // the channel closed at its next step.
                let _ = ctx.chan.send(&Msg::Pid(pid));
                sys::exit_now(0);
            }
            (clone::Forked::Child, _) => {
                sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as _, 0)
                    .ctx(|| "prctl PR_SET_PDEATHSIG")?;
            }
        }
    }
    Ok(())
}

fn write_time_offsets(ctx: &Child) -> Result<()> {
    let offsets = ctx
        .req
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default();
    let mut text = String::new();
    for (clock, o) in &offsets {
        let id = match clock.as_str() {
            "monotonic" => libc::CLOCK_MONOTONIC,
            "boottime" => libc::CLOCK_BOOTTIME,
            other => {
                return Err(Error::invalid(format!(
                    "linux.timeOffsets: unknown clock {other:?}"
                )))
            }
        };
        text.push_str(&format!(
            "{id} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text).ctx(|| "write linux.timeOffsets")?;
    }
    Ok(())
}

/// chdir to process.cwd (made if missing, as runc does), then check the
/// kernel agrees we are inside the root: a cwd through a leaked fd would
/// show as "(unreachable)" (CVE-2024-21626).
fn enter_cwd(cwd: &Path) -> Result<()> {
    if std::env::set_current_dir(cwd).is_err() {
        std::fs::create_dir_all(cwd).ctx(|| format!("create process.cwd {}", cwd.display()))?;
        std::env::set_current_dir(cwd).ctx(|| format!("chdir to process.cwd {}", cwd.display()))?;
    }
    let now = nix::unistd::getcwd().map_err(|e| Error::sys("getcwd", e.into()))?;
    if !now.is_absolute() || now.to_string_lossy().starts_with("(unreachable)") {
        return Err(Error::invalid(format!(
            "process.cwd {}: resolves outside the container root",
            cwd.display()
        )));
    }
    Ok(())
}

/// `env` with HOME set from the container's /etc/passwd entry for `uid`
/// when it has no HOME ("/" without one), as runc does.
fn with_home(env: &[String], uid: u32) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = passwd_home(uid).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

/// The home directory of `uid` in /etc/passwd. The file is the
/// container's: only a regular file is read (never a FIFO that would hang
/// us), and at most 4 MiB of it.
fn passwd_home(uid: u32) -> Option<String> {
    use std::io::Read;
    let fd = fd::openat(
        None,
        Path::new("/etc/passwd"),
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
    )
    .ok()?;
    let st = fd::fstat(fd.as_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text)
        .ok()?;
    home_of(&text, uid)
}

fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5].to_string())
    })
}

/// In a user namespace whose setgroups is denied, setgroups(2) fails; the
/// additional gids cannot be set there anyway.
fn setgroups_allowed() -> bool {
    crate::sys::fd::read_small("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// After the gate: close leaked fds, reset signals, execve. Returns only
/// with the error that stopped it.
fn exec(
    preserve_fds: u32,
    target: super::exec_path::Target,
    env: &[String],
    ignored: Option<u64>,
) -> Error {
    // Nothing the runtime or its caller leaked may reach the payload
    // (CVE-2024-21626): everything past the preserved fds closes on exec.
    if let Err(e) = fd::cloexec_from(3 + preserve_fds) {
        return Error::sys("close_range", e);
    }
    sys::reset_signal_handlers(ignored);
    if let Err(e) = sys::sigmask(libc::SIG_SETMASK, &sys::sigset(&[])) {
        return Error::sys("reset the signal mask", e);
    }
    let e = sys::execveat(target.fd.as_fd(), &target.argv, env);
    Error::Child {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        msg: format!(
            "exec: \"{}\": {}",
            target.argv[0],
            super::exec_path::errstr(&e)
        ),
    }
}

/// The state JSON for a hook run in the container's namespaces: its pid
/// as the container sees it (runtime.md), and the status of the moment.
fn with_status(state: &str, status: Status) -> String {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut v) => {
            v["status"] = status.as_str().into();
            v["pid"] = std::process::id().into();
            v.to_string()
        }
        Err(_) => state.to_string(),
    }
}

fn load_seccomp(ctx: &Child, f: &crate::security::seccomp::Filter) -> Result<()> {
    if let Some(fd) = f.load()? {
        ctx.chan.send_fd(&Msg::SeccompFd, Some(fd))?;
        fd::close(fd);
    }
    Ok(())
}

/// The session keyring `_ses.ID`, as with runc: init makes it (labelled
/// with its SELinux label, searchable so that `exec` can find it) and
/// `exec` joins it, so the caller's keys stay out of reach of both.
fn session_keyring(id: &str, process: &oci_spec::runtime::Process, userns: bool) -> Result<()> {
    let label = crate::security::lsm::Labels::of(process).selinux;
    crate::security::lsm::set_keycreate(label)?;
    // Search for the keyring's own uid, or for "other" in a user
    // namespace, where the caller's uid does not map to the owner's.
    let search = if userns { 0x08 } else { 0x08_0000 };
    let joined = sys::tty::join_session_keyring(&format!("_ses.{id}"), search);
    // Only the session keyring gets the label, as with runc: keys made
    // later (until execve resets it) get the default again.
    if label.is_some() {
        crate::security::lsm::clear_keycreate()?;
    }
    match joined {
        Err(e) if e.raw_os_error() != Some(libc::ENOSYS) => {
            Err(Error::sys("join a new session keyring", e))
        }
        _ => Ok(()),
    }
}

/// What only a new container needs (not `exec`): cgroup namespace, the rootfs with its hook points, hostname and domainname.
/// Returns the state JSON the container's own hooks get.
fn build_container(ctx: &Child) -> Result<String> {
    let req = ctx.req;
    let spec = &req.bundle.spec;
    if req.ns.new & libc::CLONE_NEWCGROUP != 0 {
        // Now that we sit in our cgroup, it becomes the namespace's root.
        clone::unshare(libc::CLONE_NEWCGROUP).ctx(|| "unshare the cgroup namespace")?;
    }
    sys::umask(0);
    let opts = crate::rootfs::Options {
        spec,
        rootfs: &req.bundle.rootfs,
        bundle: &req.bundle.dir,
        no_pivot: req.no_pivot,
        mountns: req.ns.has(libc::CLONE_NEWNS),
        userns: req.ns.user(),
        cgroup: &req.cgroup.paths,
        cgroupns: req.ns.new & libc::CLONE_NEWCGROUP != 0,
        layers: req.layers.as_ref(),
        idmapped: ctx.idmapped,
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let wants_state = [
        hooks.prestart(),
        hooks.create_runtime(),
        hooks.create_container(),
        hooks.start_container(),
    ]
    .iter()
    .any(|h| h.as_ref().is_some_and(|v| !v.is_empty()));
    let mut state_json = String::new();
    crate::rootfs::setup(&opts, &mut || {
        if !wants_state {
            return Ok(());
        }
        ctx.chan.send(&Msg::Hooks)?;
        state_json = match ctx.chan.recv()? {
            Some((Msg::HooksDone(s), _)) => s,
            Some((Msg::Error { errno, msg }, _)) => return Err(Error::Child { errno, msg }),
            _ => return Err(Error::invalid("protocol error: expected HooksDone")),
        };
        // In the container's namespaces, before pivot_root.
        crate::hooks::run(
            "createContainer",
            hooks.create_container().as_deref().unwrap_or_default(),
            // Lifecycle step 5: after step 2, so `created` (runtime.md State).
            &with_status(&state_json, Status::Created),
        )
    })?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys::sethostname(h).ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::setdomainname(d).ctx(|| format!("setdomainname {d:?}"))?;
    }
    Ok(state_json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn home_from_passwd() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nbad line\nnobody:x:65534:65534::/nonexistent:/bin/false\nx:x:7:7:::\n";
        assert_eq!(super::home_of(pw, 0).as_deref(), Some("/root"));
        assert_eq!(super::home_of(pw, 65534).as_deref(), Some("/nonexistent"));
        assert_eq!(super::home_of(pw, 7), None);
        assert_eq!(super::home_of(pw, 1000), None);
        let env = super::with_home(&["HOME=/h".into()], 0);
        assert_eq!(env, ["HOME=/h"]);
    }
}
