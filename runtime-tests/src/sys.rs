//! Host-side inspection: mountinfo, cgroup hierarchies, processes, namespaces, removal.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone)]
pub struct Mount {
    pub point: String,
    pub options: String,
    pub fstype: String,
    pub super_options: String,
}

/// Undoes the octal escapes (`\040`) mountinfo uses for blanks and backslashes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (b[i], oct) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    Some(Mount {
        point: unescape(l.get(4)?),
        options: l.get(5)?.to_string(),
        fstype: r.first()?.to_string(),
        super_options: r.get(2).unwrap_or(&"").to_string(),
    })
}

/// The mounts of the harness's own mount namespace.
pub fn mounts() -> Vec<Mount> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().filter_map(parse_mountinfo_line).collect()
}

pub fn is_under(path: &str, dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    path == dir || path.starts_with(&format!("{}/", dir.trim_end_matches('/')))
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    mounts()
        .into_iter()
        .filter(|m| is_under(&m.point, dir))
        .map(|m| m.point)
        .collect()
}

/// Unmounts everything at or below `dir`, deepest first, lazily.
pub fn unmount_under(dir: &Path) -> Vec<String> {
    for _ in 0..10 {
        let mut points = mounts_under(dir);
        if points.is_empty() {
            return vec![];
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    mounts_under(dir)
}

pub fn kill9(pid: i32) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

pub fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); it is not running any more.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
    pid > 0 && !matches!(state, None | Some('Z') | Some('X'))
}

/// Live processes whose environment holds `RUNTIME_TESTS_TAG=<tag>` (set on every runtime
/// command and in every container's `process.env`).
pub fn tagged_pids(tag: &str) -> Vec<i32> {
    let needle = format!("RUNTIME_TESTS_TAG={tag}");
    let own = std::process::id() as i32;
    let mut out = vec![];
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == own || !alive(pid) {
            continue;
        }
        let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Polls `cond` every 50 ms until it holds or `secs` pass. The timeout only prevents hangs.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Inode of a namespace link target such as `net:[4026531840]`.
pub fn ns_inode(target: &str) -> Option<u64> {
    target.split_once('[')?.1.strip_suffix(']')?.parse().ok()
}

pub fn own_ns(kind: &str) -> Option<u64> {
    ns_inode(
        &fs::read_link(format!("/proc/self/ns/{kind}"))
            .ok()?
            .to_string_lossy(),
    )
}

/// `rm -rf --one-file-system`: never descends into another mount or follows a symlink.
pub fn remove_tree(dir: &Path) -> Result<(), String> {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return Ok(());
    };
    remove_on_dev(dir, meta.dev())
}

fn remove_on_dev(path: &Path, dev: u64) -> Result<(), String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.dev() != dev {
        return Err(format!(
            "{} is on another filesystem, left in place",
            path.display()
        ));
    }
    if !meta.is_dir() {
        return fs::remove_file(path).map_err(|e| format!("rm {}: {e}", path.display()));
    }
    let mut first_err = Ok(());
    for e in fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .flatten()
    {
        if let Err(e) = remove_on_dev(&e.path(), dev) {
            first_err = first_err.and(Err(e));
        }
    }
    first_err?;
    fs::remove_dir(path).map_err(|e| format!("rmdir {}: {e}", path.display()))
}

/// True when the ELF file has no PT_INTERP program header (a static or static-pie binary).
pub fn is_static_elf(path: &Path) -> Result<bool, String> {
    let b = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if b.get(..5) != Some(b"\x7fELF\x02") {
        return Err(format!("{} is not a 64-bit ELF file", path.display()));
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let (Some(phoff), Some(size), Some(num)) = (phoff, phentsize, phnum) else {
        return Err(format!("{}: truncated ELF header", path.display()));
    };
    Ok((0..num).all(|i| u32_at(phoff as usize + i * size) != Some(3)))
}
