//! Scheduling and placement of the calling process: sched_setattr,
//! ioprio_set, personality, sched_setaffinity, set_mempolicy.

use super::check;
use std::io;

/// struct sched_attr, SCHED_ATTR_SIZE_VER1 (the utilization clamps are
/// needed whenever SCHED_FLAG_UTIL_CLAMP_* is passed).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// Sets the calling thread's policy and attributes.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `a` is a live, correctly sized sched_attr; pid 0 is this thread.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) })?;
    Ok(())
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, prio) for the calling process.
pub fn ioprio_set(prio: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: integer-only syscall.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) })?;
    Ok(())
}

/// personality(2); returns the previous persona.
pub fn personality(persona: u32) -> io::Result<u32> {
    // SAFETY: integer-only syscall.
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    check(r as libc::c_long).map(|v| v as u32)
}

/// Pins the calling thread to the CPUs set in `mask` (bit n = CPU n).
pub fn sched_setaffinity(mask: &[u64]) -> io::Result<()> {
    // SAFETY: pointer and byte length describe the live slice.
    check(unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of_val(mask),
            mask.as_ptr(),
        )
    })?;
    Ok(())
}

/// set_mempolicy(mode | flags, nodemask) for the calling thread; an empty
/// mask passes NULL.
pub fn set_mempolicy(mode: i32, mask: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (a historical off-by-one).
        (mask.as_ptr(), mask.len() * 64 + 1)
    };
    // SAFETY: `ptr` is NULL or the live slice of `maxnode - 1` bits.
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })?;
    Ok(())
}
