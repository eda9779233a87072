//! The command line, runc-compatible: clap definitions plus the argv
//! normalisation in `argv.rs` for the forms clap does not take.

pub mod argv;
mod parse;

pub use parse::parse;

use clap::{Args, Subcommand};
use std::path::PathBuf;

// The whole command line, built with `root`; `parse` builds only the
// subcommand being run. (No doc comment: it would become the root's about
// text, as on the structs below.)
#[derive(Args, Debug)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The root command's own settings, shared by the full and the reduced tree.
pub fn root() -> clap::Command {
    clap::Command::new("strata")
        .about("strata: an OCI container runtime")
        .disable_version_flag(true)
}

/// The full tree: help, errors and anything [`parse`] does not build alone.
pub fn command() -> clap::Command {
    Cli::augment_args(root())
}

// The flags every subcommand takes.
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Directory for container state (default /run/strata, or $XDG_RUNTIME_DIR/strata).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Directory the image layers named by `io.strata.layers*` annotations
    /// must lie in (default <root>/layers; owned by the caller, mode 0700).
    #[arg(long = "layer-store", global = true)]
    pub layer_store: Option<PathBuf>,
    /// Append log lines to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json (logrus' {"level","msg","time"} lines).
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use the systemd cgroup driver (cgroupsPath is slice:prefix:name).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// true, false or auto. Accepted for runc compatibility; with `spec`,
    /// writes a rootless config.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long, global = true)]
    pub version: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Bundle directory (holds config.json).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket to send a pidfd of the init to.
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Pass fds 3..3+N on to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start(IdArgs),
    /// Print the state of a container as JSON.
    State(IdArgs),
    /// Send a signal (default SIGTERM) to the container's init.
    Kill(KillArgs),
    /// Delete a container (stopped, or any with --force).
    Delete(DeleteArgs),
    /// Create and start a container; wait for it unless --detach.
    Run(RunArgs),
    /// List containers.
    List(ListArgs),
    /// Freeze every process of a container.
    Pause(IdArgs),
    /// Thaw a paused container.
    Resume(IdArgs),
    /// List a container's processes (json: host pids).
    Ps(PsArgs),
    /// Change a container's cgroup limits.
    Update(UpdateArgs),
    /// Image layers: export a container layer, apply a layer tar.
    #[command(subcommand)]
    Layer(LayerCommand),
    /// Checkpoint a running container with CRIU (docs/usage.md).
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint.
    Restore(RestoreArgs),
    /// Print cgroup statistics and OOM kills (runc's JSON envelope): stats once with --stats.
    Events(EventsArgs),
    /// Run a process in a running container.
    Exec(ExecArgs),
    /// Write a default config.json.
    /// (--rootless, a global flag, asks for a rootless config.)
    Spec(SpecArgs),
    /// Print the features document (runtime-spec features.md).
    Features,
}

// The argument structs below carry no doc comments: the variant's doc is
// the subcommand's about text.

#[derive(Args, Debug, Clone)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// Signal every process in the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    pub signal: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PsArgs {
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ExecArgs {
    /// A process.json (runtime-spec `process`) instead of the flags below.
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Allocate a pty (sent to --console-socket).
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, repeatable.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// UID or UID:GID.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability, repeatable.
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// CRIU options checkpoint and restore share (runc's flags).
#[derive(Args, Debug, Clone, Default)]
pub struct CriuArgs {
    /// Directory of the checkpoint images (default ./checkpoint).
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's logs (default: the image path).
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow unix sockets connected outside the container.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow a shell job (a terminal from outside the container).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// soft, full, strict or ignore (CRIU's --manage-cgroups).
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Namespace to leave empty (only "network"), repeatable.
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Deduplicate the images of previous dumps.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Keep the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump memory only, for a later full dump with --parent-path.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// The previous (pre-dump) images, relative to the image path.
    #[arg(long = "parent-path")]
    pub parent_path: Option<String>,
    pub id: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Bundle directory (holds config.json).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return once restored instead of waiting for the container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the restored pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    pub id: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct UpdateArgs {
    /// linux.resources JSON from FILE, or - for stdin.
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    #[arg(long)]
    pub stats: bool,
    /// Seconds between reports (runc takes "5s"; both forms work).
    #[arg(long, default_value = "5")]
    pub interval: String,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum LayerCommand {
    /// Write a container's writable layer as an OCI layer tar (whiteouts as .wh. files).
    Diff { id: String, dest: PathBuf },
    /// Apply an OCI layer tar (gzip or not) to DIR, whiteouts in overlay form.
    Unpack { tar: PathBuf, dir: PathBuf },
}
