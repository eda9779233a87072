//! The program that runs INSIDE test containers (a busybox rootfs without libc), so it is
//! built static: `RUSTFLAGS='-C target-feature=+crt-static' cargo build --release
//! -p runtime-tests --bin probe --target x86_64-unknown-linux-gnu`.
//!
//! Subcommands (errors go to stderr as `probe: ...` with exit status 1):
//! - `report [--out PATH] [ARGS...]`: one JSON object describing what the process sees (to
//!   stdout or PATH); ARGS are ignored but reported
//! - `exit N [TEXT...]`       print TEXT to stdout, exit with status N
//! - `sleep [--children N] [--mark PATH] [--sigfile PATH]`: fork N sleeping children, install
//!   handlers, write "started" to PATH, wait for a catchable signal, write its number to the
//!   sigfile and exit 128+sig
//! - `write PATH TEXT`, `cat PATH`, `ls PATH`
//! - `mkdir PATH`, `personality N`, `open PATH r|w|rw`, `stat PATH`, `vmsplice`: one system call, the outcome
//!   printed as `{"ok": bool, "errno": N, ...}` (exit status 0 either way; see probe/ops.rs)
//! - `exe-attack --only DEV:INO --out PATH --stop PATH [--mark PATH]`: the CVE-2019-5736 loop
//!   against one file (probe/ops.rs)
//! - `notify TEXT [--after-ms N]`: send TEXT as one datagram to $NOTIFY_SOCKET (sd_notify, e.g.
//!   `READY=1`), then sleep N ms (default 0) so the runtime can still see the process alive
//! - `notify-listen PATH [--ms N]` (on the host): bind a datagram socket at PATH, print every
//!   line received until both a `READY=` and a `MAINPID=` line came or N ms (default 10000) passed
//! - `sched`: scheduler, I/O priority, personality, CPU affinity and memory policy as one JSON
//!   object (probe/sched.rs)
#[path = "probe/ops.rs"]
mod ops;
#[path = "probe/sched.rs"]
mod sched;

use serde_json::{json, Map, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

static SIGNAL: AtomicI32 = AtomicI32::new(0);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let result = match (arg(1), arg(2)) {
        (Some("report"), _) => report(&args).and_then(|v| match opt(&args, "--out") {
            Some(path) => ops::write_whole(path, &format!("{v}\n")),
            None => {
                println!("{v}");
                Ok(())
            }
        }),
        (Some("exit"), Some(n)) => {
            if args.len() > 3 {
                println!("{}", args[3..].join(" "));
            }
            std::process::exit(n.parse().unwrap_or(255))
        }
        (Some("sleep"), _) => sleep(&args[2..]),
        (Some("write"), Some(path)) => {
            fs::write(path, arg(3).unwrap_or("")).map_err(|e| format!("write {path}: {e}"))
        }
        (Some("cat"), Some(path)) => fs::read(path)
            .map(|b| print!("{}", String::from_utf8_lossy(&b)))
            .map_err(|e| format!("cat {path}: {e}")),
        (Some("ls"), Some(path)) => list(path).map(|names| names.iter().for_each(|n| println!("{n}"))),
        (Some("mkdir"), Some(path)) => ops::mkdir(path).map(|v| println!("{v}")),
        (Some("personality"), Some(n)) => ops::personality(n).map(|v| println!("{v}")),
        (Some("open"), Some(path)) => ops::open(path, arg(3).unwrap_or("r")).map(|v| println!("{v}")),
        (Some("stat"), Some(path)) => ops::stat(path).map(|v| println!("{v}")),
        (Some("keylabel"), _) => ops::keylabel().map(|v| println!("{v}")),
        (Some("vmsplice"), _) => ops::vmsplice().map(|v| println!("{v}")),
        (Some("exe-attack"), _) => match (opt(&args, "--only"), opt(&args, "--out"), opt(&args, "--stop")) {
            (Some(only), Some(out), Some(stop)) => {
                ops::exe_attack(only, out, stop, opt(&args, "--mark").map(String::as_str))
            }
            _ => Err("exe-attack needs --only DEV:INO --out PATH --stop PATH".into()),
        },
        (Some("notify"), Some(text)) => notify(text, opt(&args, "--after-ms")),
        (Some("notify-listen"), Some(path)) => notify_listen(path, opt(&args, "--ms")),
        (Some("sched"), _) => sched::sched().map(|v| println!("{v}")),
        _ => Err("usage: probe report [--out PATH]|exit N|sleep [--children N] [--mark P] [--sigfile P]|write PATH TEXT|cat PATH|ls PATH|mkdir PATH|personality N|open PATH r|w|rw|stat PATH|exe-attack --only DEV:INO --out P --stop P|notify TEXT [--after-ms N]|notify-listen PATH [--ms N]|sched|vmsplice".into()),
    };
    if let Err(e) = result {
        eprintln!("probe: {e}");
        std::process::exit(1);
    }
}

