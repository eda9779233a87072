//! `exec`: run another process in a running container. It joins every
//! namespace and the cgroup of the container's init, and gets the
//! container's capabilities, no_new_privs, rlimits, seccomp and env unless
//! the flags or --process override them.

use super::create;
use super::Global;
use crate::bundle;
use crate::cgroups::Cgroup;
use crate::cli::ExecArgs;
use crate::container::{self, Status};
use crate::error::{Ctx, Error, Result};
use crate::namespaces::Plan;
use crate::process::channel::Msg;
use crate::process::request::{Gate, Request};
use crate::process::spawn;
use crate::spec::Bundle;
use crate::state;
use crate::sys;
use oci_spec::runtime::{Capabilities, Capability, Process};
use std::str::FromStr;

/// `-u 1000`, `-u 1000:1000`: numbers only; anything else is ambiguous
/// (crun once ran `-u 1` as root), so it is an error.
pub fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::invalid(format!("--user {u:?}: use UID or UID:GID (numbers)"));
    let (a, b) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let uid = a.parse::<u32>().map_err(|_| bad())?;
    let gid = b.map(|b| b.parse::<u32>().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

/// A process.json without `user` runs as uid 0, gid 0 (as with runc).
/// JSON that does not parse is passed on unchanged, for the parser's error.
fn default_user(data: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&data) {
        Ok(mut v) if v.is_object() && v.get("user").is_none() => {
            v["user"] = serde_json::json!({"uid": 0, "gid": 0});
            // Encoding a Value cannot fail; the input is the fallback anyway.
            serde_json::to_vec(&v).unwrap_or(data)
        }
        _ => data,
    }
}

/// The process's LSM labels: the flags', else its own, else the
/// container's (as with runc: a process.json without a profile must not
/// run unconfined in a confined container).
fn with_labels(o: &ExecArgs, base: &Process, mut p: Process) -> Process {
    let pick = |flag: &Option<String>, own: &Option<String>, base: &Option<String>| {
        [flag, own, base]
            .into_iter()
            .find(|s| s.as_deref().is_some_and(|s| !s.is_empty()))
            .cloned()
            .flatten()
    };
    p.set_apparmor_profile(pick(
        &o.apparmor,
        p.apparmor_profile(),
        base.apparmor_profile(),
    ));
    p.set_selinux_label(pick(
        &o.process_label,
        p.selinux_label(),
        base.selinux_label(),
    ));
    p
}

fn process_for(o: &ExecArgs, base: &Process) -> Result<Process> {
    if let Some(p) = &o.process {
        let data = std::fs::read(p).ctx(|| format!("read --process {}", p.display()))?;
        let p =
            crate::spec::parse_process(&default_user(data), &format!("--process {}", p.display()))?;
        return Ok(with_labels(o, base, p));
    }
    if o.args.is_empty() {
        return Err(Error::invalid(
            "exec: give the command to run after the container id (or --process)",
        ));
    }
    let mut p = base.clone();
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    if let Some(c) = &o.cwd {
        p.set_cwd(c.clone());
    }
    let mut env = base.env().clone().unwrap_or_default();
    env.extend(o.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &o.user {
        let (uid, gid) = parse_user(u)?;
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid.unwrap_or(0));
        p.set_user(user);
    }
    if !o.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.additional_gids.clone()));
        p.set_user(user);
    }
    if !o.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut add = Capabilities::new();
        for c in &o.cap {
            add.insert(
                Capability::from_str(c.trim_start_matches("CAP_"))
                    .or_else(|_| Capability::from_str(c))
                    .map_err(|_| Error::invalid(format!("--cap {c:?}: unknown capability")))?,
            );
        }
        let merge = |s: &Option<Capabilities>| {
            Some(
                s.clone()
                    .unwrap_or_default()
                    .union(&add)
                    .cloned()
                    .collect::<Capabilities>(),
            )
        };
        caps.set_bounding(merge(caps.bounding()));
        caps.set_effective(merge(caps.effective()));
        caps.set_permitted(merge(caps.permitted()));
        p.set_capabilities(Some(caps));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(with_labels(o, base, p))
}

