//! Capability sets: spec names to bits, and applying all five sets exactly.

use crate::error::{Ctx, Result};
use crate::sys;
use oci_spec::runtime::{Capabilities, Capability as C, LinuxCapabilities};

/// Every capability the spec names, at the index of its bit (capabilities(7)):
/// the one table from which both bits and names are derived.
const ALL: [C; 41] = [
    C::Chown,
    C::DacOverride,
    C::DacReadSearch,
    C::Fowner,
    C::Fsetid,
    C::Kill,
    C::Setgid,
    C::Setuid,
    C::Setpcap,
    C::LinuxImmutable,
    C::NetBindService,
    C::NetBroadcast,
    C::NetAdmin,
    C::NetRaw,
    C::IpcLock,
    C::IpcOwner,
    C::SysModule,
    C::SysRawio,
    C::SysChroot,
    C::SysPtrace,
    C::SysPacct,
    C::SysAdmin,
    C::SysBoot,
    C::SysNice,
    C::SysResource,
    C::SysTime,
    C::SysTtyConfig,
    C::Mknod,
    C::Lease,
    C::AuditWrite,
    C::AuditControl,
    C::Setfcap,
    C::MacOverride,
    C::MacAdmin,
    C::Syslog,
    C::WakeAlarm,
    C::BlockSuspend,
    C::AuditRead,
    C::Perfmon,
    C::Bpf,
    C::CheckpointRestore,
];

/// The bit of `c`; 41 compares cost nothing beside the syscalls that apply the sets.
fn number(c: &C) -> Option<u32> {
    ALL.iter().position(|x| x == c).map(|i| i as u32)
}

/// The five sets as bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter().flatten().fold(0, |m, c| match number(c) {
        Some(n) => m | 1u64 << n,
        // a variant a newer oci-spec knows and this table does not: runc also ignores
        // capabilities it does not know, with a warning
        None => {
            tracing::warn!("capability {c} is unknown to this runtime; ignored");
            m
        }
    })
}

impl Sets {
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Sets {
        let Some(c) = c else { return Sets::default() };
        Sets {
            bounding: mask(c.bounding()),
            effective: mask(c.effective()),
            permitted: mask(c.permitted()),
            inheritable: mask(c.inheritable()),
            ambient: mask(c.ambient()),
        }
    }

    /// Drops what this kernel or this host cannot grant (a capability newer
    /// than the kernel, or one missing from our own bounding set, such as
    /// CAP_SYS_RESOURCE on some VMs): asking for it is not an error, as with
    /// runc. Returns the bits dropped.
    pub fn limit_to(&mut self, available: u64) -> u64 {
        let all = self.bounding | self.effective | self.permitted | self.inheritable | self.ambient;
        for s in [
            &mut self.bounding,
            &mut self.effective,
            &mut self.permitted,
            &mut self.inheritable,
            &mut self.ambient,
        ] {
            *s &= available;
        }
        all & !available
    }
}

/// The kernel's full capability set (all numbers up to cap_last_cap), when
/// /proc says what that is.
pub fn kernel_set() -> Option<u64> {
    let last: u32 = crate::sys::fd::read_small("/proc/sys/kernel/cap_last_cap")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    })
}

/// Capabilities the container can be given: the runtime's own bounding set
/// (`cap_bnd`, from `sys::self_status`), which starts as the kernel's full
/// set and only ever loses bits, so it names nothing the kernel does not
/// know. In a user namespace (`userns`, new or joined) the process gets the
/// kernel's full set there, whatever the runtime lacks: `kernel`
/// (`kernel_set`, read only then, or when CapBnd could not be) says what
/// that is; up to CAP_CHECKPOINT_RESTORE when unknown.
pub fn available(cap_bnd: Option<u64>, userns: bool, kernel: Option<u64>) -> u64 {
    if let Some(bnd) = cap_bnd.filter(|_| !userns) {
        return bnd;
    }
    kernel.unwrap_or((1u64 << 41) - 1)
}

/// The bounding set the process holds when `drop_bounding` runs, when
/// known: the runtime's own, or in a user namespace the kernel's full set
/// (entering one, by unshare or setns, gives the full set).
pub fn held(cap_bnd: Option<u64>, userns: bool, kernel: Option<u64>) -> Option<u64> {
    if userns {
        kernel
    } else {
        cap_bnd
    }
}

