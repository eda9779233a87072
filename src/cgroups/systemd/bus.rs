//! The D-Bus calls to systemd's manager (org.freedesktop.systemd1) on the
//! system bus: a transient unit started or stopped, waiting for its job's
//! JobRemoved signal, and unit properties set. Only the systemd driver
//! calls here, so the cgroupfs driver never connects to a bus.

use super::props::{Prop, Val};
use crate::error::{Error, Result};
use dbus::arg::{RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::MatchingReceiver;
use dbus::message::MatchRule;
use dbus::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a job may take (runc waits 30 s too).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

type Props<'a> = Vec<(&'a str, Variant<Box<dyn RefArg>>)>;

pub struct Bus {
    conn: Connection,
    /// (job, result) of every JobRemoved seen.
    done: Arc<Mutex<Vec<(String, String)>>>,
}

fn bus_err(what: &str, e: dbus::Error) -> Error {
    Error::invalid(format!(
        "systemd: {what}: {}",
        e.message().or(e.name()).unwrap_or("D-Bus error")
    ))
}

fn variant(v: &Val) -> Variant<Box<dyn RefArg>> {
    Variant(match v {
        Val::Bool(b) => Box::new(*b),
        Val::U64(n) => Box::new(*n),
        Val::Str(s) => Box::new(s.clone()),
        Val::Strs(s) => Box::new(s.clone()),
        Val::Bytes(b) => Box::new(b.clone()),
        Val::Devices(d) => Box::new(d.clone()),
        Val::U32s(p) => Box::new(p.clone()),
    })
}

impl Bus {
    /// Connects to the system bus and subscribes to job results.
    pub fn system() -> Result<Bus> {
        let conn = Connection::new_system().map_err(|e| bus_err("connect to the system bus", e))?;
        let done = Arc::new(Mutex::new(Vec::new()));
        let seen = done.clone();
        let rule = MatchRule::new_signal(MANAGER, "JobRemoved");
        conn.add_match_no_cb(&rule.match_str())
            .map_err(|e| bus_err("watch JobRemoved", e))?;
        conn.start_receive(
            rule,
            Box::new(move |msg, _| {
                if let Ok((_, job, _, result)) = msg.read4::<u32, Path, String, String>() {
                    if let Ok(mut seen) = seen.lock() {
                        seen.push((job.to_string(), result));
                    }
                }
                true
            }),
        );
        let bus = Bus { conn, done };
        // systemd sends job signals only once a client has subscribed.
        let _: () = bus.call("subscribe to job signals", "Subscribe", ())?;
        Ok(bus)
    }

    fn call<A: dbus::arg::AppendAll, R: dbus::arg::ReadAll>(
        &self,
        what: &str,
        method: &str,
        args: A,
    ) -> Result<R> {
        self.try_call(method, args).map_err(|e| bus_err(what, e))
    }

    fn try_call<A: dbus::arg::AppendAll, R: dbus::arg::ReadAll>(
        &self,
        method: &str,
        args: A,
    ) -> std::result::Result<R, dbus::Error> {
        self.conn
            .with_proxy(DEST, PATH, JOB_TIMEOUT)
            .method_call(MANAGER, method, args)
    }

    /// Starts transient unit `unit` with `props`, then waits for its job.
    /// A unit of that name left failed is reset and the start tried
    /// once more, as runc does.
    pub fn start(&self, unit: &str, props: &[Prop]) -> Result<()> {
        let what = format!("start unit {unit}");
        let args = || {
            let p: Props = props.iter().map(|(k, v)| (*k, variant(v))).collect();
            let aux: Vec<(&str, Props)> = Vec::new();
            (unit.to_string(), "fail", p, aux)
        };
        let job: (Path,) = match self.try_call("StartTransientUnit", args()) {
            Err(e) if e.name() == Some("org.freedesktop.systemd1.UnitExists") => {
                let _ = self.try_call::<_, ()>("ResetFailedUnit", (unit,));
                self.call(&what, "StartTransientUnit", args())?
            }
            r => r.map_err(|e| bus_err(&what, e))?,
        };
        self.wait(&what, &job.0)
    }

    /// Stops `unit` and waits; a unit systemd no longer has (it stops an
    /// empty scope by itself) is done already. A failed unit is reset so
    /// that nothing of it is left.
    pub fn stop(&self, unit: &str) -> Result<()> {
        let what = format!("stop unit {unit}");
        match self.try_call::<_, (Path,)>("StopUnit", (unit, "replace")) {
            Ok((job,)) => self.wait(&what, &job)?,
            Err(e) if e.name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(bus_err(&what, e)),
        }
        let _ = self.try_call::<_, ()>("ResetFailedUnit", (unit,));
        Ok(())
    }

    /// Sets `props` on the running `unit` (not persisted: runtime=true).
    pub fn set(&self, unit: &str, props: &[Prop]) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        let p: Props = props.iter().map(|(k, v)| (*k, variant(v))).collect();
        self.call(
            &format!("set properties of unit {unit}"),
            "SetUnitProperties",
            (unit, true, p),
        )
    }

    /// Waits for JobRemoved of `job`; an error unless its result is "done".
    fn wait(&self, what: &str, job: &Path) -> Result<()> {
        let job = job.to_string();
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let found = self
                .done
                .lock()
                .ok()
                .and_then(|done| done.iter().find(|(j, _)| *j == job).map(|(_, r)| r.clone()));
            match found.as_deref() {
                Some("done") => return Ok(()),
                Some(r) => {
                    return Err(Error::invalid(format!(
                        "systemd: {what}: the job ended \"{r}\" (see `journalctl -u` of the unit)"
                    )))
                }
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::invalid(format!(
                    "systemd: {what}: no result after {}s",
                    JOB_TIMEOUT.as_secs()
                )));
            }
            self.conn
                .process(left.min(Duration::from_millis(500)))
                .map_err(|e| bus_err(what, e))?;
        }
    }
}