pub fn run(g: &Global, o: &ExecArgs) -> Result<i32> {
    let st = state::load(&g.root, &o.id)?;
    match container::status(&st, &g.root.join(&o.id)) {
        Status::Running | Status::Created => {}
        s => {
            return Err(Error::Status(format!(
                "cannot exec in a {} container",
                s.as_str()
            )))
        }
    }
    // The config `create` used gives the defaults; the bundle's config.json
    // may have changed since (runtime.md: no effect on the container).
    let mut spec = match state::load_exec_config(&g.root, &o.id)? {
        Some(spec) => spec,
        None => {
            tracing::warn!(
                "container {}: no saved config (made by an older strata); reading {}",
                o.id,
                st.bundle.join("config.json").display()
            );
            bundle::read_config(&st.bundle)?
        }
    };
    let base = spec.process().clone().unwrap_or_default();
    let process = process_for(o, &base)?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::invalid("process.args: must name a program"));
    }
    crate::process::attrs::validate_process(&process)?;
    crate::security::lsm::check_host(Some(&process), None)?;
    spec.set_process(Some(process));
    // Before anything is changed: this may re-execute strata (CVE-2019-5736).
    crate::process::readonly_exe::ensure(&spec)?;
    if let Some(p) = spec.process() {
        crate::process::cpus::set_initial(p)?;
    }
    spec.set_hooks(None);
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::security::seccomp::cache::compile(s, &g.root))
        .transpose()?;
    let ns = Plan::join_container(&spec, st.pid)?;
    // Checked after the namespace fds are open: they belong to our init.
    if !state::process_alive(st.pid, st.start_time) {
        return Err(Error::Status("container not running".into()));
    }
    let b = Bundle {
        dir: st.bundle.clone(),
        rootfs: st.rootfs.clone(),
        spec,
    };
    let terminal = b.spec.process().as_ref().and_then(|p| p.terminal());
    let (console, tty) = crate::process::relay::console(
        o.console_socket.as_deref(),
        terminal.unwrap_or(false) && !o.detach,
    )?;
    let wait_set = sys::sigset(&[
        libc::SIGCHLD,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ]);
    if !o.detach {
        sys::sigmask(libc::SIG_BLOCK, &wait_set).map_err(|e| Error::sys("sigprocmask", e))?;
    }
    let cgroup = Cgroup::open(&st.cgroup);
    let req = Request {
        bundle: &b,
        ns: &ns,
        cgroup: &cgroup,
        gate: Gate::Channel,
        preserve_fds: o.preserve_fds,
        no_pivot: false,
        no_new_keyring: st.no_new_keyring,
        id: &o.id,
        console,
        close_in_child: vec![],
        seccomp,
        exec: true,
        layers: None,
    };
    let spawned = spawn::spawn(req, |_| Ok(()), |_| Ok(String::new()))?;
    let tty = tty.map(|p| p.attach()).transpose()?;
    spawned.chan.send(&Msg::Start)?;
    match spawned.chan.recv()? {
        None => {}
        Some((Msg::Error { errno, msg }, _)) => return Err(Error::Child { errno, msg }),
        Some((m, _)) => return Err(Error::invalid(format!("protocol error: unexpected {m:?}"))),
    }
    if let Some(p) = &o.pid_file {
        create::write_pid_file(p, spawned.pid)?;
    }
    if let Some(p) = &o.pidfd_socket {
        create::send_pidfd(p, spawned.pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    match tty {
        Some(t) => t.relay(spawned.pid, &wait_set),
        None => super::run::wait_init(spawned.pid, &wait_set),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_flag_then_the_process_then_the_container() {
        let mut base = Process::default();
        base.set_apparmor_profile(Some("container".into()));
        base.set_selinux_label(Some("system_u:system_r:container_t:s0".into()));
        let mut own = Process::default();
        own.set_apparmor_profile(Some(String::new()));
        let o = ExecArgs::default();
        let p = with_labels(&o, &base, own.clone());
        assert_eq!(p.apparmor_profile().as_deref(), Some("container"));
        assert_eq!(
            p.selinux_label().as_deref(),
            Some("system_u:system_r:container_t:s0")
        );
        own.set_apparmor_profile(Some("own".into()));
        assert_eq!(
            with_labels(&o, &base, own.clone())
                .apparmor_profile()
                .as_deref(),
            Some("own")
        );
        let o = ExecArgs {
            apparmor: Some("flag".into()),
            process_label: Some("a:b:c:s0".into()),
            ..ExecArgs::default()
        };
        let p = with_labels(&o, &base, own);
        assert_eq!(p.apparmor_profile().as_deref(), Some("flag"));
        assert_eq!(p.selinux_label().as_deref(), Some("a:b:c:s0"));
        let none = with_labels(
            &ExecArgs::default(),
            &Process::default(),
            Process::default(),
        );
        assert_eq!(none.apparmor_profile(), &None);
    }
}
