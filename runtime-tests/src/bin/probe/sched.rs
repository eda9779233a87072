//! `probe sched`: the scheduling and placement attributes of this process as the kernel
//! reports them (sched_getattr, ioprio_get, personality, uname, Cpus_allowed_list,
//! get_mempolicy), as one JSON object.
use serde_json::{json, Value};

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn sched() -> Result<Value, String> {
    let mut a = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `a` is a live sched_attr of `size` bytes; pid 0 is this thread.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut a as *mut SchedAttr,
            size,
            0,
        )
    };
    if r < 0 {
        return Err(format!("sched_getattr: errno {}", errno()));
    }
    // SAFETY: integer-only syscall (IOPRIO_WHO_PROCESS = 1, this process).
    let ioprio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    // SAFETY: 0xffffffff only queries the persona.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    let uts = nix::sys::utsname::uname().map_err(|e| format!("uname: {e}"))?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    let mut mode: libc::c_int = 0;
    let mut nodes = [0u64; 16];
    // SAFETY: mode and the 1024-bit mask are live; maxnode matches the mask's bits.
    let mp = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            nodes.as_mut_ptr(),
            1024,
            0,
            0,
        )
    };
    Ok(json!({
        "policy": a.policy, "flags": a.flags, "nice": a.nice, "priority": a.priority,
        "runtime": a.runtime, "deadline": a.deadline, "period": a.period,
        "ioprio_class": if ioprio < 0 { -1 } else { ioprio >> 13 },
        "ioprio_level": if ioprio < 0 { -1 } else { ioprio & 0x1fff },
        "personality": persona,
        "machine": uts.machine().to_string_lossy(),
        "cpus_allowed": cpus,
        "mempolicy_mode": if mp < 0 { -1 } else { mode },
        "mempolicy_nodes": nodes[0],
    }))
}
