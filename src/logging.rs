//! Log lines in the two shapes callers read: text, or logrus' JSON
//! (`{"level":"error","msg":"...","time":"..."}`, lowercase level), which
//! containerd and podman parse to show the user our error.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

pub struct Sink {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
    max: Level,
}

struct Msg(String);

impl Visit for Msg {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

impl Sink {
    pub fn write(&self, level: &Level, msg: &str) {
        let lvl = level.as_str().to_ascii_lowercase();
        let line = if self.json {
            let v =
                serde_json::json!({"level": lvl, "msg": msg, "time": crate::state::now_rfc3339()});
            format!("{v}\n")
        } else {
            format!("strata: {lvl}: {msg}\n")
        };
        // A log line that cannot be written has nowhere to be reported.
        if let Ok(mut o) = self.out.lock() {
            let _ = o.write_all(line.as_bytes());
            let _ = o.flush();
        }
    }
}

impl<S: Subscriber> Layer<S> for &'static Sink {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *meta.level() <= self.max
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut m = Msg(String::new());
        event.record(&mut m);
        self.write(event.metadata().level(), &m.0);
    }
}

/// Installs the global logger; returns it so `main` can tell whether the
/// final error also needs printing on stderr.
pub fn init(log: Option<&Path>, format: &str, debug: bool) -> Result<&'static Sink, String> {
    let json = match format {
        "json" => true,
        "text" => false,
        f => return Err(format!("invalid --log-format {f:?}: use text or json")),
    };
    let out: Box<dyn Write + Send> = match log {
        Some(p) => Box::new(
            File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("open --log {}: {e}", p.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let sink: &'static Sink = Box::leak(Box::new(Sink {
        out: Mutex::new(out),
        json,
        max: if debug { Level::DEBUG } else { Level::WARN },
    }));
    let _ = tracing_subscriber::registry().with(sink).try_init();
    Ok(sink)
}
