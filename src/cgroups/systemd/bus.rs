//! The D-Bus calls to systemd's manager (org.freedesktop.systemd1): a
//! transient unit started or stopped, waiting for its job's JobRemoved
//! signal, and unit properties set. A small client of our own over a unix
//! socket (SASL EXTERNAL, `wire` for the messages): a D-Bus crate costs
//! more binary than strata's size limit allows. Only the systemd driver
//! calls here, so the cgroupfs driver never connects to a bus.

use super::props::{Prop, Val};
use super::wire::{self, Arg, Message};
use crate::error::{Error, Result};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const DBUS: &str = "org.freedesktop.DBus";
/// How long a call or a job may take (runc waits 30 s too).
const TIMEOUT: Duration = Duration::from_secs(30);
/// systemd's own socket for root, for a host without a bus daemon.
const PRIVATE: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// Which systemd manager a unit belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Manager {
    /// pid 1, for root.
    System,
    /// The caller's user manager (`systemd --user`), for a rootless
    /// caller: its units sit in the cgroup it was delegated.
    User,
}

pub struct Bus {
    sock: UnixStream,
    serial: u32,
    /// (job, result) of every JobRemoved seen.
    done: Vec<(String, String)>,
}

fn err(what: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("systemd: {what}: {msg}"))
}

fn io_err(what: &str, e: std::io::Error) -> Error {
    err(what, crate::error::errstr(&e))
}

/// A D-Bus error reply: its name and message.
struct Failed {
    name: String,
    text: String,
}

impl Failed {
    /// A failure of our own (I/O, a reply not as expected): no error name.
    fn io(text: String) -> Failed {
        Failed {
            name: String::new(),
            text,
        }
    }
}

fn variant(v: &Val) -> Arg {
    let strs = |e: &str, s: Vec<Arg>| Arg::Array(e.into(), s);
    Arg::Variant(Box::new(match v {
        Val::Bool(b) => Arg::Bool(*b),
        Val::U64(n) => Arg::U64(*n),
        Val::Str(s) => Arg::Str(s.clone()),
        Val::Strs(s) => strs("s", s.iter().map(|s| Arg::Str(s.clone())).collect()),
        Val::Bytes(b) => strs("y", b.iter().map(|b| Arg::Byte(*b)).collect()),
        Val::Devices(d) => strs(
            "(ss)",
            d.iter()
                .map(|(p, a)| Arg::Struct(vec![Arg::Str(p.clone()), Arg::Str(a.clone())]))
                .collect(),
        ),
        Val::U32s(p) => strs("u", p.iter().map(|n| Arg::U32(*n)).collect()),
    }))
}

fn props(p: &[Prop]) -> Arg {
    Arg::Array(
        "(sv)".into(),
        p.iter()
            .map(|(k, v)| Arg::Struct(vec![Arg::Str((*k).into()), variant(v)]))
            .collect(),
    )
}

/// The socket in a bus address's `unix:path=`.
fn unix_path(var: &str, addr: &str) -> Result<PathBuf> {
    addr.split(';')
        .filter_map(|a| a.strip_prefix("unix:"))
        .flat_map(|a| a.split(','))
        .find_map(|kv| kv.strip_prefix("path="))
        .map(PathBuf::from)
        .ok_or_else(|| {
            err(
                "connect to the bus",
                format!("{var}={addr}: no unix:path= in it"),
            )
        })
}

/// The bus socket and systemd's private socket of a manager: for the
/// system, $DBUS_SYSTEM_BUS_ADDRESS or the well-known socket; for the
/// user's, $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus (what runc
/// looks for), with systemd --user's own socket in $XDG_RUNTIME_DIR.
fn sockets(m: Manager) -> Result<(PathBuf, PathBuf)> {
    let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    match m {
        Manager::System => {
            let bus = match env("DBUS_SYSTEM_BUS_ADDRESS") {
                Some(a) => unix_path("DBUS_SYSTEM_BUS_ADDRESS", &a)?,
                None => PathBuf::from(SYSTEM_BUS),
            };
            Ok((bus, PathBuf::from(PRIVATE)))
        }
        Manager::User => {
            let run = env("XDG_RUNTIME_DIR").map(PathBuf::from);
            let bus = match (env("DBUS_SESSION_BUS_ADDRESS"), &run) {
                (Some(a), _) => unix_path("DBUS_SESSION_BUS_ADDRESS", &a)?,
                (None, Some(r)) => r.join("bus"),
                (None, None) => {
                    return Err(err(
                        "connect to the user's systemd",
                        "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set (a rootless --systemd-cgroup needs the caller's user manager, systemd --user)",
                    ))
                }
            };
            let private = run.map_or_else(PathBuf::new, |r| r.join("systemd/private"));
            Ok((bus, private))
        }
    }
}

