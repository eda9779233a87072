//! linux.seccomp to a libseccomp filter: every field checked, errors name
//! the field.

use super::{Filter, Prog};
use crate::error::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};
use std::str::FromStr;

fn err(what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("linux.seccomp: {what}"))
}

/// errnoRet only goes with actions that return one (config-linux.md: the
/// runtime MUST fail otherwise).
fn check_errno(a: A, errno: Option<u32>, field: &str) -> Result<()> {
    if errno.is_some() && !matches!(a, A::ScmpActErrno | A::ScmpActTrace) {
        return Err(err(format!(
            "{field}: {a:?} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"
        )));
    }
    Ok(())
}

fn action(a: A, errno: Option<u32>) -> ScmpAction {
    let ret = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(ret),
        A::ScmpActNotify => ScmpAction::Notify,
        A::ScmpActTrace => ScmpAction::Trace(ret as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
    }
}

fn op(o: Op, value: u64, value_two: Option<u64>, index: u32) -> ScmpArgCompare {
    let (cmp, datum) = match o {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, value),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // The spec's MASKED_EQ: `value` is the mask, `valueTwo` the datum.
        Op::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    };
    ScmpArgCompare::new(index, cmp, datum)
}

/// Builds the filter. Syscall names libseccomp does not know are skipped
/// (Docker's profile names syscalls newer than Debian's libseccomp; runc
/// skips them too); names that are not syscall-shaped are an error.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    check_errno(s.default_action(), s.default_errno_ret(), "defaultErrnoRet")?;
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx =
        ScmpFilterContext::new(default).map_err(|e| err(format!("defaultAction: {e}")))?;
    // no_new_privs is set (or not) by process.noNewPrivileges, not here.
    ctx.set_ctl_nnp(false).map_err(err)?;
    // A binary tree of syscall numbers instead of one long if-chain. On
    // load the kernel runs the program for every syscall number of every
    // arch to fill its action cache (seccomp_cache_prepare): with Docker's
    // profile that emulation took ~750 us of chain walking per container,
    // ~280 us with the tree (docs/benchmarks.md, seccomp). Same decisions;
    // a libseccomp without the attribute keeps its default layout.
    if let Err(e) = ctx.set_ctl_optimize(2) {
        tracing::debug!("seccomp: binary tree layout unavailable: {e}");
    }
    for arch in s.architectures().as_deref().unwrap_or_default() {
        let name = serde_json::to_value(arch)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let a = ScmpArch::from_str(&name)
            .map_err(|_| err(format!("architectures: unknown {name:?}")))?;
        ctx.add_arch(a)
            .map_err(|e| err(format!("architectures: {name}: {e}")))?;
    }
    for f in s.flags().as_deref().unwrap_or_default() {
        match f {
            F::SeccompFilterFlagLog => ctx.set_ctl_log(true).map(drop),
            F::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true).map(drop),
            F::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true).map(drop),
            F::SeccompFilterFlagWaitKillableRecv => ctx.set_ctl_waitkill(true).map(drop),
        }
        .map_err(|e| {
            err(format!(
                "flags: {f:?} is not supported by this libseccomp or kernel: {e}"
            ))
        })?;
    }
    let mut notify = default == ScmpAction::Notify;
    for rule in s.syscalls().as_deref().unwrap_or_default() {
        check_errno(rule.action(), rule.errno_ret(), "syscalls: errnoRet")?;
        let act = action(rule.action(), rule.errno_ret());
        notify |= act == ScmpAction::Notify;
        if act == default {
            continue; // libseccomp refuses rules equal to the default
        }
        let args = rule.args().as_deref().unwrap_or_default();
        for a in args {
            if a.index() > 5 {
                return Err(err(format!("syscall args: index {} is above 5", a.index())));
            }
        }
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| op(a.op(), a.value(), a.value_two(), a.index() as u32))
            .collect();
        // Several conditions on one argument cannot be ANDed by libseccomp:
        // they become one rule each, as runc does.
        let mut idx: Vec<usize> = args.iter().map(|a| a.index()).collect();
        idx.sort_unstable();
        let repeated = idx.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(err(format!("syscalls: invalid syscall name {name:?}")));
            }
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                tracing::debug!("seccomp: syscall {name} unknown to libseccomp, skipped");
                continue;
            };
            let groups: Vec<Vec<ScmpArgCompare>> = if repeated {
                conds.iter().map(|c| vec![*c]).collect()
            } else {
                vec![conds.clone()]
            };
            for g in groups {
                ctx.add_rule_conditional(act, sys, &g)
                    .map_err(|e| err(format!("syscalls: {name}: {e}")))?;
            }
        }
    }
    Ok(Filter {
        prog: Prog::Libseccomp(ctx),
        notify,
    })
}

/// Whether the filter hands out a notify fd (SCMP_ACT_NOTIFY anywhere).
pub fn wants_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == A::ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|r| r.action() == A::ScmpActNotify)
}

/// The SECCOMP_FILTER_FLAG_* libseccomp would pass for linux.seccomp.flags
/// (without a notify fd; WAIT_KILLABLE_RECV only goes with one).
pub fn kernel_flags(s: &LinuxSeccomp) -> u32 {
    s.flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|f| match f {
            F::SeccompFilterFlagTsync => 1,
            F::SeccompFilterFlagLog => 2,
            F::SeccompFilterFlagSpecAllow => 4,
            F::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |a, b| a | b)
}
