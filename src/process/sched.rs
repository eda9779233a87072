//! `process.scheduler` (sched_setattr) and `process.ioPriority` (ioprio_set).

use crate::error::{Ctx as _, Error, Result};
use crate::sys::sched::SchedAttr;
use oci_spec::runtime::{
    IOPriorityClass, LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P, Process, Scheduler,
};

fn policy(p: P) -> (u32, &'static str) {
    match p {
        P::SchedOther => (0, "SCHED_OTHER"),
        P::SchedFifo => (1, "SCHED_FIFO"),
        P::SchedRr => (2, "SCHED_RR"),
        P::SchedBatch => (3, "SCHED_BATCH"),
        P::SchedIso => (4, "SCHED_ISO"),
        P::SchedIdle => (5, "SCHED_IDLE"),
        P::SchedDeadline => (6, "SCHED_DEADLINE"),
    }
}

fn flag(f: F) -> u64 {
    match f {
        F::SchedResetOnFork => 0x01,
        F::SchedFlagReclaim => 0x02,
        F::SchedFlagDLOverrun => 0x04,
        F::SchedFlagKeepPolicy => 0x08,
        F::SchedFlagKeepParams => 0x10,
        F::SchedFlagUtilClampMin => 0x20,
        F::SchedFlagUtilClampMax => 0x40,
    }
}

fn class(c: IOPriorityClass) -> (i32, &'static str) {
    match c {
        IOPriorityClass::IoprioClassRt => (1, "IOPRIO_CLASS_RT"),
        IOPriorityClass::IoprioClassBe => (2, "IOPRIO_CLASS_BE"),
        IOPriorityClass::IoprioClassIdle => (3, "IOPRIO_CLASS_IDLE"),
    }
}

fn bad(field: &str, msg: String) -> Error {
    Error::invalid(format!("process.scheduler.{field} {msg}"))
}

/// The ranges sched(7) gives, checked before anything is made.
pub fn validate(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return Err(Error::invalid(format!(
                "process.ioPriority.priority {}: must be within 0..7",
                io.priority()
            )));
        }
    }
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    let (_, name) = policy(*s.policy());
    if let Some(n) = s.nice() {
        if !(-20..=19).contains(n) {
            return Err(bad("nice", format!("{n}: must be within -20..19")));
        }
    }
    let prio = s.priority().unwrap_or(0);
    match s.policy() {
        P::SchedFifo | P::SchedRr if !(1..=99).contains(&prio) => {
            return Err(bad(
                "priority",
                format!("{prio}: {name} needs a priority within 1..99"),
            ));
        }
        P::SchedFifo | P::SchedRr => {}
        _ if prio != 0 => {
            return Err(bad(
                "priority",
                format!("{prio}: {name} takes none (only SCHED_FIFO and SCHED_RR do, 1..99)"),
            ));
        }
        _ => {}
    }
    let dl = [
        ("runtime", s.runtime().unwrap_or(0)),
        ("deadline", s.deadline().unwrap_or(0)),
        ("period", s.period().unwrap_or(0)),
    ];
    if *s.policy() != P::SchedDeadline {
        // 0 is what an unset field means (config.md), so it is allowed.
        if let Some((field, v)) = dl.iter().find(|(_, v)| *v != 0) {
            return Err(bad(
                field,
                format!("{v}: only SCHED_DEADLINE uses it, not {name}"),
            ));
        }
        return Ok(());
    }
    let [(_, runtime), (_, deadline), (_, period)] = dl;
    // sched(7): 1024 <= runtime <= deadline <= period (period 0 = deadline).
    if runtime < 1024 {
        return Err(bad(
            "runtime",
            format!("{runtime}: SCHED_DEADLINE needs at least 1024 ns"),
        ));
    }
    if deadline < runtime {
        return Err(bad(
            "deadline",
            format!("{deadline}: must not be below runtime {runtime}"),
        ));
    }
    if period != 0 && period < deadline {
        return Err(bad(
            "period",
            format!("{period}: must not be below deadline {deadline}"),
        ));
    }
    Ok(())
}

fn attr(s: &Scheduler) -> SchedAttr {
    SchedAttr {
        policy: policy(*s.policy()).0,
        flags: s.flags().iter().flatten().fold(0, |b, f| b | flag(*f)),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        // The spec gives no clamp values: the flags then set the defaults
        // (no boost, no cap), never a clamp of 0.
        util_min: 0,
        util_max: 1024,
        ..Default::default()
    }
}

/// Applies both to the calling process; fork and execve keep them
/// (unless SCHED_FLAG_RESET_ON_FORK).
pub fn apply(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        let (c, name) = class(io.class());
        let prio = io.priority() as i32;
        crate::sys::sched::ioprio_set(c << 13 | prio)
            .ctx(|| format!("process.ioPriority: ioprio_set {name} {prio}"))?;
    }
    if let Some(s) = p.scheduler() {
        let a = attr(s);
        let (_, name) = policy(*s.policy());
        crate::sys::sched::sched_setattr(&a).map_err(|e| {
            let hint = match (*s.policy(), e.raw_os_error()) {
                (P::SchedFifo | P::SchedRr, Some(libc::EPERM)) => {
                    " (real-time policies need CAP_SYS_NICE and, with real-time group \
                     scheduling, a cpu cgroup with a cpu.rt_runtime_us budget)"
                }
                _ => "",
            };
            Error::Child {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                msg: format!(
                    "process.scheduler: sched_setattr {name} priority {}: {}{hint}",
                    a.priority,
                    crate::error::errstr(&e)
                ),
            }
        })?;
    }
    Ok(())
}
