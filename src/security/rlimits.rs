//! process.rlimits: spec names to RLIMIT_* numbers.

use crate::error::{Error, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType as R};

fn resource(t: R) -> u32 {
    match t {
        R::RlimitCpu => libc::RLIMIT_CPU,
        R::RlimitFsize => libc::RLIMIT_FSIZE,
        R::RlimitData => libc::RLIMIT_DATA,
        R::RlimitStack => libc::RLIMIT_STACK,
        R::RlimitCore => libc::RLIMIT_CORE,
        R::RlimitRss => libc::RLIMIT_RSS,
        R::RlimitNproc => libc::RLIMIT_NPROC,
        R::RlimitNofile => libc::RLIMIT_NOFILE,
        R::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        R::RlimitAs => libc::RLIMIT_AS,
        R::RlimitLocks => libc::RLIMIT_LOCKS,
        R::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        R::RlimitNice => libc::RLIMIT_NICE,
        R::RlimitRtprio => libc::RLIMIT_RTPRIO,
        R::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn spec_name(t: R) -> String {
    // serde gives the spec's spelling, e.g. "RLIMIT_NOFILE".
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}"))
}

/// Applies every rlimit; the error names the limit and the values.
pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        crate::sys::setrlimit(resource(l.typ()), l.soft(), l.hard()).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (above the runtime's hard limit, and raising it needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            Error::sys(
                format!(
                    "setrlimit {} (soft {}, hard {}){hint}",
                    spec_name(l.typ()),
                    l.soft(),
                    l.hard()
                ),
                e,
            )
        })?;
    }
    Ok(())
}
