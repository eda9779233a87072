//! One file per command. Each takes its parsed arguments and the global
//! options and returns the process exit code.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod layer;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// Options every command sees.
pub struct Global {
    pub root: PathBuf,
    /// Where annotation-named layer directories must lie (`--layer-store`).
    pub layer_store: PathBuf,
    pub systemd_cgroup: bool,
}
