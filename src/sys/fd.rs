//! fd-relative file operations: openat2 inside a root, *at() creation,
//! close_range, and fd passing over unix sockets.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Stay on the mount `dir` is on (no crossing into an over-mount).
pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_BENEATH: u64 = 0x08;

/// openat2(2): resolve `path` relative to `dir` under `resolve` rules.
pub fn openat2(
    dir: BorrowedFd,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = super::cstr(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: valid C string and open_how for the duration of the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: a concurrent rename raced RESOLVE_IN_ROOT's checks; retry.
            if e.raw_os_error() == Some(libc::EAGAIN) {
                continue;
            }
            return Err(e);
        }
        // SAFETY: fresh fd from the kernel.
        return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
    }
}

/// openat(2) with O_CLOEXEC always added.
pub fn openat(dir: Option<BorrowedFd>, path: &Path, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = super::cstr(path)?;
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string.
    let r = unsafe { libc::openat(d, c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    super::check(r as libc::c_long)?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

pub fn mkdirat(dir: BorrowedFd, name: &Path, mode: u32) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: valid C string.
    super::check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) } as libc::c_long)?;
    Ok(())
}

pub fn mknodat(dir: BorrowedFd, name: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
    let c = super::cstr(name)?;
    let dev = libc::makedev(major as u32, minor as u32);
    // SAFETY: valid C string.
    super::check(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) } as libc::c_long)?;
    Ok(())
}

pub fn symlinkat(target: &str, dir: BorrowedFd, name: &Path) -> io::Result<()> {
    let t = super::cstring(target)?;
    let c = super::cstr(name)?;
    // SAFETY: valid C strings.
    let r = unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) };
    super::check(r as libc::c_long)?;
    Ok(())
}

pub fn fchownat(dir: BorrowedFd, name: &Path, uid: u32, gid: u32, flags: i32) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: valid C string.
    let r = unsafe { libc::fchownat(dir.as_raw_fd(), c.as_ptr(), uid, gid, flags) };
    super::check(r as libc::c_long)?;
    Ok(())
}

pub fn fchdir(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: integer argument.
    super::check(unsafe { libc::fchdir(fd.as_raw_fd()) } as libc::c_long)?;
    Ok(())
}

pub fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    // SAFETY: `st` is written by the kernel.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        super::check(libc::fstat(fd.as_raw_fd(), &mut st) as libc::c_long)?;
        Ok(st)
    }
}

/// Sets or clears FD_CLOEXEC on `fd` (an fd handed to a child by number).
pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments; an invalid fd is EBADF.
    super::check(unsafe { libc::fcntl(fd, libc::F_SETFD, flag) } as libc::c_long)?;
    Ok(())
}

/// Marks every fd >= `first` close-on-exec, so nothing the runtime (or its
/// caller) leaked reaches the container (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: integer arguments.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Pre-5.11 kernels: walk the fd table by hand.
    for entry in std::fs::read_dir("/proc/self/fd")?.flatten() {
        if let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        {
            if fd >= first as i32 {
                // SAFETY: setting a flag on an fd number; a stale number just fails.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
        }
    }
    Ok(())
}

/// Closes every fd >= `first` that is not close-on-exec: the ones the
/// runtime's caller passed on (every fd strata opens is O_CLOEXEC, and a
/// caller's O_CLOEXEC fd never survived its exec of strata). A created
/// init holding a caller's pipe would keep the caller waiting for EOF.
pub fn close_inherited_from(first: u32) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .filter(|&fd| fd >= first as RawFd)
            .collect(),
        // No /proc: every number up to the fd limit.
        Err(_) => {
            let max = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map(|(soft, _)| soft.min(1 << 20) as RawFd)
                .unwrap_or(1024);
            (first as RawFd..max).collect()
        }
    };
    for fd in fds {
        // SAFETY: reading the flags of an fd number; a closed one fails.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: an fd without close-on-exec is one this process never
            // opened itself (see above), so no OwnedFd here refers to it.
            unsafe { libc::close(fd) };
        }
    }
}

pub fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments.
    super::check(unsafe { libc::dup2(old, new) } as libc::c_long)?;
    Ok(())
}

/// A SOCK_SEQPACKET pair: message boundaries for free, both ends CLOEXEC.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    super::check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } as libc::c_long)?;
    // SAFETY: fresh fds from the kernel.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `data` and optionally one fd (SCM_RIGHTS).
pub fn send_with_fd(sock: BorrowedFd, data: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr points at live buffers; CMSG macros stay inside cbuf,
    // which is large enough for one int.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(fd) = fd {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(4) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut i32, fd);
        }
        super::check(libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) as libc::c_long)?;
    }
    Ok(())
}

/// Receives one message into `buf` (up to its capacity; its length becomes
/// the message's) and an fd if one came with it. The buffer is not zeroed
/// first: zeroing a 64 KiB buffer touched 16 fresh pages in each process
/// for messages of a few bytes (277 -> 249 page faults per run:
/// docs/benchmarks.md, CPU time).
pub fn recv_with_fd(sock: BorrowedFd, buf: &mut Vec<u8>) -> io::Result<Option<OwnedFd>> {
    buf.clear();
    let spare = buf.spare_capacity_mut();
    let mut iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: spare.len(),
    };
    let mut cbuf = [0u64; 4];
    loop {
        // SAFETY: as in send_with_fd; the received fd is adopted once.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            let mut fd = None;
            let c = libc::CMSG_FIRSTHDR(&msg);
            if !c.is_null()
                && (*c).cmsg_level == libc::SOL_SOCKET
                && (*c).cmsg_type == libc::SCM_RIGHTS
            {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32);
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            // The kernel wrote the first n bytes of the spare capacity.
            buf.set_len(n as usize);
            return Ok(fd);
        }
    }
}

