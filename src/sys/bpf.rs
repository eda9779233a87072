//! bpf(2): load a program, attach it to a cgroup, and find and detach the
//! programs already there (to replace a device filter on `update`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
pub const F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    // The kernel accepts a shorter attr than its own and zero-fills the rest.
    pad: [u64; 8],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Loads `insns` (8-byte eBPF instructions) as `prog_type`; on failure the
/// verifier's log is in the error.
pub fn load(prog_type: u32, insns: &[u64]) -> io::Result<OwnedFd> {
    // Without a log first: the verifier's log of a good program can
    // overflow any buffer (ENOSPC). Only a failure is retried with one.
    load_with_log(prog_type, insns, 0).or_else(|_| load_with_log(prog_type, insns, 1))
}

fn load_with_log(prog_type: u32, insns: &[u64], log_level: u32) -> io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; if log_level > 0 { 65536 } else { 0 }];
    let attr = ProgLoad {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        ..Default::default()
    };
    // SAFETY: attr points at live buffers (insns, license, log) for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&log[..end])
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        return Err(io::Error::new(e.kind(), format!("{e} {text}")));
    }
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

pub fn attach(
    cgroup: BorrowedFd,
    prog: BorrowedFd,
    attach_type: u32,
    flags: u32,
) -> io::Result<()> {
    let attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: attr lives across the call.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttach,
            std::mem::size_of::<ProgAttach>(),
        )
    })?;
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: [u32; 9],
}

/// Ids of the programs attached to `cgroup` for `attach_type`.
pub fn query(cgroup: BorrowedFd, attach_type: u32) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    // SAFETY: attr and the ids buffer (prog_cnt entries) live across the call.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_QUERY,
            &mut attr as *mut ProgQuery,
            std::mem::size_of::<ProgQuery>(),
        )
    })?;
    ids.truncate((attr.prog_cnt as usize).min(64));
    Ok(ids)
}

/// An fd for the loaded program `id`.
pub fn prog_fd(id: u32) -> io::Result<OwnedFd> {
    let attr: [u32; 4] = [id, 0, 0, 0];
    // SAFETY: attr lives across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_GET_FD_BY_ID,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

pub fn detach(cgroup: BorrowedFd, prog: BorrowedFd, attach_type: u32) -> io::Result<()> {
    let attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        ..Default::default()
    };
    // SAFETY: attr lives across the call.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_DETACH,
            &attr as *const ProgAttach,
            std::mem::size_of::<ProgAttach>(),
        )
    })?;
    Ok(())
}
