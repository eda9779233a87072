//! linux.seccomp with libseccomp: compiled once in the runtime
//! (compile.rs), loaded by the container process as late as the spec
//! allows. The generated program is cached by content under the state root
//! (cache.rs), so most creates skip libseccomp's compile.

pub mod cache;
mod compile;

use crate::error::{Error, Result};
use libseccomp::ScmpFilterContext;

pub struct Filter {
    prog: Prog,
    /// Some rule uses SCMP_ACT_NOTIFY: the listener fd must reach
    /// linux.seccomp.listenerPath, so the filter loads before `Ready`.
    pub notify: bool,
}

enum Prog {
    /// Generated and loaded by libseccomp.
    Libseccomp(ScmpFilterContext),
    /// A program from the cache (cache.rs), loaded with seccomp(2)
    /// and these SECCOMP_FILTER_FLAG_*.
    Bpf { insns: Vec<u8>, flags: u32 },
}

impl Filter {
    /// Loads the filter into this process; returns the notify fd if any.
    pub fn load(&self) -> Result<Option<std::os::fd::RawFd>> {
        let ctx = match &self.prog {
            Prog::Libseccomp(ctx) => ctx,
            Prog::Bpf { insns, flags } => {
                return crate::sys::seccomp::set_filter(insns, *flags)
                    .map(|()| None)
                    .map_err(|e| Error::sys("load seccomp filter", e));
            }
        };
        ctx.load()
            .map_err(|e| Error::invalid(format!("load seccomp filter: {e}")))?;
        if self.notify {
            return ctx
                .get_notify_fd()
                .map(Some)
                .map_err(|e| Error::invalid(format!("seccomp notify fd: {e}")));
        }
        Ok(None)
    }

    fn from_bpf(insns: Vec<u8>, flags: u32) -> Filter {
        Filter {
            prog: Prog::Bpf { insns, flags },
            notify: false,
        }
    }

    /// Writes the program as BPF (what `load` would install) to `file`.
    fn export(&self, file: &std::fs::File) -> std::io::Result<()> {
        match &self.prog {
            Prog::Libseccomp(ctx) => ctx.export_bpf(file).map_err(std::io::Error::other),
            Prog::Bpf { insns, .. } => {
                use std::io::Write;
                let mut f = file;
                f.write_all(insns)
            }
        }
    }
}
