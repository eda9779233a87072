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

use strata::cli::{argv, Cli, Command, LayerCommand};
use strata::commands::{self, Global};
use strata::error::Result;

fn dispatch(cli: &Cli, cmd: &Command) -> Result<i32> {
    strata::rootless::init(cli.global.rootless.as_deref())?;
    // Commands without state never make (or check) the default root.
    match cmd {
        Command::Spec(a) => {
            return commands::spec::run(&a.bundle, cli.global.rootless.as_deref() == Some("true"))
        }
        Command::Features => return commands::features::run(),
        Command::Layer(LayerCommand::Unpack { tar, dir }) => {
            return commands::image::unpack(tar, dir)
        }
        _ => {}
    }
    let g = Global::from_cli(cli)?;
    Ok(match cmd {
        Command::Create(a) => commands::create::run(&g, a)?,
        Command::Start(a) => commands::start::run(&g, &a.id)?,
        Command::State(a) => commands::state::run(&g, &a.id)?,
        Command::Kill(a) => commands::kill::run(&g, &a.id, a.signal.as_deref(), a.all)?,
        Command::Delete(a) => commands::delete::run(&g, &a.id, a.force)?,
        Command::Run(a) => commands::run::run(&g, &a.create, a.detach, a.keep)?,
        Command::List(a) => commands::list::run(&g, &a.format, a.quiet)?,
        Command::Spec(a) => {
            commands::spec::run(&a.bundle, cli.global.rootless.as_deref() == Some("true"))?
        }
        Command::Features => commands::features::run()?,
        Command::Events(a) => commands::events::run(&g, a)?,
        Command::Checkpoint(a) => commands::checkpoint::run(&g, a)?,
        Command::Restore(a) => commands::restore::run(&g, a)?,
        Command::Layer(LayerCommand::Diff { id, dest }) => commands::image::diff(&g, id, dest)?,
        Command::Layer(LayerCommand::Unpack { tar, dir }) => commands::image::unpack(tar, dir)?,
        Command::Update(a) => commands::update::run(&g, a)?,
        Command::Pause(a) => commands::pause::run(&g, &a.id, true)?,
        Command::Resume(a) => commands::pause::run(&g, &a.id, false)?,
        Command::Ps(a) => commands::ps::run(&g, &a.id, &a.format, &a.ps_args)?,
        Command::Exec(a) => commands::exec::run(&g, a)?,
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
    let cli = match strata::cli::parse(argv::normalize(std::env::args().collect())) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            // Nothing better to do if the usage cannot be printed.
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if cli.global.version {
        let mut v = format!(
            "strata version {}\nspec: {}\n",
            env!("CARGO_PKG_VERSION"),
            strata::SPEC_VERSION
        );
        if let Some(c) = option_env!("STRATA_COMMIT") {
            v.push_str(&format!("commit: {c}\n"));
        }
        // One write, and a reader gone (`strata --version | head -1`) is
        // no error: println! would panic on the closed pipe.
        if let Err(e) = strata::commands::emit(&v, "the version") {
            eprintln!("strata: {e}");
            std::process::exit(1);
        }
        return;
    }
    let Some(cmd) = &cli.command else {
        eprintln!("strata: no command given; see strata --help");
        std::process::exit(1);
    };
    let sink = match strata::logging::init(
        cli.global.log.as_deref(),
        &cli.global.log_format,
        cli.global.debug,
    ) {
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
            if cli.global.log.is_some() {
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
