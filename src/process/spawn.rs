//! The parent's half of starting a container process (see mod.rs).

use super::channel::{Channel, Msg};
use super::init;
use super::request::Request;
use crate::cgroups::Manager;
use crate::error::{Ctx, Error, Result};
use crate::security::caps;
use crate::sys::clone::{self, Forked};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Spawned {
    pub pid: i32,
    pub chan: Channel,
}

/// Starts the container process and drives it to `Ready`. `on_pid` is
/// called as soon as the init's pid is known, so the state can record it
/// before anything else is made.
/// `on_hooks` runs the createRuntime/prestart hooks for the init's pid and
/// returns the state JSON the container's own hooks get (and the seccomp
/// listener).
pub fn spawn(
    req: Request,
    mut on_pid: impl FnMut(i32) -> Result<()>,
    mut on_hooks: impl FnMut(i32) -> Result<String>,
) -> Result<Spawned> {
    // The init asks for the hooks (step 6a) and then, with a notify rule,
    // hands over its seccomp fd (6b): both need the state, but the
    // prestart/createRuntime hooks must run once.
    let mut hooks_state: Option<String> = None;
    let mut state_for = |p: i32| -> Result<String> {
        if let Some(s) = &hooks_state {
            return Ok(s.clone());
        }
        let s = on_hooks(p)?;
        hooks_state = Some(s.clone());
        Ok(s)
    };
    let status = crate::sys::self_status();
    let userns = req.ns.user();
    let kernel = (userns || status.cap_bnd.is_none())
        .then(caps::kernel_set)
        .flatten();
    let available = caps::available(status.cap_bnd, userns, kernel);
    let bounding_held = caps::held(status.cap_bnd, userns, kernel);
    let mut sets = caps::Sets::from_spec(
        req.bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.capabilities().as_ref()),
    );
    let dropped = sets.limit_to(available);
    if dropped != 0 {
        tracing::warn!(
            "capabilities {dropped:#x} are not available on this host and were left out"
        );
    }
    let runtime = super::exec_path::runtime_identity();
    // Before the clone: only the runtime is privileged enough to idmap.
    let idmapped = if req.exec {
        crate::rootfs::idmap::Trees::default()
    } else {
        crate::rootfs::idmap::prepare(
            &req.bundle.spec,
            &req.bundle.dir,
            req.ns
                .join_user
                .as_ref()
                .map(|j| std::os::fd::AsFd::as_fd(&j.fd)),
        )?
    };
    // Without a mount namespace the init mounts in ours: undone if it fails.
    let host_mounts = (!req.exec && !req.ns.has(libc::CLONE_NEWNS))
        .then(|| crate::rootfs::HostMounts::watch(&req.bundle.rootfs));
    let (parent, child) = Channel::pair()?;
    let cgfd = req.cgroup.open_v2();
    let single = req.ns.single_clone();
    let flags = if single {
        req.ns.clone_flags() as u64
    } else {
        0
    };
    // A new container's init is born in its v1 cgroups too (`exec` joins
    // after the clone: a running container may be frozen or at its pids
    // limit, which must not catch the runtime itself).
    let in_v1 = if req.exec {
        None
    } else {
        req.cgroup.enter_v1()
    };
    // A joined pid namespace only takes the caller's children: `exec`, which
    // runs no hooks and starts nothing else, enters it here, so its process
    // is born inside and needs no second fork.
    let pid_joined = match pid_ns_to_enter(req.ns).filter(|_| req.exec) {
        Some(j) => {
            clone::setns(j.fd.as_raw_fd(), libc::CLONE_NEWPID).ctx(|| "join the pid namespace")?;
            true
        }
        None => false,
    };
    let (forked, in_v2) = clone::clone(flags, cgfd.as_ref().map(|f| f.as_raw_fd()))
        .ctx(|| "clone the container process")?;
    let pid = match forked {
        Forked::Child => {
            // The init stays where it was born.
            std::mem::forget(in_v1);
            drop(parent);
            drop(cgfd);
            for &fd in &req.close_in_child {
                crate::sys::fd::close(fd);
            }
            let ctx = init::Child {
                req: &req,
                chan: &child,
                caps: sets,
                bounding_held,
                ignored: status.sig_ign,
                single,
                pid_joined,
                runtime,
                idmapped: &idmapped,
            };
            init::run(&ctx)
        }
        Forked::Parent(pid) => pid,
    };
    drop(child);
    drop(cgfd);
    drop(idmapped);
    // Kills and reaps the half-started children when setup fails.
    let mut guard = clone::Reaper::one(pid);
    let spec = &req.bundle.spec;
    let born_in_v1 = in_v1.is_some();
    drop(in_v1);
    // `exec`'s process joins its v1 cgroups itself (init.rs).
    req.cgroup.add_pid(pid, born_in_v1 || req.exec, in_v2)?;
    let direct = single || pid_joined;
    if direct {
        on_pid(pid)?;
    }
    if single && req.ns.new & libc::CLONE_NEWUSER != 0 {
        write_maps(pid, spec)?;
    }
    parent.send(&Msg::Go)?;
    let mut init_pid = if direct { Some(pid) } else { None };
    // The init (forked by the intermediate) shares the channel and can get
    // its Hooks or Ready in before the intermediate's Pid: hold them until then.
    let (mut early_hooks, mut early_ready) = (false, false);
    let mut early_seccomp = None;
    loop {
        match parent.recv()? {
            Some((Msg::MapsRequest, _)) => {
                write_maps(pid, spec)?;
                parent.send(&Msg::MapsDone)?;
            }
            Some((Msg::Pid(p), _)) => {
                guard.0.insert(0, p);
                init_pid = Some(p);
                on_pid(p)?;
                // The intermediate exits right after sending this; its
                // status says nothing (its errors come over the channel).
                let _ = clone::waitpid(pid, 0);
                guard.0.retain(|&x| x != pid);
                if std::mem::take(&mut early_hooks) {
                    let state = state_for(p)?;
                    parent.send(&Msg::HooksDone(state))?;
                }
                if let Some(fd) = early_seccomp.take() {
                    let state = state_for(p)?;
                    send_to_listener(spec, p, &state, fd)?;
                }
                if early_ready {
                    break;
                }
            }
            Some((Msg::Hooks, _)) if init_pid.is_none() => early_hooks = true,
            Some((Msg::SeccompFd, Some(fd))) if init_pid.is_none() => early_seccomp = Some(fd),
            Some((Msg::Ready, _)) if init_pid.is_none() => early_ready = true,
            Some((Msg::Hooks, _)) => {
                let p =
                    init_pid.ok_or_else(|| Error::invalid("protocol error: hooks before pid"))?;
                let state = state_for(p)?;
                parent.send(&Msg::HooksDone(state))?;
            }
            Some((Msg::SeccompFd, Some(fd))) => {
                let p = init_pid
                    .ok_or_else(|| Error::invalid("protocol error: seccomp fd before pid"))?;
                let state = state_for(p)?;
                send_to_listener(spec, p, &state, fd)?;
            }
            Some((Msg::Ready, _)) => break,
            Some((Msg::Error { errno, msg }, _)) => return Err(Error::Child { errno, msg }),
            Some((m, _)) => {
                return Err(Error::invalid(format!("protocol error: unexpected {m:?}")))
            }
            None => return Err(Error::invalid("the container process exited during setup")),
        }
    }
    let init_pid = init_pid.ok_or_else(|| Error::invalid("protocol error: no init pid"))?;
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        std::fs::write(format!("/proc/{init_pid}/oom_score_adj"), adj.to_string())
            .ctx(|| format!("set oomScoreAdj {adj}"))?;
    }
    guard.0.clear();
    if let Some(h) = host_mounts {
        h.keep();
    }
    Ok(Spawned {
        pid: init_pid,
        chan: parent,
    })
}

