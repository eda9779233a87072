//! clone3 (with CLONE_INTO_CGROUP) and its fallback to clone(2).

use std::io;
use std::os::fd::RawFd;

pub enum Forked {
    Parent(i32),
    Child,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks with `flags` (CLONE_NEW* and friends). With `cgroup`, the child is
/// born inside that cgroup2 directory, which avoids a later write to
/// cgroup.procs and the RCU wait it costs. Falls back to clone(2) without
/// the cgroup when clone3 is missing or refuses CLONE_INTO_CGROUP; the
/// returned bool says whether the cgroup placement happened.
///
/// Only call this while the process has a single thread: the child is a
/// copy of the caller without the other threads.
pub fn clone(flags: u64, cgroup: Option<RawFd>) -> io::Result<(Forked, bool)> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: without CLONE_VM the child gets a copy of the address space, so
    // this behaves like fork(): both sides return here with their own stack.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r >= 0 {
        return Ok((
            if r == 0 {
                Forked::Child
            } else {
                Forked::Parent(r as i32)
            },
            cgroup.is_some(),
        ));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // Old kernel or seccomp-filtered clone3, or a cgroup the kernel will
        // not clone into (v1-only host, domain-invalid cgroup, or rootless
        // with a common ancestor not ours): use clone(2).
        Some(libc::ENOSYS)
        | Some(libc::EPERM)
        | Some(libc::EACCES)
        | Some(libc::EOPNOTSUPP)
        | Some(libc::EINVAL)
        | Some(libc::EBUSY) => {}
        _ => return Err(err),
    }
    // SAFETY: as above; a NULL stack means "fork-like" for clone(2).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        if r == 0 {
            Forked::Child
        } else {
            Forked::Parent(r as i32)
        },
        false,
    ))
}

pub fn setns(fd: RawFd, nstype: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    super::check(unsafe { libc::setns(fd, nstype) } as libc::c_long)?;
    Ok(())
}

pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: integer argument only.
    super::check(unsafe { libc::unshare(flags) } as libc::c_long)?;
    Ok(())
}

/// waitpid returning the raw status; retries EINTR.
pub fn waitpid(pid: i32, flags: i32) -> io::Result<(i32, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return Ok((r, status));
    }
}

/// Kills (SIGKILL) and reaps `pid`, for a child that must not outlive a
/// failed setup. Best effort: a child already gone, or not ours to reap
/// (ECHILD), leaves nothing to undo, and a caller unwinding from another
/// error has no better error to give.
pub fn kill_and_reap(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = waitpid(pid, 0);
}

/// Kills and reaps the children it holds when dropped (`kill_and_reap`,
/// in order); empty it once setup has succeeded.
pub struct Reaper(pub Vec<i32>);

impl Reaper {
    pub fn one(pid: i32) -> Self {
        Reaper(vec![pid])
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            kill_and_reap(pid);
        }
    }
}

/// Shell-style exit code of a wait status: the code, or 128 + signal.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// The CLONE_NEW* type of a namespace fd (ioctl NS_GET_NSTYPE).
pub fn ns_type(fd: RawFd) -> io::Result<i32> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: this ioctl takes no argument and returns an int.
    let r = unsafe { libc::ioctl(fd, NS_GET_NSTYPE) };
    super::check(r as libc::c_long).map(|v| v as i32)
}
