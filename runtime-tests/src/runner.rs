//! Scheduling: the parent runs each test as a child process, `--jobs` at a time.
use crate::cleanup;
use crate::ctx::{truncate, Ctx};
use crate::harness::{all_tests, Fail};
use crate::runtime::Runtime;
use crate::sys;
use crate::Opts;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A test may take at most this long in total (it only guards against hangs).
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const PROBE_BUILD: &str =
    "RUSTFLAGS='-C target-feature=+crt-static' cargo build --release -p runtime-tests \
                           --bin probe --target x86_64-unknown-linux-gnu";

pub struct ChildArgs {
    pub name: String,
    pub dir: PathBuf,
    pub tag: String,
    pub result: PathBuf,
}

pub fn run_all(o: &Opts) -> i32 {
    let names: Vec<String> = all_tests()
        .into_iter()
        .map(|t| t.name)
        .filter(|n| o.filter.is_empty() || o.filter.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if o.list {
        names.iter().for_each(|n| println!("{n}"));
        return 0;
    }
    let setup = || -> Result<(Runtime, PathBuf), String> {
        let path = std::fs::canonicalize(&o.runtime)
            .map_err(|e| format!("{}: {e}", o.runtime.display()))?;
        let rt = Runtime::detect(&path)?;
        let probe = std::fs::canonicalize(&o.probe).map_err(|e| {
            format!(
                "probe {}: {e}; build it with: {PROBE_BUILD}",
                o.probe.display()
            )
        })?;
        if !sys::is_static_elf(&probe)? {
            return Err(format!(
                "{} is dynamically linked; build it with: {PROBE_BUILD}",
                probe.display()
            ));
        }
        if !sys::is_static_elf(Path::new("/bin/busybox"))? {
            return Err(
                "/bin/busybox is dynamically linked (apt-get install busybox-static)".into(),
            );
        }
        // A private mount namespace: nothing a test mounts reaches the host, and mount changes
        // on the host during the run (e.g. a benchmark mounting a v1 hugetlb hierarchy for
        // crun and unmounting it again) do not change the cgroup layout under the runtimes'
        // feet. rprivate rather than rslave for that second reason.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
        let flags = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
        nix::mount::mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .map_err(|e| format!("make / rprivate: {e}"))?;
        Ok((rt, probe))
    };
    let (rt, probe) = match setup() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("runtime-tests: {e}");
            return 2;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone());
    let run_dir = o
        .workdir
        .join(format!("runtime-tests.{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&run_dir) {
        eprintln!("runtime-tests: mkdir {}: {e}", run_dir.display());
        return 2;
    }
    println!(
        "# {} ({}): {} tests, {} jobs",
        rt.path.display(),
        rt.version_line,
        names.len(),
        o.jobs
    );
    let next = AtomicUsize::new(0);
    let counts = Mutex::new([0u32; 3]);
    std::thread::scope(|s| {
        for _ in 0..o.jobs.min(names.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= names.len() || stop.load(Ordering::SeqCst) {
                    break;
                }
                let (line, notes) = run_one(&rt, &probe, &names[i], i, &run_dir);
                let slot = if line.starts_with("ok ") {
                    0
                } else if line.starts_with("skipped ") {
                    2
                } else {
                    1
                };
                let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
                c[slot] += 1;
                println!("{line}");
                notes.iter().for_each(|n| println!("#   {n}"));
            });
        }
    });
    if let Err(e) = sys::remove_tree(&run_dir) {
        eprintln!("runtime-tests: {e}");
    }
    cleanup::remove_parent_cgroups();
    let c = counts
        .lock()
        .map(|c| *c)
        .unwrap_or_else(|p| *p.into_inner());
    if stop.load(Ordering::SeqCst) {
        println!(
            "# interrupted: {} tests not run",
            names.len() as u32 - c.iter().sum::<u32>()
        );
    }
    println!("{} passed, {} failed, {} skipped", c[0], c[1], c[2]);
    i32::from(c[1] > 0 || stop.load(Ordering::SeqCst))
}

/// SIGINT/SIGTERM/SIGHUP: start no more tests; the running ones finish (or die with the
/// terminal's signal) and are cleaned up by the parent as usual.
fn watch_signals(stop: Arc<AtomicBool>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]
        .into_iter()
        .for_each(|s| set.add(s));
    if set.thread_block().is_ok() {
        std::thread::spawn(move || {
            if let Ok(sig) = set.wait() {
                eprintln!("# {sig}: no more tests will start");
                stop.store(true, Ordering::SeqCst);
            }
        });
    }
}

