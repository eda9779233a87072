//! Log lines in the two shapes callers read: text, or logrus' JSON
//! (`{"level":"error","msg":"...","time":"..."}`, lowercase level), which
//! containerd and podman parse to show the user our error.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

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

/// The global subscriber: events only. strata opens no spans, so it needs no span registry
/// (tracing-subscriber's allocates and zeroes ~32 KiB at start-up: 8 page faults per command).
struct Events(&'static Sink);

impl Subscriber for Events {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.0.max
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.0.max))
    }
    // Spans are not used; should a dependency open one, it gets an id and is otherwise ignored.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Msg(String::new());
        event.record(&mut m);
        self.0.write(event.metadata().level(), &m.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
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
    tracing::subscriber::set_global_default(Events(sink))
        .map_err(|e| format!("install the logger: {e}"))?;
    Ok(sink)
}
