//! Switching to the container's uid/gid while keeping the capabilities the
//! config asks for.

use crate::error::{Ctx, Result};
use crate::sys;
use oci_spec::runtime::User;

/// setgroups, setresgid, setresuid with PR_SET_KEEPCAPS so the permitted
/// set survives a switch to a non-zero uid (capset then sets it exactly).
/// `setgroups_allowed` is asked only when setgroups fails with EPERM: in a
/// user namespace whose setgroups is denied, the additional gids cannot be
/// set at all and are skipped.
pub fn switch(user: &User, setgroups_allowed: impl FnOnce() -> bool) -> Result<()> {
    // The kernel clears the permitted set only when every uid goes from
    // 0 to non-zero; staying uid 0 needs no KEEPCAPS.
    let keep = user.uid() != 0;
    if keep {
        sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).ctx(|| "prctl PR_SET_KEEPCAPS")?;
    }
    let gids = user.additional_gids().clone().unwrap_or_default();
    match sys::setgroups(&gids) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && !setgroups_allowed() => {}
        Err(e) => {
            return Err(e).ctx(|| format!("setgroups {:?} (process.user.additionalGids)", gids))
        }
    }
    sys::setresgid(user.gid()).ctx(|| format!("setresgid {} (process.user.gid)", user.gid()))?;
    sys::setresuid(user.uid()).ctx(|| format!("setresuid {} (process.user.uid)", user.uid()))?;
    if keep {
        sys::prctl(libc::PR_SET_KEEPCAPS, 0, 0).ctx(|| "prctl PR_SET_KEEPCAPS")?;
    }
    Ok(())
}
