//! Conformance tests for runc-compatible OCI runtimes.
//!
//! `runtime-tests --runtime PATH [--probe PATH] [--filter SUBSTR] [--jobs N] [--list] [--workdir DIR]
//! [--systemd]` (`--systemd`: the systemd cgroup driver, see `systemd.rs`)
//!
//! Each test runs in a child process of the harness (the same binary with `--child NAME`),
//! `--jobs` at a time. The workspace builds with `panic = "abort"`, so a separate process is
//! the only way a panicking test cannot take its neighbours down or skip their cleanup: the
//! child cleans up through `Drop` guards, and the parent cleans up again (idempotently)
//! after every child, which also covers a child that aborted or was killed.
mod account;
mod bundle;
mod cgroups;
mod cleanup;
mod ctx;
mod harness;
mod runner;
mod runtime;
mod sys;
mod systemd;
mod tests;
mod user;

use std::path::PathBuf;

pub struct Opts {
    pub runtime: PathBuf,
    pub probe: PathBuf,
    pub filter: Vec<String>,
    pub jobs: usize,
    pub list: bool,
    pub workdir: PathBuf,
    /// Internal: run one test in this process (`--child NAME --dir D --tag T --result F`).
    pub child: Option<runner::ChildArgs>,
}

const USAGE: &str =
    "usage: runtime-tests --runtime PATH [--probe PATH] [--filter SUBSTR]... [--jobs N] [--list] [--workdir DIR] [--systemd]";

fn parse_args() -> Result<Opts, String> {
    let default_probe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/x86_64-unknown-linux-gnu/release/probe");
    let mut o = Opts {
        runtime: PathBuf::new(),
        probe: default_probe,
        filter: vec![],
        jobs: 4,
        list: false,
        workdir: PathBuf::from("/tmp"),
        child: None,
    };
    let (mut child_name, mut dir, mut tag, mut result) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if flag == "--systemd" {
            systemd::set();
            continue;
        }
        if flag == "--list" {
            o.list = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))?,
        };
        match flag.as_str() {
            "--runtime" => o.runtime = PathBuf::from(value),
            "--probe" => o.probe = PathBuf::from(value),
            "--filter" => o.filter.push(value),
            "--jobs" => {
                o.jobs = value
                    .parse()
                    .ok()
                    .filter(|j| *j > 0)
                    .ok_or("--jobs needs a number > 0")?
            }
            "--workdir" => o.workdir = PathBuf::from(value),
            "--child" => child_name = Some(value),
            "--dir" => dir = Some(PathBuf::from(value)),
            "--tag" => tag = Some(value),
            "--result" => result = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    if !o.list && o.runtime.as_os_str().is_empty() {
        return Err(format!("--runtime is required\n{USAGE}"));
    }
    if let (Some(name), Some(dir), Some(tag), Some(result)) = (child_name, dir, tag, result) {
        o.child = Some(runner::ChildArgs {
            name,
            dir,
            tag,
            result,
        });
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("runtime-tests: {e}");
            std::process::exit(2);
        }
    };
    let code = match &opts.child {
        Some(child) => runner::run_child(&opts, child),
        None => runner::run_all(&opts),
    };
    std::process::exit(code);
}
