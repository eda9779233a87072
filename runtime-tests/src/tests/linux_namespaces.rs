//! config-linux.md "Namespaces" and "User namespace mappings".
use crate::ctx::Ctx;
use crate::harness::{Context, TResult, Test};
use crate::{ensure, ensure_eq, skip, sys};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// (config type, /proc/PID/ns entry)
const KINDS: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

pub fn tests() -> Vec<Test> {
    let mut v: Vec<Test> = KINDS
        .iter()
        .map(|&(kind, file)| {
            Test::new(&format!("linux_namespaces::new_{kind}"), move |ctx| {
                new_ns(ctx, kind, file)
            })
        })
        .collect();
    v.push(Test::new(
        "linux_namespaces::inherited_when_absent",
        inherited_when_absent,
    ));
    v.push(Test::new("linux_namespaces::join_by_path", join_by_path));
    v.push(Test::new("linux_namespaces::none", none));
    v.push(
        Test::new("linux_namespaces::none_exec", none_exec).deviates(
            "runc",
            "1.1.5 runs the exec'd process in its own root, not the container's",
        ),
    );
    v.push(
        Test::new(
            "linux_namespaces::none_failure_leaves_nothing",
            none_failure_leaves_nothing,
        )
        .deviates(
            "runc",
            "1.1.5 leaves the mounts it made in the rootfs (in its own namespace) when it fails",
        ),
    );
    v.push(Test::new(
        "linux_namespaces::user_bounding_set",
        user_bounding_set,
    ));
    v.push(Test::new(
        "linux_namespaces::hostname_in_joined_uts",
        hostname_in_joined_uts,
    ));
    v
}

/// config.md "capabilities": the bounding set is the config's, in a new user namespace too.
/// The kernel gives a process entering a user namespace every capability in its bounding
/// set, also those the host's lacks (CAP_SYS_RESOURCE on this machine): they must be dropped.
fn user_bounding_set(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map;
    let names: Vec<String> = b.config["process"]["capabilities"]["bounding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let want = super::cap_mask(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let rep = ctx.report(&mut b)?;
    let got = super::rep_caps(&rep, "CapBnd")?;
    ensure!(
        got == want,
        "CapBnd {got:#x}, config {want:#x}: extra {:?}, missing {:?}",
        super::cap_names(got & !want),
        super::cap_names(want & !got)
    );
    Ok(())
}

/// The harness's mountinfo lines for mount points outside `dir`, verbatim (ids, options,
/// propagation), for "nothing changed outside the bundle".
fn mounts_outside(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter(|l| sys::parse_mountinfo_line(l).is_some_and(|m| !sys::is_under(&m.point, dir)))
        .map(str::to_string)
        .collect()
}

/// No namespaces at all: the container inherits every one of the runtime's, the mount
/// namespace included (config-linux.md "MUST inherit"). It still runs in its rootfs (the
/// probe exists only there), and the mount table outside the bundle is what it was: mounts
/// go only under the rootfs, "/" keeps its propagation. (Masked and read-only paths need a
/// mount namespace: both runc and strata refuse them without one, so they are left out.)
fn none(ctx: &Ctx) -> TResult {
    let mut b = no_namespaces(ctx)?;
    // Every test of this run keeps its mounts under the run's dir: outside it, nothing moves.
    let run_dir = ctx.dir.parent().ctx("run dir")?.to_path_buf();
    let before = mounts_outside(&run_dir);
    let rep = ctx.report(&mut b)?;
    let after = mounts_outside(&run_dir);
    for (_, file) in KINDS {
        let Some(own) = sys::own_ns(file) else {
            continue; // a kernel without this namespace kind
        };
        ensure_eq!(ns_of(&rep, file)?, own, "{file} namespace");
    }
    ensure_eq!(
        rep["cwd_escaped"],
        false,
        "cwd outside the container's root"
    );
    ensure_eq!(before, after, "the harness's mounts outside the run dir");
    Ok(())
}

/// A bundle with no namespaces, nor what needs one (hostname, masked and read-only paths).
fn no_namespaces(ctx: &Ctx) -> Result<crate::bundle::Bundle, String> {
    let mut b = ctx.bundle()?;
    b.config["linux"]["namespaces"] = json!([]);
    let linux = b.config["linux"].as_object_mut().ctx("linux")?;
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    b.config.as_object_mut().map(|c| c.remove("hostname"));
    Ok(b)
}

/// Without a mount namespace the container's mounts are in the runtime's: a container that
/// fails after some were made (a bind source that is missing, after the default mounts; a
/// program that is missing) leaves none of them behind, nor anything else.
fn none_failure_leaves_nothing(ctx: &Ctx) -> TResult {
    let mut b = no_namespaces(ctx)?;
    b.mount(json!({"destination": "/mnt/gone", "type": "bind",
        "source": ctx.dir.join("no-such-source"), "options": ["rbind"]}));
    let out = ctx.run(&b, &[])?;
    super::one_line_error(&out)?;
    ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
    let mut b = no_namespaces(ctx)?;
    b.args(&["/no-such-program"]);
    let out = ctx.run(&b, &[])?;
    ensure!(!out.ok(), "a missing program ran: {}", out.describe());
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

/// `exec` into a container without namespaces runs in the container's root (a chroot in the
/// runtime's mount namespace), as its init does: /probe exists only there.
fn none_exec(ctx: &Ctx) -> TResult {
    let mut b = no_namespaces(ctx)?;
    b.args(&["/bin/sleep", "600"]);
    ctx.create_start(&b)?;
    ctx.wait_status(&b.id, "running")?;
    let out = ctx.rt(&["exec", &b.id, "/probe", "report"])?.check()?;
    let rep = crate::ctx::parse_report(&out.stdout)?;
    ensure_eq!(
        rep["cwd_escaped"],
        false,
        "cwd outside the container's root"
    );
    ensure_eq!(
        ns_of(&rep, "mnt")?,
        sys::own_ns("mnt").ctx("own mount namespace")?,
        "mount namespace"
    );
    Ok(ctx.destroy(&b.id)?)
}

/// config.md "Hostname" with the uts namespace joined by path (config-linux.md allows a
/// path for any type): the hostname is set in that namespace.
fn hostname_in_joined_uts(ctx: &Ctx) -> TResult {
    let mut cmd = Command::new("/bin/busybox");
    cmd.args(["sleep", "3600"])
        .env("RUNTIME_TESTS_TAG", &ctx.tag)
        .stdin(Stdio::null());
    // SAFETY: unshare is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS).map_err(std::io::Error::from)
        });
    }
    let holder = Holder(cmd.spawn().ctx("spawn the namespace holder")?);
    let pid = holder.0.id();
    let mut b = ctx.bundle()?;
    b.config["hostname"] = json!("joined-uts-host");
    b.namespace("uts", Some(&format!("/proc/{pid}/ns/uts")));
    let rep = ctx.report(&mut b)?;
    ensure_eq!(
        rep["hostname"],
        "joined-uts-host",
        "hostname in the container"
    );
    drop(holder);
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}