/// Runs one test in a child process; returns its result line and any notes (child
/// diagnostics, cleanup problems).
fn run_one(
    rt: &Runtime,
    probe: &Path,
    name: &str,
    idx: usize,
    run_dir: &Path,
) -> (String, Vec<String>) {
    let c = ChildArgs {
        name: name.to_string(),
        dir: run_dir.join(idx.to_string()),
        tag: format!("rt{}-{idx}", std::process::id()),
        result: run_dir.join(format!("{idx}.result")),
    };
    let log = run_dir.join(format!("{idx}.log"));
    let mut line = match spawn_child(rt, probe, &c, &log) {
        Ok(status) => match std::fs::read_to_string(&c.result) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => format!("FAILED {name}: the test process ended ({status}) without a result"),
        },
        Err(e) => format!("FAILED {name}: {e}"),
    };
    let mut notes: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let problems = cleanup::cleanup(&rt.path, &c.dir, &c.tag);
    if !problems.is_empty() && line.starts_with("ok ") {
        line = format!("FAILED {name}: the harness could not clean up after it");
    }
    notes.extend(problems.into_iter().map(|p| format!("cleanup: {p}")));
    let _ = std::fs::remove_file(&c.result);
    let _ = std::fs::remove_file(&log);
    (line, notes)
}

fn spawn_child(
    rt: &Runtime,
    probe: &Path,
    c: &ChildArgs,
    log: &Path,
) -> Result<ExitStatus, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(exe)
        .arg("--runtime")
        .arg(&rt.path)
        .arg("--probe")
        .arg(probe)
        .args(["--child", &c.name, "--tag", &c.tag])
        .arg("--dir")
        .arg(&c.dir)
        .arg("--result")
        .arg(&c.result)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("spawn test process: {e}"))?;
    let deadline = Instant::now() + TEST_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {TEST_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait for test process: {e}")),
        }
    }
}

/// Runs one test in this process and writes its result line to `c.result`.
pub fn run_child(o: &Opts, c: &ChildArgs) -> i32 {
    let result_path = c.result.clone();
    let name = c.name.clone();
    std::panic::set_hook(Box::new(move |info| {
        // panic = "abort" in this workspace: no unwinding, so record the failure now; the
        // parent does the cleanup that Drop would have done.
        let _ = std::fs::write(
            &result_path,
            format!("FAILED {name}: panic: {}", one_line(&info.to_string())),
        );
    }));
    let line = match run_test(o, c) {
        Ok(()) => format!("ok {}", c.name),
        Err(Fail::Skipped(r)) => format!("skipped {}: {}", c.name, one_line(&r)),
        Err(Fail::Failed(r)) => format!("FAILED {}: {}", c.name, one_line(&r)),
    };
    match std::fs::write(&c.result, line) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("write {}: {e}", c.result.display());
            1
        }
    }
}

fn run_test(o: &Opts, c: &ChildArgs) -> Result<(), Fail> {
    let test = all_tests()
        .into_iter()
        .find(|t| t.name == c.name)
        .ok_or(format!("no test named {}", c.name))?;
    let rt = Runtime::detect(&o.runtime)?;
    let rt_name = rt.name.clone();
    if let Some((only, why)) = test.only_for.filter(|(only, _)| *only != rt_name) {
        return Err(Fail::Skipped(format!("{only} only: {why}")));
    }
    let result = {
        let ctx = Ctx::new(rt, o.probe.clone(), c.dir.clone(), c.tag.clone())?;
        (test.run)(&ctx)
    }; // ctx dropped: cleanup done before the result is reported
    let deviation = test.deviation.as_ref().filter(|d| d.applies(&rt_name));
    match (result, deviation) {
        (Err(Fail::Failed(why)), Some(d)) => Err(Fail::Skipped(format!(
            "known {} deviation: {} (observed: {})",
            d.runtime,
            d.reason,
            truncate(&why, 300)
        ))),
        // A deviation that the runtime no longer shows is stale: failing here keeps the skip
        // count honest (it would otherwise hide that runc now does what the test checks).
        (Ok(()), Some(d)) if !d.intermittent => Err(Fail::Failed(format!(
            "stale {} deviation: the test passes, so \"{}\" no longer holds; drop .deviates()",
            d.runtime, d.reason
        ))),
        (r, _) => r,
    }
}

fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" | ")
}
