//! The only place in strata with `unsafe`: thin, safe wrappers over the
//! syscalls that nix/std do not cover (clone3, the new mount API, openat2,
//! pidfds, capabilities, close_range, ...). Each wrapper returns `io::Result`
//! and leaves context (which path, which field) to its caller.

pub mod bpf;
pub mod caps;
pub mod clone;
pub mod fd;
pub mod mount;
pub mod pidfd;
pub mod sched;
pub mod seccomp;
pub mod tty;
pub mod xattr;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Turns a libc return value into `io::Result`, capturing errno.
pub(crate) fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

pub(crate) fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// prctl with integer arguments.
pub fn prctl(option: libc::c_int, a2: libc::c_ulong, a3: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: integer-only prctl options; no pointers are passed.
    let r = unsafe { libc::prctl(option, a2, a3, 0, 0) };
    check(r as libc::c_long).map(|v| v as i32)
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a live byte slice.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } as libc::c_long)?;
    Ok(())
}

pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a live byte slice.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as libc::c_long)?;
    Ok(())
}

pub fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe a live slice of gid_t.
    check(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } as libc::c_long)?;
    Ok(())
}

pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: plain integer syscall. Raw syscall (not glibc's setxid broadcast)
    // is fine: strata never has a second thread.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: plain integer syscall, see setresuid.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    Ok(())
}

pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` lives across the call; pid 0 means this process.
    check(unsafe { libc::prlimit(0, resource as _, &lim, std::ptr::null_mut()) } as libc::c_long)?;
    Ok(())
}

pub fn umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// Replaces the signal mask; returns the previous one.
pub fn sigmask(how: libc::c_int, set: &libc::sigset_t) -> io::Result<libc::sigset_t> {
    // SAFETY: both pointers are valid for the duration of the call.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        check(libc::pthread_sigmask(how, set, &mut old) as libc::c_long)?;
        Ok(old)
    }
}

pub fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write into the local set.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        for &sig in signals {
            libc::sigaddset(&mut s, sig);
        }
        s
    }
}

/// The same set as nix's type (for its signalfd).
pub fn nix_sigset(set: &libc::sigset_t) -> nix::sys::signal::SigSet {
    // SAFETY: every sigset_t strata has comes from `sigset` (initialised
    // by sigemptyset), so it is a valid set.
    unsafe { nix::sys::signal::SigSet::from_sigset_t_unchecked(*set) }
}

/// Waits for one of the blocked signals in `set`; returns its number and sender pid.
pub fn sigwaitinfo(set: &libc::sigset_t) -> io::Result<(i32, i32)> {
    // SAFETY: `info` is written by the kernel; the set is valid.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::sigwaitinfo(set, &mut info);
        check(r as libc::c_long)?;
        Ok((r, info.si_pid()))
    }
}

/// What std's runtime start-up did that strata relies on, for the
/// `#![no_main]` entry point in main.rs (which skips the rest of it: the
/// stack-overflow handler's /proc/self/maps read, sigaltstack and two
/// sigactions, ~17 syscalls per command; docs/benchmarks.md):
/// - fds 0-2 are open: a closed one becomes /dev/null, so no file strata
///   opens can land on a stdio fd and receive its output (std's rule);
/// - SIGPIPE is ignored: a write to a closed pipe is an EPIPE error, not
///   death. The container gets SIG_DFL back (reset_signal_handlers), and so
///   do hooks (std::process::Command resets it).
pub fn process_start() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the local array of 3 entries.
    while unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } == -1 {
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // poll itself cannot run (RLIMIT_NOFILE 0, no memory): ask
            // fcntl about each fd instead, as std does.
            Some(libc::EINVAL | libc::EAGAIN | libc::ENOMEM) => {
                for f in &mut fds {
                    // SAFETY: F_GETFD takes no pointer.
                    if unsafe { libc::fcntl(f.fd, libc::F_GETFD) } == -1
                        && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                    {
                        f.revents = libc::POLLNVAL;
                    }
                }
                break;
            }
            // SAFETY: abort has no preconditions.
            _ => unsafe { libc::abort() },
        }
    }
    for f in fds {
        if f.revents & libc::POLLNVAL == 0 {
            continue;
        }
        // open returns the lowest free fd: the closed ones, in order.
        // SAFETY: constant NUL-terminated path.
        if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) } == -1 {
            // Without it a later open could become a stdio fd.
            // SAFETY: abort has no preconditions.
            unsafe { libc::abort() };
        }
    }
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// What strata needs from /proc/self/status, read once by the runtime
/// before the clone: the init is a fork and inherits both values as they
/// are (reading the file again cost a few syscalls per container).
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfStatus {
    /// The capability bounding set (CapBnd).
    pub cap_bnd: Option<u64>,
    /// The signals this process ignores (SigIgn).
    pub sig_ign: Option<u64>,
}

/// Reads /proc/self/status; fields it cannot read are None.
pub fn self_status() -> SelfStatus {
    let status = fd::read_small("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    SelfStatus {
        cap_bnd: field("CapBnd:"),
        sig_ign: field("SigIgn:"),
    }
}

