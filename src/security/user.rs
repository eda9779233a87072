//! Switching to the container's uid/gid while keeping the capabilities the
//! config asks for.

use crate::error::{Ctx, Result};
use crate::sys;
use oci_spec::runtime::User;

/// setgroups, setresgid, setresuid with PR_SET_KEEPCAPS so the permitted
/// set survives a switch to a non-zero uid (capset then sets it exactly).
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).ctx(|| "prctl PR_SET_KEEPCAPS")?;
    if setgroups_allowed {
        let gids = user.additional_gids().clone().unwrap_or_default();
        sys::setgroups(&gids)
            .ctx(|| format!("setgroups {:?} (process.user.additionalGids)", gids))?;
    }
    sys::setresgid(user.gid()).ctx(|| format!("setresgid {} (process.user.gid)", user.gid()))?;
    sys::setresuid(user.uid()).ctx(|| format!("setresuid {} (process.user.uid)", user.uid()))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0, 0).ctx(|| "prctl PR_SET_KEEPCAPS")?;
    Ok(())
}
