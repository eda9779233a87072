//! Running the runtime binary under test: identification, invocation with a deadline.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Generous: only there so a hung runtime fails a test instead of the whole run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct Runtime {
    pub path: PathBuf,
    /// First word of `--version` output (`runc`, `crun`, `strata`, ...).
    pub name: String,
    pub version_line: String,
}

impl Runtime {
    pub fn detect(path: &Path) -> Result<Runtime, String> {
        let out = Command::new(path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {} --version: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().next().unwrap_or("").trim().to_string();
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or("unknown")
            .to_string();
        Ok(Runtime {
            path: path.to_path_buf(),
            name,
            version_line: line,
        })
    }
}

/// The result of one runtime invocation.
#[derive(Debug)]
pub struct Out {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// One-line summary for failure messages.
    pub fn describe(&self) -> String {
        let err: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        format!(
            "`{}` -> {}; stderr: {:?}",
            self.cmdline,
            self.status,
            err.join(" | ")
        )
    }

    /// Fails unless the command exited 0.
    pub fn check(self) -> Result<Out, String> {
        if self.ok() {
            Ok(self)
        } else {
            Err(format!("command failed: {}", self.describe()))
        }
    }
}

/// Runs `cmd` with stdout/stderr redirected to `<log_base>.out/.err` (files, not pipes, so a
/// container that keeps them open can never make the harness hang), waiting at most
/// [`COMMAND_TIMEOUT`].
pub fn run_logged(mut cmd: Command, log_base: &Path) -> Result<Out, String> {
    let cmdline = format!("{:?} {}", cmd.get_program(), shell_words(&cmd));
    let (out_path, err_path) = (
        log_base.with_extension("out"),
        log_base.with_extension("err"),
    );
    let out = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let err = File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot spawn {cmdline}: {e}"))?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .map_err(|e| format!("wait {cmdline}: {e}"))?
        {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`{cmdline}` did not finish within {COMMAND_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ok(Out {
        cmdline,
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    })
}

fn shell_words(cmd: &Command) -> String {
    cmd.get_args()
        .map(|a| format!("{:?}", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}