impl Bus {
    /// Connects to systemd (the manager's bus, else systemd's private
    /// socket) and subscribes to job results. The bus first, as runc: there
    /// a match rule gives this connection JobRemoved alone, while systemd
    /// sends every client of its private socket every signal it emits, a
    /// flood under load behind which replies came too late.
    pub fn connect(m: Manager) -> Result<Bus> {
        let (bus, private) = sockets(m)?;
        let (path, daemon) = if bus.exists() || !private.exists() {
            (bus, true)
        } else {
            (private, false)
        };
        let what = format!("connect to {}", path.display());
        let sock = UnixStream::connect(&path).map_err(|e| io_err(&what, e))?;
        let mut bus = Bus {
            sock,
            serial: 0,
            done: vec![],
        };
        bus.auth().map_err(|e| err(&what, e))?;
        if daemon {
            bus.call_on(DBUS, "/org/freedesktop/DBus", DBUS, "Hello", &[])
                .map_err(|f| err(&what, f.text))?;
            let rule = format!("type='signal',interface='{MANAGER}',member='JobRemoved'");
            bus.call_on(
                DBUS,
                "/org/freedesktop/DBus",
                DBUS,
                "AddMatch",
                &[Arg::Str(rule)],
            )
            .map_err(|f| err("watch JobRemoved", f.text))?;
        }
        // systemd sends job signals only to clients that subscribed.
        bus.call("subscribe to job signals", "Subscribe", &[])?;
        Ok(bus)
    }