fn ns_of(rep: &Value, file: &str) -> Result<u64, String> {
    rep["ns"][file]
        .as_str()
        .and_then(sys::ns_inode)
        .ctx(format!("{file} namespace in the report"))
}

/// A namespace listed without a path is new: its inode differs from the harness's.
fn new_ns(ctx: &Ctx, kind: &str, file: &str) -> TResult {
    let mut b = ctx.bundle()?;
    b.namespace(kind, None);
    match kind {
        "user" => {
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.config["linux"]["uidMappings"] = map.clone();
            b.config["linux"]["gidMappings"] = map;
        }
        "time" => b.config["ociVersion"] = json!("1.1.0"),
        _ => {}
    }
    b.args(&["/probe", "report"]);
    let out = ctx.run(&b, &[])?;
    if kind == "time" && !out.ok() {
        // config-linux.md: namespace types "SHOULD be supported"; refusing is allowed.
        ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?;
        skip!(
            "the runtime refuses the time namespace (a SHOULD in config-linux.md): {}",
            out.describe()
        );
    }
    let rep = crate::ctx::parse_report(&out.check()?.stdout)?;
    let own = sys::own_ns(file).ctx(format!("own {file} namespace"))?;
    ensure!(
        ns_of(&rep, file)? != own,
        "{kind}: the container shares the harness's namespace {own}"
    );
    match kind {
        "pid" => ensure_eq!(rep["pid"], 1, "pid inside a new pid namespace"),
        "user" => {
            ensure_eq!(rep["uid"], 0, "uid inside the user namespace");
            let line = rep["uid_map"][0]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            ensure_eq!(line, "0 100000 65536", "uid_map");
        }
        "cgroup" => {
            let lines: Vec<&str> = rep["cgroup"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            ensure!(
                !lines.is_empty() && lines.iter().all(|l| l.ends_with(":/")),
                "cgroup paths not at the ns root: {lines:?}"
            );
        }
        _ => {}
    }
    Ok(())
}

/// "If a namespace type is not specified ... the container MUST inherit the runtime namespace."
fn inherited_when_absent(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    b.without_namespace("network");
    let rep = ctx.report(&mut b)?;
    ensure_eq!(
        ns_of(&rep, "net")?,
        sys::own_ns("net").ctx("own net namespace")?,
        "net namespace"
    );
    Ok(())
}

/// Kills the namespace holder process however the test ends.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// "The runtime MUST place the container process in the namespace associated with that path."
fn join_by_path(ctx: &Ctx) -> TResult {
    use nix::sched::CloneFlags as F;
    let mut cmd = Command::new("/bin/busybox");
    cmd.args(["sleep", "3600"])
        .env("RUNTIME_TESTS_TAG", &ctx.tag)
        .stdin(Stdio::null());
    // SAFETY: unshare is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sched::unshare(F::CLONE_NEWNET | F::CLONE_NEWIPC | F::CLONE_NEWUTS)
                .map_err(std::io::Error::from)
        });
    }
    let holder = Holder(cmd.spawn().ctx("spawn the namespace holder")?);
    let pid = holder.0.id();
    let mut b = ctx.bundle()?;
    b.config.as_object_mut().map(|c| c.remove("hostname"));
    for (kind, file) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
        b.namespace(kind, Some(&format!("/proc/{pid}/ns/{file}")));
    }
    let rep = ctx.report(&mut b)?;
    for file in ["net", "ipc", "uts"] {
        let want = std::fs::read_link(format!("/proc/{pid}/ns/{file}")).ctx("holder namespace")?;
        let want = sys::ns_inode(&want.to_string_lossy()).ctx("holder inode")?;
        ensure_eq!(ns_of(&rep, file)?, want, "{file} namespace joined by path");
    }
    drop(holder);
    Ok(ctx.ensure_clean(Some(&b.id), &b.cgroups_path())?)
}