/// Sets signal dispositions back to default (the container must not
/// inherit ours). execve already resets caught signals and keeps ignored
/// ones, so with `ignored` (SelfStatus::sig_ign) only those are reset:
/// ~60 rt_sigaction calls fewer per container (873 -> 826 syscalls per run,
/// docs/benchmarks.md). None: all of them.
pub fn reset_signal_handlers(ignored: Option<u64>) {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        if ignored.is_some_and(|m| m & (1u64 << (sig - 1)) == 0) {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; errors (invalid
        // signal numbers in the glibc-reserved range) are irrelevant.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// execveat(fd, "", AT_EMPTY_PATH): runs exactly the file `fd` refers to,
/// with a C argv/envp built from strings. Only returns on error.
pub fn execveat<S: AsRef<std::ffi::OsStr>>(
    fd: std::os::fd::BorrowedFd,
    args: &[S],
    env: &[S],
) -> io::Error {
    use std::os::fd::AsRawFd;
    let to_c = |v: &[S]| -> io::Result<Vec<CString>> {
        v.iter()
            .map(|s| {
                CString::new(s.as_ref().as_bytes())
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
            })
            .collect()
    };
    let (a, e) = match (to_c(args), to_c(env)) {
        (Ok(a), Ok(e)) => (a, e),
        _ => return io::Error::from_raw_os_error(libc::EINVAL),
    };
    let mut av: Vec<*const libc::c_char> = a.iter().map(|s| s.as_ptr()).collect();
    av.push(std::ptr::null());
    let mut ev: Vec<*const libc::c_char> = e.iter().map(|s| s.as_ptr()).collect();
    ev.push(std::ptr::null());
    // SAFETY: all pointers are NUL-terminated strings kept alive by a/e;
    // the fd is open.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            av.as_ptr(),
            ev.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns; skips atexit handlers inherited from the
    // parent, which must not run twice.
    unsafe { libc::_exit(code) }
}

/// Sleeps until a signal kills the process (helper processes whose only
/// job is to hold a namespace open).
pub fn pause_forever() -> ! {
    loop {
        // SAFETY: pause has no arguments and only returns on a signal.
        unsafe { libc::pause() };
    }
}

/// Gives back the memory a process waiting for a long time does not need:
/// free heap (malloc_trim) and its copy of strata's code pages. The code is a
/// clean private file mapping, so dropped pages come back from the page
/// cache on the next touch. A created container then costs ~0.5 MiB PSS
/// instead of ~2 MiB (docs/benchmarks.md: 2588 -> 440-632 KiB). Best
/// effort: failures change nothing.
pub fn shed_memory() {
    extern "C" {
        // Linker-defined (GNU ld and lld): the first byte of the image and
        // the end of .text. Everything between is read-only and never
        // relocated (no text relocations in a static-pie), hence clean.
        static __executable_start: u8;
        static etext: u8;
    }
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    // Only the addresses of the linker symbols are taken (safe).
    let (start, end) = (
        std::ptr::addr_of!(__executable_start) as usize,
        std::ptr::addr_of!(etext) as usize,
    );
    let page = 4096;
    let (lo, hi) = (start & !(page - 1), (end + page - 1) & !(page - 1));
    if hi > lo {
        // SAFETY: [lo, hi) lies in our own read-only, file-backed image;
        // MADV_DONTNEED on such a private mapping only drops clean pages.
        unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
    }
    // The stack below us (setup went deep; waiting does not): up to 1 MiB
    // from 16 KiB under this frame. The kernel keeps >= 128 MiB below the
    // stack top for the stack, so the range holds stack or nothing.
    let here = std::hint::black_box(0u8);
    let below = (std::ptr::addr_of!(here) as usize).saturating_sub(16 << 10) & !(page - 1);
    let len = (1usize << 20).min(below);
    // SAFETY: pages below the stack pointer (past the red zone) hold no
    // live data; dropped ones read back as zeros when the stack grows again.
    unsafe { libc::madvise((below - len) as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

pub fn pivot_root_dot() -> io::Result<()> {
    let dot = c".";
    // SAFETY: both arguments are the static string ".".
    check(unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) })?;
    Ok(())
}

pub fn chroot_dot() -> io::Result<()> {
    // SAFETY: static string argument.
    check(unsafe { libc::chroot(c".".as_ptr()) } as libc::c_long)?;
    Ok(())
}

pub fn statfs_type(fd: std::os::fd::BorrowedFd) -> io::Result<i64> {
    use std::os::fd::AsRawFd;
    // SAFETY: `st` is written by the kernel.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        check(libc::fstatfs(fd.as_raw_fd(), &mut st) as libc::c_long)?;
        Ok(st.f_type as i64)
    }
}

/// fd 0, 1 or 2, borrowed for the process's whole life.
pub fn std_fd(n: i32) -> std::os::fd::BorrowedFd<'static> {
    debug_assert!((0..3).contains(&n), "std_fd({n})");
    // SAFETY: process_start makes sure fds 0-2 are open, and strata never
    // closes them.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(n) }
}
