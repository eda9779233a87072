//! A throw-away unprivileged user for rootless tests: made with useradd, granted a
//! subordinate id range in /etc/subuid and /etc/subgid, with its own XDG_RUNTIME_DIR and a
//! copy of the runtime it may execute. The runtime is run as that user with setpriv
//! (util-linux). Removed on drop, and again by the harness's cleanup after the test process
//! ends, so a test that fails or dies leaves no user behind.
use crate::account::{self, ids, shadow_tool, which};
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::harness::Context;
use crate::runtime::Out;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many subordinate ids the user is granted (one full 16-bit range, as useradd gives).
pub const SUB_COUNT: u32 = 65536;

pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// First subordinate uid and gid ([`SUB_COUNT`] of each).
    pub sub_start: u32,
    /// The user's $XDG_RUNTIME_DIR (0700, its own).
    pub xdg: PathBuf,
    /// The user's $HOME (its own).
    pub home: PathBuf,
    /// A copy of the runtime under test in a 0755 dir (the original may sit where the user
    /// cannot reach it).
    pub runtime: PathBuf,
    tag: String,
    /// State roots to empty on drop: the test's `--root` and the runtime's default one.
    roots: Vec<PathBuf>,
}

impl User {
    /// Makes the user for `ctx`'s test. `ctx.root` becomes a directory of the user's own,
    /// so `ctx.ensure_clean` checks the user's state there.
    pub fn new(ctx: &Ctx) -> Result<User, String> {
        for tool in [
            "useradd",
            "usermod",
            "userdel",
            "setpriv",
            "newuidmap",
            "newgidmap",
        ] {
            if which(tool).is_none() {
                return Err(format!(
                    "{tool} not found (packages passwd, util-linux, uidmap: hack/deps.sh test)"
                ));
            }
        }
        let name = account::name_for(&ctx.tag);
        let home = ctx.dir.join("home");
        shadow_tool(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--home-dir",
            &home.to_string_lossy(),
            &name,
        ]))?;
        let mut user = User {
            name: name.clone(),
            uid: 0,
            gid: 0,
            sub_start: 0,
            xdg: ctx.dir.join("xdg"),
            home,
            runtime: PathBuf::new(),
            tag: ctx.tag.clone(),
            roots: vec![ctx.root.clone()],
        };
        // From here on, drop removes the user whatever fails next.
        let (uid, gid) = ids(&name)?;
        user.uid = uid;
        user.gid = gid;
        // A range no real user has (they start at 100000) and unique per uid.
        user.sub_start = 1_000_000_000 + (uid % 40_000) * SUB_COUNT;
        let range = format!("{}-{}", user.sub_start, user.sub_start + SUB_COUNT - 1);
        shadow_tool(Command::new("usermod").args([
            "--add-subuids",
            &range,
            "--add-subgids",
            &range,
            &name,
        ]))?;
        for d in [&user.home, &user.xdg, &ctx.root] {
            fs::create_dir_all(d).ctx(format!("mkdir {}", d.display()))?;
            user.chown(d)?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))
                .ctx(format!("chmod {}", d.display()))?;
        }
        let bin = ctx.dir.join("bin");
        fs::create_dir_all(&bin).ctx(format!("mkdir {}", bin.display()))?;
        let file = ctx.rt.path.file_name().ctx("runtime file name")?;
        user.runtime = bin.join(file);
        fs::copy(&ctx.rt.path, &user.runtime).ctx(format!("copy {}", ctx.rt.path.display()))?;
        fs::set_permissions(&user.runtime, fs::Permissions::from_mode(0o755))
            .ctx("chmod runtime copy")?;
        user.roots.push(user.default_root(ctx));
        Ok(user)
    }

    /// The runtime's default state root for this user: `$XDG_RUNTIME_DIR/<runtime name>`
    /// (runc's rule; strata's is the same with its own name).
    pub fn default_root(&self, ctx: &Ctx) -> PathBuf {
        self.xdg.join(&ctx.rt.name)
    }

    pub fn chown(&self, p: &Path) -> Result<(), String> {
        std::os::unix::fs::chown(p, Some(self.uid), Some(self.gid))
            .ctx(format!("chown {}", p.display()))
    }

    /// `cmd` (a program and its arguments) run as the user: no groups, no capabilities, a
    /// clean environment with its HOME, USER and XDG_RUNTIME_DIR, and the test's tag.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program)
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("RUNTIME_TESTS_TAG", &self.tag);
        cmd
    }

    /// `RUNTIME --root <ctx.root> ARGS...` as the user.
    pub fn rt(&self, ctx: &Ctx, args: &[&str]) -> Result<Out, String> {
        let mut cmd = self.command(&self.runtime);
        cmd.arg("--root").arg(&ctx.root).args(args);
        ctx.exec(cmd)
    }

    /// Writes `b`'s config and runs `run --bundle DIR ID` as the user.
    pub fn run(&self, ctx: &Ctx, b: &Bundle) -> Result<Out, String> {
        b.write()?;
        self.rt(ctx, &["run", "--bundle", &b.dir.to_string_lossy(), &b.id])
    }

    /// Writes `b`'s config and runs `create --bundle DIR ID` as the user.
    pub fn create(&self, ctx: &Ctx, b: &Bundle) -> Result<Out, String> {
        b.write()?;
        self.rt(
            ctx,
            &["create", "--bundle", &b.dir.to_string_lossy(), &b.id],
        )
    }
}

impl Drop for User {
    fn drop(&mut self) {
        if self.uid != 0 {
            for root in &self.roots {
                for e in fs::read_dir(root).into_iter().flatten().flatten() {
                    let mut cmd = self.command(&self.runtime);
                    cmd.arg("--root")
                        .arg(root)
                        .args(["delete", "--force"])
                        .arg(e.file_name())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let _ = cmd.status();
                }
            }
        }
        for p in account::remove(&self.name) {
            eprintln!("cleanup: {p}");
        }
    }
}