    /// SASL EXTERNAL: the peer credentials say who we are, as the bus
    /// sees them: in a user namespace (rootless podman's) that is the host
    /// uid our uid maps to, not our own.
    fn auth(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        let uid = crate::rootless::host_uid()?.to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\n");
        self.sock
            .write_all(hello.as_bytes())
            .map_err(|e| crate::error::errstr(&e))?;
        let mut line = vec![];
        while !line.ends_with(b"\r\n") {
            let mut b = [0u8; 1];
            self.read_exact(&mut b, deadline)
                .map_err(|e| crate::error::errstr(&e))?;
            line.push(b[0]);
            if line.len() > 512 {
                return Err("authentication: reply too long".into());
            }
        }
        if !line.starts_with(b"OK ") {
            let l = String::from_utf8_lossy(&line);
            return Err(format!("authentication refused: {}", l.trim_end()));
        }
        self.sock
            .write_all(b"BEGIN\r\n")
            .map_err(|e| crate::error::errstr(&e))
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(ErrorKind::TimedOut, "no reply in time"));
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.sock.read(&mut buf[got..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return Err(std::io::Error::new(ErrorKind::TimedOut, "no reply in time"))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads one message, keeping the JobRemoved signals in it.
    fn next(&mut self, deadline: Instant) -> std::result::Result<Message, String> {
        let mut head = [0u8; 16];
        self.read_exact(&mut head, deadline)
            .map_err(|e| crate::error::errstr(&e))?;
        let total = wire::total_len(&head).map_err(|e| e.to_string())?;
        let mut m = head.to_vec();
        m.resize(total, 0);
        self.read_exact(&mut m[16..], deadline)
            .map_err(|e| crate::error::errstr(&e))?;
        let msg = wire::parse(&m).map_err(|e| e.to_string())?;
        if msg.kind == wire::SIGNAL && msg.member.as_deref() == Some("JobRemoved") {
            if let [_, Arg::Path(job), _, Arg::Str(result)] = &msg.body[..] {
                self.done.push((job.clone(), result.clone()));
            }
        }
        Ok(msg)
    }

    /// Calls `member` and waits for its reply.
    fn call_on(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        args: &[Arg],
    ) -> std::result::Result<Vec<Arg>, Failed> {
        let io = Failed::io;
        self.serial += 1;
        let serial = self.serial;
        let m = wire::method_call(serial, dest, path, iface, member, args);
        self.sock
            .write_all(&m)
            .map_err(|e| io(crate::error::errstr(&e)))?;
        tracing::debug!("systemd: call {member} (serial {serial})");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let r = self.next(deadline).map_err(io)?;
            if r.reply_serial != Some(serial) {
                continue;
            }
            match r.kind {
                wire::METHOD_RETURN => return Ok(r.body),
                wire::ERROR => {
                    let name = r.error_name.unwrap_or_default();
                    let text = match r.body.first().and_then(Arg::as_str) {
                        Some(t) => t.to_string(),
                        None => name.clone(),
                    };
                    return Err(Failed { name, text });
                }
                _ => {}
            }
        }
    }

    fn try_call(&mut self, member: &str, args: &[Arg]) -> std::result::Result<Vec<Arg>, Failed> {
        self.call_on(DEST, PATH, MANAGER, member, args)
    }

    fn call(&mut self, what: &str, member: &str, args: &[Arg]) -> Result<Vec<Arg>> {
        self.try_call(member, args).map_err(|f| err(what, f.text))
    }

    /// Starts transient unit `unit` with `props`, then waits for its job.
    /// A unit of that name left failed is reset and the start tried
    /// once more, as runc does.
    pub fn start(&mut self, unit: &str, p: &[Prop]) -> Result<()> {
        let what = format!("start unit {unit}");
        let args = [
            Arg::Str(unit.into()),
            Arg::Str("fail".into()),
            props(p),
            Arg::Array("(sa(sv))".into(), vec![]),
        ];
        let reply = match self.try_call("StartTransientUnit", &args) {
            Err(f) if f.name == "org.freedesktop.systemd1.UnitExists" => {
                // A failed unit of the same name blocks the start; a reset
                // that fails shows as the start's own error below.
                let _ = self.try_call("ResetFailedUnit", &[Arg::Str(unit.into())]);
                self.call(&what, "StartTransientUnit", &args)?
            }
            r => r.map_err(|f| err(&what, f.text))?,
        };
        self.wait(&what, &reply, &|b: &mut Bus| {
            Ok(b.active_state(unit)?.as_deref() == Some("active"))
        })
    }

    /// Stops `unit` and waits; a unit systemd no longer has (it stops an
    /// empty scope by itself) is done already. A failed unit is reset so
    /// that nothing of it is left.
    pub fn stop(&mut self, unit: &str) -> Result<()> {
        let what = format!("stop unit {unit}");
        let args = [Arg::Str(unit.into()), Arg::Str("replace".into())];
        match self.try_call("StopUnit", &args) {
            Ok(reply) => self.wait(&what, &reply, &|b: &mut Bus| {
                Ok(b.active_state(unit)?
                    .is_none_or(|s| s == "inactive" || s == "failed"))
            })?,
            Err(f) if f.name == "org.freedesktop.systemd1.NoSuchUnit" => {}
            Err(f) => return Err(err(&what, f.text)),
        }
        // Only a failed unit needs the reset; for any other systemd
        // answers an error that means nothing here.
        let _ = self.try_call("ResetFailedUnit", &[Arg::Str(unit.into())]);
        Ok(())
    }

    /// Moves `pid` into the running `unit`'s cgroup. A user manager that
    /// may not move it itself (the common ancestor of the two cgroups is
    /// not its own) asks pid 1 to, which is why this works where a write
    /// to cgroup.procs does not.
    pub fn attach(&mut self, unit: &str, pid: i32) -> Result<()> {
        let args = [
            Arg::Str(unit.into()),
            Arg::Str(String::new()),
            Arg::Array("u".into(), vec![Arg::U32(pid as u32)]),
        ];
        self.call(
            &format!("attach pid {pid} to unit {unit}"),
            "AttachProcessesToUnit",
            &args,
        )
        .map(drop)
    }

    /// Sets `props` on the running `unit` (not persisted: runtime=true).
    pub fn set(&mut self, unit: &str, p: &[Prop]) -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        let args = [Arg::Str(unit.into()), Arg::Bool(true), props(p)];
        self.call(
            &format!("set properties of unit {unit}"),
            "SetUnitProperties",
            &args,
        )
        .map(drop)
    }