/// The value after `--name` in `args`.
fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a String> {
    args.iter()
        .position(|o| o == name)
        .and_then(|i| args.get(i + 1))
}

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Waits for a catchable signal. Handlers are needed: as pid 1 of a pid namespace the probe
/// would otherwise ignore SIGTERM sent from the host. The mark is written only once the
/// handlers are in place, so a test that waits for it can signal without a race.
fn sleep(opts: &[String]) -> Result<(), String> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    if let Some(n) = opt(opts, "--children") {
        children(n)?;
    }
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }.map_err(|e| format!("sigaction: {e}"))?;
    }
    if let Some(path) = opt(opts, "--mark") {
        fs::write(path, "started\n").map_err(|e| format!("write {path}: {e}"))?;
    }
    while SIGNAL.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sig = SIGNAL.load(Ordering::SeqCst);
    if let Some(path) = opt(opts, "--sigfile") {
        fs::write(path, format!("{sig}\n")).map_err(|e| format!("write {path}: {e}"))?;
    }
    std::process::exit(128 + sig)
}

/// Forks `n` children that sleep with default signal dispositions.
fn children(n: &str) -> Result<(), String> {
    let n: u32 = n.parse().map_err(|e| format!("children {n}: {e}"))?;
    for _ in 0..n {
        // SAFETY: the probe is single-threaded, so the child may run arbitrary code.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
            nix::unistd::ForkResult::Child => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            nix::unistd::ForkResult::Parent { .. } => {}
        }
    }
    Ok(())
}

