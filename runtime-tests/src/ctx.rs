//! The per-test context: a private dir, state root and tag, helpers to drive the runtime,
//! and cleanup on drop.
use crate::bundle::Bundle;
use crate::cleanup;
use crate::harness::Context;
use crate::runtime::{run_logged, Out, Runtime};
use crate::sys;
use serde_json::Value;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Ctx {
    pub rt: Runtime,
    pub probe: PathBuf,
    /// The test's private directory; everything the test makes lives below it.
    pub dir: PathBuf,
    /// `--root` state directory (`<dir>/root`).
    pub root: PathBuf,
    /// Unique per test; prefix of every container id and cgroup, and set as
    /// `RUNTIME_TESTS_TAG` in the environment of every process the test starts.
    pub tag: String,
    seq: Cell<u32>,
}

impl Ctx {
    pub fn new(rt: Runtime, probe: PathBuf, dir: PathBuf, tag: String) -> Result<Ctx, String> {
        std::fs::create_dir_all(dir.join("logs")).ctx(format!("mkdir {}", dir.display()))?;
        let root = dir.join("root");
        Ok(Ctx {
            rt,
            probe,
            dir,
            root,
            tag,
            seq: Cell::new(0),
        })
    }

    fn next(&self) -> u32 {
        self.seq.set(self.seq.get() + 1);
        self.seq.get()
    }

    /// A fresh container id, valid for every runtime: `<tag>-<n>`.
    pub fn new_id(&self) -> String {
        format!("{}-{}", self.tag, self.next())
    }

    /// A fresh bundle with its own id (cgroupsPath `/runtime-tests/<id>`).
    pub fn bundle(&self) -> Result<Bundle, String> {
        let id = self.new_id();
        Bundle::new(
            &self.dir.join(format!("b{}", self.seq.get())),
            &id,
            &self.tag,
            &self.probe,
        )
    }

    /// A fresh host directory under the test dir (for bind mounts and markers).
    pub fn host_dir(&self, name: &str) -> Result<PathBuf, String> {
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p).ctx(format!("mkdir {}", p.display()))?;
        Ok(p)
    }

    /// A runtime command with no arguments yet (cwd `/`, so relative paths are never
    /// accidentally resolved against the harness's cwd).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.rt.path);
        cmd.current_dir("/").env("RUNTIME_TESTS_TAG", &self.tag);
        if crate::systemd::on() {
            cmd.arg("--systemd-cgroup");
        }
        cmd
    }

    /// Runs a prepared command, output captured in `<dir>/logs/<n>.out/.err`.
    pub fn exec(&self, cmd: Command) -> Result<Out, String> {
        run_logged(cmd, &self.dir.join("logs").join(self.next().to_string()))
    }

    /// `RUNTIME --root <root> ARGS...`
    pub fn rt(&self, args: &[&str]) -> Result<Out, String> {
        let mut cmd = self.command();
        cmd.arg("--root").arg(&self.root).args(args);
        self.exec(cmd)
    }

    /// Writes the config and runs `create --bundle DIR ID`; fails unless it succeeds.
    pub fn create(&self, b: &Bundle) -> Result<Out, String> {
        b.write()?;
        self.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id])?
            .check()
    }

    /// Writes the config and runs `create --bundle DIR [EXTRA...] ID`, success or not.
    pub fn try_create(&self, b: &Bundle, extra: &[&str]) -> Result<Out, String> {
        b.write()?;
        let dir = b.dir.to_string_lossy();
        let mut args = vec!["create", "--bundle", &dir];
        args.extend_from_slice(extra);
        args.push(&b.id);
        self.rt(&args)
    }

    pub fn start(&self, id: &str) -> Result<Out, String> {
        self.rt(&["start", id])?.check()
    }

    /// `create` then `start`.
    pub fn create_start(&self, b: &Bundle) -> Result<(), String> {
        self.create(b)?;
        self.start(&b.id).map(drop)
    }

    pub fn state(&self, id: &str) -> Result<Value, String> {
        let out = self.rt(&["state", id])?.check()?;
        serde_json::from_str(&out.stdout).ctx(format!("state output {:?}", out.stdout))
    }

    pub fn status(&self, id: &str) -> Result<String, String> {
        Ok(self.state(id)?["status"]
            .as_str()
            .unwrap_or("<no status>")
            .to_string())
    }

    /// Polls `state` until the status is `want` (generous timeout against hangs only).
    pub fn wait_status(&self, id: &str, want: &str) -> Result<(), String> {
        let mut last = Ok(String::new());
        if sys::wait_for(30, || {
            last = self.status(id);
            matches!(&last, Ok(s) if s == want)
        }) {
            return Ok(());
        }
        Err(format!(
            "container {id} never reached {want:?}; last status {last:?}"
        ))
    }

    /// Kill (SIGKILL) and delete, checking both succeed.
    pub fn destroy(&self, id: &str) -> Result<(), String> {
        self.rt(&["delete", "--force", id])?.check().map(drop)
    }

    /// Writes the config; returns `RUNTIME --root <root> run --bundle DIR ID`, not yet
    /// started, for a test that needs its own stdio, fds or a process to wait on.
    pub fn run_command(&self, b: &Bundle) -> Result<Command, String> {
        self.bundle_command("run", b)
    }

    /// The same for `create`.
    pub fn create_command(&self, b: &Bundle) -> Result<Command, String> {
        self.bundle_command("create", b)
    }

    fn bundle_command(&self, verb: &str, b: &Bundle) -> Result<Command, String> {
        b.write()?;
        let mut cmd = self.command();
        cmd.arg("--root")
            .arg(&self.root)
            .arg(verb)
            .arg("--bundle")
            .arg(&b.dir)
            .arg(&b.id);
        Ok(cmd)
    }

    /// Writes the config and runs `run --bundle DIR [EXTRA...] ID` in the foreground.
    pub fn run(&self, b: &Bundle, extra: &[&str]) -> Result<Out, String> {
        b.write()?;
        let dir = b.dir.to_string_lossy();
        let mut args = vec!["run", "--bundle", &dir];
        args.extend_from_slice(extra);
        args.push(&b.id);
        self.rt(&args)
    }

    /// Runs `/probe report` in the container and returns its JSON.
    pub fn report(&self, b: &mut Bundle) -> Result<Value, String> {
        b.args(&["/probe", "report"]);
        let out = self.run(b, &[])?.check()?;
        parse_report(&out.stdout)
    }

    /// Leftovers of `id` (see [`cleanup::leftovers`]), as an error naming them.
    pub fn ensure_clean(&self, id: Option<&str>, cg: &str) -> Result<(), String> {
        let left = cleanup::leftovers(&self.dir, &self.tag, id, cg);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("left behind: {}", left.join(", ")))
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        for p in cleanup::cleanup(&self.rt.path, &self.dir, &self.tag) {
            eprintln!("cleanup: {p}");
        }
    }
}

/// The probe's report is the last line of stdout that parses as a JSON object.
pub fn parse_report(stdout: &str) -> Result<Value, String> {
    stdout
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .ok_or_else(|| format!("no probe report in output {:?}", truncate(stdout, 300)))
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Reads a file the container wrote into a bind-mounted host dir.
pub fn read_host(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}