    /// Waits for JobRemoved of the job in `reply`; an error unless its
    /// result is "done". The signal alone is not trusted: under load
    /// systemd has been seen to finish a job without this connection
    /// getting its JobRemoved, so while no message comes, every second
    /// the job is looked up, and a job systemd no longer has is over
    /// (`settled` then says whether it did what was asked).
    fn wait(
        &mut self,
        what: &str,
        reply: &[Arg],
        settled: &dyn Fn(&mut Bus) -> std::result::Result<bool, Failed>,
    ) -> Result<()> {
        let Some(Arg::Path(job)) = reply.first() else {
            return Err(err(what, "the reply has no job"));
        };
        let job = job.clone();
        let id: Option<u32> = job.rsplit('/').next().and_then(|n| n.parse().ok());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some((_, r)) = self.done.iter().find(|(j, _)| *j == job) {
                if r == "done" {
                    return Ok(());
                }
                return Err(err(
                    what,
                    format!("the job ended \"{r}\" (see `journalctl -u` of the unit)"),
                ));
            }
            if Instant::now() >= deadline {
                return Err(err(what, "no result for its job in 30 s"));
            }
            let fd = self.sock.as_raw_fd();
            let ready = crate::sys::pidfd::poll_readable(&[fd], 1000)
                .map_err(|e| io_err(&format!("{what}: poll the bus"), e))?;
            if ready.first().copied().unwrap_or(false) {
                self.next(deadline)
                    .map_err(|e| err(what, format!("waiting for the job's result: {e}")))?;
                continue;
            }
            let Some(id) = id else { continue };
            match self.try_call("GetJob", &[Arg::U32(id)]) {
                Err(f) if f.name == "org.freedesktop.systemd1.NoSuchJob" => {
                    if self.done.iter().any(|(j, _)| *j == job) {
                        continue;
                    }
                    tracing::debug!("systemd: {what}: job {job} is gone without a JobRemoved seen");
                    let ok = settled(self)
                        .map_err(|f| err(&format!("{what}: look up the unit"), f.text))?;
                    if ok {
                        return Ok(());
                    }
                    return Err(err(what, "the job is gone and the unit is not as asked"));
                }
                Ok(_) => {}
                Err(f) => return Err(err(&format!("{what}: look up its job"), f.text)),
            }
        }
    }

    /// The manager's own cgroup (a user manager's is the one delegated to
    /// it, e.g. /user.slice/user-1000.slice/user@1000.service).
    pub fn manager_cgroup(&mut self) -> Result<String> {
        let args = [Arg::Str(MANAGER.into()), Arg::Str("ControlGroup".into())];
        let body = self
            .call_on(DEST, PATH, "org.freedesktop.DBus.Properties", "Get", &args)
            .map_err(|f| err("read the manager's ControlGroup", f.text))?;
        match body.first() {
            Some(Arg::Variant(v)) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| err("read the manager's ControlGroup", "not a string")),
            _ => Err(err(
                "read the manager's ControlGroup",
                "no value in the reply",
            )),
        }
    }

    /// The unit's ActiveState, or None when systemd has no such unit.
    fn active_state(&mut self, unit: &str) -> std::result::Result<Option<String>, Failed> {
        let path = match self.try_call("GetUnit", &[Arg::Str(unit.into())]) {
            Err(f) if f.name == "org.freedesktop.systemd1.NoSuchUnit" => return Ok(None),
            r => match r?.first() {
                Some(Arg::Path(p)) => p.clone(),
                _ => return Err(Failed::io("GetUnit: the reply has no unit path".into())),
            },
        };
        let args = [
            Arg::Str("org.freedesktop.systemd1.Unit".into()),
            Arg::Str("ActiveState".into()),
        ];
        let body = self.call_on(DEST, &path, "org.freedesktop.DBus.Properties", "Get", &args)?;
        match body.first() {
            Some(Arg::Variant(v)) => Ok(v.as_str().map(str::to_string)),
            _ => Err(Failed::io("ActiveState: the reply has no string".into())),
        }
    }
}