/// Binds a listening unix socket at `name` relative to the directory `dir`
/// (through /proc/self/fd so long state paths never hit sun_path's limit).
pub fn listen_unix(dir: BorrowedFd, name: &str) -> io::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), name);
    let l = std::os::unix::net::UnixListener::bind(&path)?;
    Ok(OwnedFd::from(l))
}

pub fn connect_unix(dir: BorrowedFd, name: &str) -> io::Result<std::os::unix::net::UnixStream> {
    let path = format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), name);
    std::os::unix::net::UnixStream::connect(path)
}

/// accept(2) retrying EINTR; the new fd is CLOEXEC.
pub fn accept(listener: BorrowedFd) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: NULL address arguments are allowed.
        let r = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        // SAFETY: fresh fd from the kernel.
        return Ok(unsafe { OwnedFd::from_raw_fd(r) });
    }
}

pub fn write_all_fd(fd: BorrowedFd, data: &[u8]) -> io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: pointer/length inside `data`.
        let r = unsafe {
            libc::write(
                fd.as_raw_fd(),
                data[off..].as_ptr().cast(),
                data.len() - off,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        off += r as usize;
    }
    Ok(())
}

/// flock(LOCK_EX), waiting; retries EINTR.
pub fn flock_exclusive(fd: BorrowedFd) -> io::Result<()> {
    loop {
        // SAFETY: integer arguments.
        let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// flock(LOCK_UN): releases the lock, keeps the fd.
pub fn flock_unlock(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: integer arguments.
    super::check(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) } as libc::c_long)?;
    Ok(())
}

pub fn unlinkat(dir: BorrowedFd, name: &Path) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: valid C string.
    super::check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } as libc::c_long)?;
    Ok(())
}

/// Closes an fd number this process owns but holds no `OwnedFd` for (a
/// child's copy of the parent's fds after clone).
pub fn close(fd: RawFd) {
    // SAFETY: the caller names an fd inherited across clone whose owner
    // lives in the parent's copy of memory; nothing here uses it again.
    unsafe { libc::close(fd) };
}

pub fn rmdirat(dir: BorrowedFd, name: &Path) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: valid C string.
    let r = unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) };
    super::check(r as libc::c_long)?;
    Ok(())
}

/// A hard link to the file `src` refers to (linkat AT_EMPTY_PATH).
pub fn linkat_fd(src: BorrowedFd, dir: BorrowedFd, name: &Path) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: empty source path with AT_EMPTY_PATH; valid C string.
    super::check(unsafe {
        libc::linkat(
            src.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    } as libc::c_long)?;
    Ok(())
}

pub fn fchmodat(dir: BorrowedFd, name: &Path, mode: u32) -> io::Result<()> {
    let c = super::cstr(name)?;
    // SAFETY: valid C string.
    super::check(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), mode, 0) } as libc::c_long)?;
    Ok(())
}

/// Reads a small single-record kernel file whole: cgroupfs value files
/// (kernfs `seq_show`), /proc/PID/{stat,status,cgroup,setgroups}
/// (`single_open`) and /proc/sys/* (`proc_sys_read`). Those report size
/// 0, so std's `read_to_string` stats the file and then reads 32, 32,
/// 64, ... bytes (9 reads for /proc/self/status). Each of them renders its
/// whole content at the first read and returns as much as fits, so a read
/// that leaves room in the buffer has reached the end: one read, not two
/// (docs/benchmarks.md, where the syscalls go). Multi-record files are not
/// like that: see `read_records`.
pub fn read_small(path: impl AsRef<Path>) -> io::Result<String> {
    utf8(read_whole(path.as_ref(), true)?)
}

/// `read_small` for files that need not be UTF-8 (/proc/PID/stat's comm).
pub fn read_small_bytes(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    read_whole(path.as_ref(), true)
}

/// `read_small_bytes` of `path` relative to `dir`: `list` reads a state
/// file per container, and walking the root's path again for each costs
/// more than the read.
pub fn read_small_bytes_at(dir: BorrowedFd, path: &Path) -> io::Result<Vec<u8>> {
    let f = std::fs::File::from(openat(Some(dir), path, libc::O_RDONLY, 0)?);
    read_file(f, true)
}

/// Reads a multi-record kernel file whole (/proc/self/mountinfo,
/// cgroup.procs). seq_file fills one page of records per read and stops
/// when the next record does not fit, so a short read is not the end:
/// only a 0-byte read is.
pub fn read_records(path: impl AsRef<Path>) -> io::Result<String> {
    utf8(read_whole(path.as_ref(), false)?)
}

fn utf8(b: Vec<u8>) -> io::Result<String> {
    String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn read_whole(path: &Path, short_read_is_eof: bool) -> io::Result<Vec<u8>> {
    read_file(std::fs::File::open(path)?, short_read_is_eof)
}

fn read_file(mut f: std::fs::File, short_read_is_eof: bool) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize(n * 2, 0);
        }
        let room = buf.len() - n;
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(r) => {
                n += r;
                if short_read_is_eof && r < room {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}
