//! seccomp(2) with a ready-made classic BPF program (the cached filters of
//! security/seccomp/cache.rs; libseccomp loads the others itself).

use std::io;

const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

/// Installs `prog` (struct sock_filter instructions, 8 bytes each) on this
/// thread with SECCOMP_FILTER_FLAG_* `flags`. Needs no_new_privs or
/// CAP_SYS_ADMIN, like any filter.
pub fn set_filter(prog: &[u8], flags: u32) -> io::Result<()> {
    if prog.is_empty() || !prog.len().is_multiple_of(8) || prog.len() / 8 > u16::MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let fprog = SockFprog {
        len: (prog.len() / 8) as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: fprog points at `prog`, which outlives the call; the kernel
    // copies the program.
    super::check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &fprog as *const SockFprog,
        )
    })?;
    Ok(())
}
