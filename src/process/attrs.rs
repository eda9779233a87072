//! Process attributes set as the last steps in the container process:
//! `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`
//! (exec only), `linux.personality` and `linux.memoryPolicy`. (Parsing
//! them, with oci-spec's workarounds: spec.rs.)

use super::{cpus, sched};
use crate::error::{Ctx as _, Result};
use oci_spec::runtime::{LinuxPersonalityDomain, Process, Spec};

/// Config checks that need the typed spec (ranges, host CPUs and nodes).
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        validate_process(p)?;
    }
    if let Some(mp) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    {
        cpus::validate_mempolicy(mp)?;
    }
    Ok(())
}

pub fn validate_process(p: &Process) -> Result<()> {
    sched::validate(p)?;
    cpus::validate_affinity(p)
}

/// In the container process, before capabilities are dropped: real-time
/// policies, a negative nice and the RT I/O class need CAP_SYS_NICE or
/// CAP_SYS_ADMIN, which the payload itself is often not given. All of it
/// survives execve.
pub fn apply(spec: &Spec, p: &Process, exec: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(per) = linux.and_then(|l| l.personality().as_ref()) {
        let (v, name) = match per.domain() {
            LinuxPersonalityDomain::PerLinux => (0x0000, "LINUX"),
            LinuxPersonalityDomain::PerLinux32 => (0x0008, "LINUX32"),
        };
        crate::sys::sched::personality(v).ctx(|| format!("linux.personality {name}"))?;
    }
    if let Some(mp) = linux.and_then(|l| l.memory_policy().as_ref()) {
        cpus::apply_mempolicy(mp)?;
    }
    sched::apply(p)?;
    if exec {
        // config.md: execCPUAffinity is not for the container's init.
        cpus::set_final(p)?;
    }
    Ok(())
}