/// Step 1 (while still uid 0): drop everything outside the bounding set.
/// With `held` known, exactly the held capabilities not kept, one call
/// each (the kernel drops one per call). Otherwise every number from 0
/// until the kernel answers EINVAL (past cap_last_cap; dropping one not
/// held is a no-op): a process that entered a user namespace holds the
/// kernel's full set there (CAP_SYS_RESOURCE too on a host whose own
/// bounding set lacks it), so the runtime's set says nothing about what
/// must go.
pub fn drop_bounding(sets: &Sets, held: Option<u64>) -> Result<()> {
    if let Some(held) = held {
        for cap in bits(held & !sets.bounding) {
            sys::prctl(libc::PR_CAPBSET_DROP, cap as _, 0)
                .ctx(|| format!("drop capability {cap} from the bounding set"))?;
        }
        return Ok(());
    }
    for cap in 0..64u32 {
        if sets.bounding & (1u64 << cap) != 0 {
            continue;
        }
        match sys::prctl(libc::PR_CAPBSET_DROP, cap as _, 0) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && cap > 0 => return Ok(()),
            Err(e) => return Err(e).ctx(|| format!("drop capability {cap} from the bounding set")),
        }
    }
    Ok(())
}

/// The numbers of the bits set in `mask`, lowest first.
fn bits(mask: u64) -> impl Iterator<Item = u32> {
    (0..64u32).filter(move |c| mask & (1u64 << c) != 0)
}

/// Step 2 (after the uid change): set E/P/I exactly, clear ambient, then
/// raise only what was asked (never inherit ambient caps: CVE-2022-29162).
pub fn apply(sets: &Sets) -> Result<()> {
    sys::caps::capset(sets.effective, sets.permitted, sets.inheritable).ctx(|| {
        format!(
            "capset (effective {:#x}, permitted {:#x}, inheritable {:#x})",
            sets.effective, sets.permitted, sets.inheritable
        )
    })?;
    // capset itself drops every ambient capability that is not both
    // permitted and inheritable: with none such, nothing inherited can be
    // left (CVE-2022-29162) and the clear would be a no-op.
    if sets.permitted & sets.inheritable != 0 {
        sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as _, 0)
            .ctx(|| "clear ambient capabilities")?;
    }
    // The kernel only raises an ambient capability that is also permitted
    // and inheritable; like runc and crun, a config that asks for more (runc's
    // own default spec does) is not an error, and not worth a warning line.
    for cap in 0..64u32 {
        let bit = 1u64 << cap;
        if sets.ambient & bit != 0 {
            // The kernel's own condition, known here: no call to fail.
            if sets.permitted & sets.inheritable & bit == 0 {
                tracing::debug!(
                    "ambient capability {} not raised: it must also be permitted and inheritable",
                    name(cap).unwrap_or_default()
                );
                continue;
            }
            if let Err(e) = sys::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as _,
                cap as _,
            ) {
                tracing::debug!("ambient capability {} not raised (it must also be permitted and inheritable): {e}", name(cap).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// The spec name of capability number `n` ("CAP_CHOWN" for 0). oci-spec displays a
/// capability without the prefix its serde name carries.
pub fn name(n: u32) -> Option<String> {
    ALL.get(n as usize).map(|c| format!("CAP_{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_follow_the_kernel_numbering() {
        for (n, c) in ALL.iter().enumerate() {
            assert_eq!(number(c), Some(n as u32));
            // the display name plus prefix is the spec's (serde) name
            let serde = serde_json::to_string(c).unwrap();
            assert_eq!(name(n as u32).map(|s| format!("\"{s}\"")), Some(serde));
        }
        assert_eq!(name(0).as_deref(), Some("CAP_CHOWN"));
        assert_eq!(name(21).as_deref(), Some("CAP_SYS_ADMIN"));
        assert_eq!(name(26).as_deref(), Some("CAP_SYS_TTY_CONFIG"));
        assert_eq!(name(40).as_deref(), Some("CAP_CHECKPOINT_RESTORE"));
        assert_eq!(name(41), None);
    }

    #[test]
    fn bounding_drops_only_what_is_held_and_not_kept() {
        assert_eq!(bits(0b1010_0001).collect::<Vec<_>>(), [0, 5, 7]);
        let full = (1u64 << 41) - 1;
        assert_eq!(held(Some(0xff), false, Some(full)), Some(0xff));
        assert_eq!(held(Some(0xff), true, Some(full)), Some(full));
        assert_eq!(held(Some(0xff), true, None), None);
        assert_eq!(available(Some(0xff), false, None), 0xff);
        assert_eq!(available(Some(0xff), true, Some(full >> 1)), full >> 1);
        assert_eq!(available(None, false, None), full);
    }
}