/// The joined pid namespace, when it is the only reason the child would
/// fork again (no new pid namespace, no time namespace new or joined).
/// Nor for a rootless caller: the pid namespace is owned by a user
/// namespace the parent has no CAP_SYS_ADMIN in (EPERM), which the child
/// has once it joined the container's.
fn pid_ns_to_enter(ns: &crate::namespaces::Plan) -> Option<&crate::namespaces::Joined> {
    let time = crate::namespaces::CLONE_NEWTIME;
    if ns.new & (libc::CLONE_NEWPID | time) != 0
        || ns.join.iter().any(|j| j.flag == time)
        || crate::rootless::active()
    {
        return None;
    }
    ns.join.iter().find(|j| j.flag == libc::CLONE_NEWPID)
}

/// Writes uid_map and gid_map of `pid` (the process that made the user
/// namespace). Written by the parent: only a process outside the namespace
/// holding CAP_SETUID there may map arbitrary ids.
fn write_maps(pid: i32, spec: &oci_spec::runtime::Spec) -> Result<()> {
    let (uid, gid) = crate::rootless::container_maps(spec);
    crate::rootless::write_maps(pid, uid, gid, crate::rootless::CONTAINER_MAPS)
}

/// Hands the seccomp notify fd to linux.seccomp.listenerPath with the
/// container process state, as runtime-spec's seccomp notify describes.
fn send_to_listener(
    spec: &oci_spec::runtime::Spec,
    pid: i32,
    state: &str,
    fd: OwnedFd,
) -> Result<()> {
    let sc = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = sc.and_then(|s| s.listener_path().as_ref()) else {
        return Err(Error::invalid(
            "linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
        ));
    };
    let state: serde_json::Value = serde_json::from_str(state)
        .map_err(|e| Error::invalid(format!("seccomp listener: the container state: {e}")))?;
    let msg = serde_json::json!({
        "ociVersion": crate::SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": sc.and_then(|s| s.listener_metadata().clone()).unwrap_or_default(),
        "state": state,
    });
    let s = std::os::unix::net::UnixStream::connect(path)
        .ctx(|| format!("connect to linux.seccomp.listenerPath {}", path.display()))?;
    crate::sys::fd::send_with_fd(
        std::os::fd::AsFd::as_fd(&s),
        msg.to_string().as_bytes(),
        Some(fd.as_raw_fd()),
    )
    .ctx(|| format!("send the seccomp fd to {}", path.display()))
}
