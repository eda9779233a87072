//! One file per command. Each takes its parsed arguments and the global
//! options and returns the process exit code.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod image;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Writes a command's output to stdout in one write. A reader that has gone
/// (`strata state x | head -1`) is not an error: the output was for it.
pub fn emit(out: &str, what: &str) -> Result<i32> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::sys(format!("write {what} to stdout"), e))
        }
        _ => Ok(0),
    }
}

/// Pretty JSON with a trailing newline, for `state` and `features`.
pub fn emit_json(doc: &serde_json::Value, what: &str) -> Result<i32> {
    let mut out = serde_json::to_string_pretty(doc)
        .map_err(|e| Error::invalid(format!("encode {what}: {e}")))?;
    out.push('\n');
    emit(&out, what)
}

/// Options every command sees.
pub struct Global {
    pub root: PathBuf,
    /// Where annotation-named layer directories must lie (`--layer-store`).
    pub layer_store: PathBuf,
    pub systemd_cgroup: bool,
}

impl Global {
    /// The global flags, with their defaults: the state root (made when
    /// missing) and the layer store under it.
    pub fn from_cli(cli: &crate::cli::Cli) -> Result<Global> {
        let root = match &cli.global.root {
            Some(r) => r.clone(),
            None => crate::state::default_root()?,
        };
        Ok(Global {
            layer_store: cli
                .global
                .layer_store
                .clone()
                .unwrap_or_else(|| root.join(crate::rootfs::layers::DEFAULT_STORE)),
            root,
            systemd_cgroup: cli.global.systemd_cgroup,
        })
    }
}
