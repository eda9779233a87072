//! strata's entry point: normalise argv, parse, set up logging, dispatch,
//! and report an error exactly once.
//!
//! `#![no_main]`: the C `main` below is the entry point, so std's runtime
//! start-up does not run (~17 syscalls per command, docs/benchmarks.md);
//! `sys::process_start` keeps the part strata relies on. std::env::args
//! still works: std takes argv from glibc's init_array call.
// The test harness brings its own main (and then nothing here is used).
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]
#![deny(unsafe_code)]

use clap::Parser;
use strata::cli::{argv, Cli, Command, LayerCommand};
use strata::commands::{self, create::Opts, Global};
use strata::error::{Error, Result};

fn create_opts(a: &strata::cli::CreateArgs) -> Opts {
    Opts {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        pidfd_socket: a.pidfd_socket.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
    }
}

fn dispatch(cli: &Cli, cmd: &Command) -> Result<i32> {
    strata::rootless::init(cli.rootless.as_deref())?;
    // Commands without state never make (or check) the default root.
    match cmd {
        Command::Spec { bundle } => {
            return commands::spec::run(bundle, cli.rootless.as_deref() == Some("true"))
        }
        Command::Features => return commands::features::run(),
        Command::Layer(LayerCommand::Unpack { tar, dir }) => {
            return commands::image::unpack(tar, dir)
        }
        _ => {}
    }
    let root = match &cli.root {
        Some(r) => r.clone(),
        None => strata::state::default_root()?,
    };
    let g = Global {
        layer_store: cli
            .layer_store
            .clone()
            .unwrap_or_else(|| root.join(strata::rootfs::layers::DEFAULT_STORE)),
        root,
        systemd_cgroup: cli.systemd_cgroup,
    };
    Ok(match cmd {
        Command::Create(a) => commands::create::run(&g, &create_opts(a))?,
        Command::Start { id } => commands::start::run(&g, id)?,
        Command::State { id } => commands::state::run(&g, id)?,
        Command::Kill { all, id, signal } => commands::kill::run(&g, id, signal.as_deref(), *all)?,
        Command::Delete { force, id } => commands::delete::run(&g, id, *force)?,
        Command::Run {
            create,
            detach,
            keep,
        } => commands::run::run(&g, &create_opts(create), *detach, *keep)?,
        Command::List { format, quiet } => commands::list::run(&g, format, *quiet)?,
        Command::Spec { bundle } => {
            commands::spec::run(bundle, cli.rootless.as_deref() == Some("true"))?
        }
        Command::Features => commands::features::run()?,
        Command::Events { stats, interval, id } => {
            let secs = interval.trim_end_matches('s').parse::<u64>().map_err(|_| Error::invalid(format!("--interval {interval:?}: use seconds, e.g. 5 or 5s")))?;
            commands::events::run(&g, id, *stats, secs)?
        }
        Command::Checkpoint { .. } | Command::Restore { .. } => return Err(Error::invalid(
            "checkpoint/restore: not implemented (strata does not drive CRIU; docs/usage.md says why)"
        )),
        Command::Layer(LayerCommand::Diff { id, dest }) => commands::image::diff(&g, id, dest)?,
        Command::Layer(LayerCommand::Unpack { tar, dir }) => commands::image::unpack(tar, dir)?,
        Command::Update {
            resources,
            memory,
            memory_reservation,
            memory_swap,
            cpu_shares,
            cpu_quota,
            cpu_period,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight,
            id,
        } => {
            let f = commands::update::Flags {
                resources: resources.clone(),
                memory: memory.clone(),
                memory_reservation: memory_reservation.clone(),
                memory_swap: memory_swap.clone(),
                cpu_shares: *cpu_shares,
                cpu_quota: *cpu_quota,
                cpu_period: *cpu_period,
                cpuset_cpus: cpuset_cpus.clone(),
                cpuset_mems: cpuset_mems.clone(),
                pids_limit: *pids_limit,
                blkio_weight: *blkio_weight,
            };
            commands::update::run(&g, id, &f)?
        }
        Command::Pause { id } => commands::pause::run(&g, id, true)?,
        Command::Resume { id } => commands::pause::run(&g, id, false)?,
        Command::Ps {
            format,
            id,
            ps_args,
        } => commands::ps::run(&g, id, format, ps_args)?,
        Command::Exec(a) => {
            commands::exec::run(
                &g,
                &commands::exec::Opts {
                    id: a.id.clone(),
                    process: a.process.clone(),
                    args: a.args.clone(),
                    detach: a.detach,
                    pid_file: a.pid_file.clone(),
                    console_socket: a.console_socket.clone(),
                    pidfd_socket: a.pidfd_socket.clone(),
                    tty: a.tty,
                    cwd: a.cwd.clone(),
                    env: a.env.clone(),
                    user: a.user.clone(),
                    additional_gids: a.additional_gids.clone(),
                    caps: a.cap.clone(),
                    no_new_privs: a.no_new_privs,
                    apparmor: a.apparmor.clone(),
                    process_label: a.process_label.clone(),
                    preserve_fds: a.preserve_fds,
                },
            )?
        }
    })
}

/// The C entry point. Every path ends in std::process::exit, which also
/// flushes stdout.
#[cfg(not(test))]
// The one exception to `deny(unsafe_code)` outside `sys`: `no_mangle` is
// how the C entry point gets its name. Sound: nothing else defines `main`
// (`no_main`), and it takes C's argc/argv signature without reading them.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    strata::sys::process_start();
    run();
    std::process::exit(0)
}

fn run() {
    let cli = match Cli::try_parse_from(argv::normalize(std::env::args().collect())) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if cli.version {
        println!(
            "strata version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            strata::SPEC_VERSION
        );
        if let Some(c) = option_env!("STRATA_COMMIT") {
            println!("commit: {c}");
        }
        return;
    }
    let Some(cmd) = &cli.command else {
        eprintln!("strata: no command given; see strata --help");
        std::process::exit(1);
    };
    let sink = match strata::logging::init(cli.log.as_deref(), &cli.log_format, cli.debug) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("strata: {e}");
            std::process::exit(1);
        }
    };
    match dispatch(&cli, cmd) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            sink.write(&tracing::Level::ERROR, &msg);
            // With --log the line went to the file; callers also read stderr.
            if cli.log.is_some() {
                eprintln!("strata: {msg}");
            }
            // runc's exec exits 255 on any failure of its own, so callers
            // can tell it from the process's status; everything else 1.
            let code = if matches!(cmd, Command::Exec(_)) {
                255
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}
