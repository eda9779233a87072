//! capget/capset (version 3: 64-bit sets).

use std::io;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const V3: u32 = 0x2008_0522;

/// Sets this thread's effective, permitted and inheritable sets.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    let hdr = Header {
        version: V3,
        pid: 0,
    };
    let data = [
        Data {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        Data {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and a two-element data array as capset(2) v3 requires.
    super::check(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) })?;
    Ok(())
}