fn list(path: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = fs::read_dir(path)
        .map_err(|e| format!("ls {path}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| format!("error: {e}"))
}

fn lines(path: &str) -> Value {
    json!(read(path).lines().collect::<Vec<_>>())
}

fn report(args: &[String]) -> Result<Value, String> {
    use nix::unistd;
    let status = read("/proc/self/status");
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
            .map(str::trim)
    };
    let mut caps = Map::new();
    for k in [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ] {
        caps.insert(k.into(), json!(field(k)));
    }
    let uts = nix::sys::utsname::uname().map_err(|e| format!("uname: {e}"))?;
    let mut ns = Map::new();
    for name in list("/proc/self/ns")? {
        let target = fs::read_link(format!("/proc/self/ns/{name}"));
        ns.insert(
            name,
            json!(target.map(|t| t.to_string_lossy().into_owned()).ok()),
        );
    }
    let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(umask);
    Ok(json!({
        "args": args,
        "pid": unistd::getpid().as_raw(),
        "ppid": unistd::getppid().as_raw(),
        "uid": unistd::getuid().as_raw(), "euid": unistd::geteuid().as_raw(),
        "gid": unistd::getgid().as_raw(), "egid": unistd::getegid().as_raw(),
        "groups": unistd::getgroups().map(|g| g.iter().map(|g| g.as_raw()).collect::<Vec<_>>()).ok(),
        "status": caps,
        "hostname": uts.nodename().to_string_lossy(),
        "domainname": uts.domainname().to_string_lossy(),
        "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_else(|e| format!("error: {e}")),
        "cwd_escaped": cwd_escaped(),
        "env": std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect::<Vec<_>>(),
        "rlimits": rlimits(),
        "umask": umask.bits(),
        "oom_score_adj": read("/proc/self/oom_score_adj").trim(),
        "mountinfo": lines("/proc/self/mountinfo"),
        "ns": ns,
        "cgroup": lines("/proc/self/cgroup"),
        "uid_map": lines("/proc/self/uid_map"),
        "gid_map": lines("/proc/self/gid_map"),
        "fds": fds(),
        "dev": devices(),
    }))
}

/// Walks `..` from the cwd to the top and compares it with `/`: a cwd outside the root
/// (for example a leaked host directory fd) never reaches the container's `/`.
fn cwd_escaped() -> Value {
    let id = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let mut path = String::from(".");
    for _ in 0..256 {
        let parent = format!("{path}/..");
        if id(&path).is_none() || id(&path) == id(&parent) {
            break;
        }
        path = parent;
    }
    json!(id(&path).is_none() || id(&path) != id("/"))
}

fn rlimits() -> Value {
    use nix::sys::resource::{getrlimit, Resource as R};
    let all = [
        ("RLIMIT_AS", R::RLIMIT_AS),
        ("RLIMIT_CORE", R::RLIMIT_CORE),
        ("RLIMIT_CPU", R::RLIMIT_CPU),
        ("RLIMIT_DATA", R::RLIMIT_DATA),
        ("RLIMIT_FSIZE", R::RLIMIT_FSIZE),
        ("RLIMIT_LOCKS", R::RLIMIT_LOCKS),
        ("RLIMIT_MEMLOCK", R::RLIMIT_MEMLOCK),
        ("RLIMIT_MSGQUEUE", R::RLIMIT_MSGQUEUE),
        ("RLIMIT_NICE", R::RLIMIT_NICE),
        ("RLIMIT_NOFILE", R::RLIMIT_NOFILE),
        ("RLIMIT_NPROC", R::RLIMIT_NPROC),
        ("RLIMIT_RSS", R::RLIMIT_RSS),
        ("RLIMIT_RTPRIO", R::RLIMIT_RTPRIO),
        ("RLIMIT_RTTIME", R::RLIMIT_RTTIME),
        ("RLIMIT_SIGPENDING", R::RLIMIT_SIGPENDING),
        ("RLIMIT_STACK", R::RLIMIT_STACK),
    ];
    let map: Map<String, Value> = all
        .iter()
        .filter_map(|(n, r)| {
            getrlimit(*r)
                .ok()
                .map(|(s, h)| (n.to_string(), json!([s, h])))
        })
        .collect();
    Value::Object(map)
}

/// Open fds, without the one used to read /proc/self/fd itself.
fn fds() -> Value {
    let own = format!("/proc/{}/fd", std::process::id());
    let mut out = Vec::new();
    for name in list("/proc/self/fd").unwrap_or_default() {
        let target = fs::read_link(format!("/proc/self/fd/{name}"))
            .map(|t| t.to_string_lossy().into_owned());
        match (name.parse::<i32>(), target) {
            (Ok(_), Ok(t)) if t == own => {}
            (Ok(fd), Ok(t)) => out.push(json!({"fd": fd, "target": t})),
            _ => {}
        }
    }
    json!(out)
}

fn devices() -> Value {
    let mut map = Map::new();
    for name in list("/dev").unwrap_or_default() {
        let path = format!("/dev/{name}");
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        let (kind, major, minor) = ops::kind_and_dev(&m);
        let link = fs::read_link(&path)
            .ok()
            .map(|l| l.to_string_lossy().into_owned());
        map.insert(
            name,
            json!({"type": kind, "major": major, "minor": minor, "mode": m.mode() & 0o7777,
                   "uid": m.uid(), "gid": m.gid(), "link": link}),
        );
    }
    Value::Object(map)
}

/// sd_notify: one datagram to $NOTIFY_SOCKET (a path; systemd's abstract `@` form is not needed
/// in containers).
fn notify(text: &str, after_ms: Option<&String>) -> Result<(), String> {
    let path =
        std::env::var("NOTIFY_SOCKET").map_err(|_| "NOTIFY_SOCKET is not set".to_string())?;
    let sock = std::os::unix::net::UnixDatagram::unbound().map_err(|e| format!("socket: {e}"))?;
    sock.send_to(text.as_bytes(), &path)
        .map_err(|e| format!("send to {path}: {e}"))?;
    let ms: u64 = after_ms.map(|s| s.parse().unwrap_or(0)).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// The caller's side of sd_notify, for tests of engines that relay it (podman).
fn notify_listen(path: &str, ms: Option<&String>) -> Result<(), String> {
    let _ = fs::remove_file(path);
    let sock =
        std::os::unix::net::UnixDatagram::bind(path).map_err(|e| format!("bind {path}: {e}"))?;
    let ms: u64 = ms.map(|s| s.parse().unwrap_or(10_000)).unwrap_or(10_000);
    let deadline = std::time::Instant::now() + Duration::from_millis(ms);
    let (mut ready, mut mainpid) = (false, false);
    let mut buf = [0u8; 4096];
    while !(ready && mainpid) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| format!("timeout: {e}"))?;
        let Ok(n) = sock.recv(&mut buf) else { break };
        for line in String::from_utf8_lossy(&buf[..n])
            .lines()
            .filter(|l| !l.is_empty())
        {
            ready |= line.starts_with("READY=");
            mainpid |= line.starts_with("MAINPID=");
            println!("{line}");
        }
    }
    Ok(())
}
