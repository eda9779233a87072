//! Test registry, outcomes and the assertion macros the test modules use.
use crate::ctx::Ctx;
use std::fmt::Display;

/// Why a test did not pass.
#[derive(Debug)]
pub enum Fail {
    Failed(String),
    Skipped(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Failed(s)
    }
}

pub type TResult = Result<(), Fail>;
type TestFn = Box<dyn Fn(&Ctx) -> TResult>;

/// A runtime's known, explained departure from the spec: when the test fails against a
/// runtime whose `--version` starts with `runtime`, it is reported as skipped with `reason`.
/// When it passes there, the deviation is stale and the test fails, so that every skip stands
/// for a departure seen in this run.
pub struct Deviation {
    pub runtime: &'static str,
    pub reason: &'static str,
    /// The deviation holds only on hosts where this is true (e.g. pure cgroup v2); elsewhere
    /// the runtime must pass like any other.
    pub only_where: Option<fn() -> bool>,
    /// A race the runtime loses only in some runs: a pass is not proof that it is fixed.
    pub intermittent: bool,
}

impl Deviation {
    pub fn applies(&self, runtime: &str) -> bool {
        self.runtime == runtime && self.only_where.is_none_or(|f| f())
    }
}

pub struct Test {
    pub name: String,
    pub run: TestFn,
    pub deviation: Option<Deviation>,
    /// A runtime's own extension (no spec, no peer has it): (runtime, why), skipped elsewhere.
    pub only_for: Option<(&'static str, &'static str)>,
}

impl Test {
    pub fn new(name: &str, run: impl Fn(&Ctx) -> TResult + 'static) -> Test {
        Test {
            name: name.to_string(),
            run: Box::new(run),
            deviation: None,
            only_for: None,
        }
    }

    /// Tests of `runtime`'s own extension: skipped (not run) against any other runtime, since
    /// its refusal of an unknown command would otherwise pass a test of a refusal.
    pub fn only_for(mut self, runtime: &'static str, why: &'static str) -> Test {
        self.only_for = Some((runtime, why));
        self
    }

    /// Marks a known deviation of `runtime` (see [`Deviation`]); explain it at the call site.
    pub fn deviates(self, runtime: &'static str, reason: &'static str) -> Test {
        self.deviation_of(runtime, reason, None, false)
    }

    /// A deviation that holds only where `host` is true (say, only on cgroup v2).
    pub fn deviates_where(
        self,
        runtime: &'static str,
        reason: &'static str,
        host: fn() -> bool,
    ) -> Test {
        self.deviation_of(runtime, reason, Some(host), false)
    }

    /// A race that `runtime` loses in some runs only: a pass is reported, not failed.
    pub fn deviates_sometimes(self, runtime: &'static str, reason: &'static str) -> Test {
        self.deviation_of(runtime, reason, None, true)
    }

    fn deviation_of(
        mut self,
        runtime: &'static str,
        reason: &'static str,
        only_where: Option<fn() -> bool>,
        intermittent: bool,
    ) -> Test {
        self.deviation = Some(Deviation {
            runtime,
            reason,
            only_where,
            intermittent,
        });
        self
    }
}

/// Adds context to any error so `?` yields a readable failure reason.
pub trait Context<T> {
    fn ctx(self, what: impl Display) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: impl Display) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

impl<T> Context<T> for Option<T> {
    fn ctx(self, what: impl Display) -> Result<T, String> {
        self.ok_or_else(|| format!("{what}: missing"))
    }
}

/// `ensure!(cond, "fmt", args..)`: fail the test with the message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::harness::Fail::Failed(format!($($msg)+)));
        }
    };
}

/// `ensure_eq!(left, right, "what")`: fail with both values unless they are equal.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        // `match` keeps temporaries in `left` alive for the comparison (as in assert_eq!).
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    let what = format!($($msg)+);
                    return Err($crate::harness::Fail::Failed(format!("{what}: got {l:?}, want {r:?}")));
                }
            }
        }
    };
}

/// `skip!("fmt", args..)`: end the test as skipped with a stated reason.
#[macro_export]
macro_rules! skip {
    ($($msg:tt)+) => {
        return Err($crate::harness::Fail::Skipped(format!($($msg)+)))
    };
}

/// `tests!("group"; f1, f2)`: one [`Test`] per function, named `group::f1`, ...
#[macro_export]
macro_rules! tests {
    ($group:literal; $($f:ident),* $(,)?) => {
        vec![$($crate::harness::Test::new(concat!($group, "::", stringify!($f)), $f)),*]
    };
}

/// All tests, in the order of the spec sections they cover.
pub fn all_tests() -> Vec<Test> {
    use crate::tests::*;
    [
        lifecycle::tests(),
        state::tests(),
        cli::tests(),
        cli_exec::tests(),
        cli_listen_fds::tests(),
        cli_checkpoint::tests(),
        cli_pause::tests(),
        notify_socket::tests(),
        config_root::tests(),
        config_mounts::tests(),
        config_mounts_cgroup::tests(),
        config_mounts_idmap::tests(),
        config_process::tests(),
        config_process_sched::tests(),
        config_misc::tests(),
        config_hostname::tests(),
        config_hooks::tests(),
        config_terminal::tests(),
        terminal_relay::tests(),
        linux_namespaces::tests(),
        linux_cgroups::tests(),
        linux_cgroups_foreign::tests(),
        linux_resources::tests(),
        linux_resources_controllers::tests(),
        linux_resources_update::tests(),
        linux_resources_bad::tests(),
        linux_devices::tests(),
        linux_paths::tests(),
        linux_seccomp::tests(),
        linux_seccomp_default::tests(),
        linux_sysctl::tests(),
        bad_input::tests(),
        security::tests(),
        lsm::tests(),
        security_rootfs::tests(),
        security_proc::tests(),
        security_race::tests(),
        rootless::tests(),
        faults::tests(),
        faults_stages::tests(),
        strata_layers::tests(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
