//! `checkpoint`: dump a running container with CRIU (checkpoint/). Then,
//! unless --leave-running or --pre-dump, the container is gone as with
//! runc: CRIU killed its processes and strata deletes it.

use super::Global;
use crate::checkpoint::{self, criu, images, mounts, rpc};
use crate::cli::CheckpointArgs;
use crate::container::{self, Status};
use crate::error::{Error, Result};
use crate::state;
use std::os::fd::AsRawFd;

pub fn run(g: &Global, a: &CheckpointArgs) -> Result<i32> {
    let locked = state::lock(&g.root, &a.id)?;
    let st = locked
        .read()?
        .ok_or_else(|| Error::NotExist(a.id.clone()))?;
    let status = container::status(&st, &locked.dir);
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(Error::Status(format!(
            "cannot checkpoint container {} that is {}: only a running container can be checkpointed",
            a.id,
            status.as_str()
        )));
    }
    let spec = state::load_config(&g.root, &a.id)?.ok_or_else(|| {
        Error::invalid(format!(
            "container {}: no saved config (made by an older strata); cannot checkpoint it",
            a.id
        ))
    })?;
    refuse_unsupported(&spec, &st, a)?;
    let exe = checkpoint::require(&format!("checkpoint container {}", a.id))?;
    let dirs = images::open(
        a.criu.image_path.as_deref(),
        a.criu.work_path.as_deref(),
        true,
    )?;
    images::write_descriptors(&dirs.images, st.pid)?;
    let mut opts = checkpoint::common_opts(
        &a.criu,
        dirs.images_fd.as_raw_fd(),
        dirs.work_fd.as_raw_fd(),
        "dump.log",
    )?;
    opts.pid = Some(st.pid);
    opts.root = Some(st.rootfs.to_string_lossy().into_owned());
    opts.leave_running = Some(a.leave_running || a.pre_dump);
    opts.ext_mnt = mounts::for_dump(
        &spec,
        std::path::Path::new(&format!("/proc/{}/root", st.pid)),
    );
    opts.external = external_namespaces(&spec)?;
    // CRIU freezes the whole cgroup, so no process escapes the dump.
    opts.freeze_cgroup = st
        .cgroup
        .paths
        .dir_for("freezer")
        .map(|d| d.to_string_lossy().into_owned());
    if let Some(p) = &a.parent_path {
        opts.parent_img = Some(p.clone());
        opts.track_mem = Some(true);
    }
    let kind = if a.pre_dump {
        opts.track_mem = Some(true);
        rpc::ReqType::PreDump
    } else {
        rpc::ReqType::Dump
    };
    let req = rpc::Req {
        r#type: kind as i32,
        opts: Some(opts),
        notify_success: None,
    };
    let mut swrk = criu::Swrk::start(&exe, &[], false)?;
    let resp = swrk.call(&req, &mut |_, _, _| Ok(()));
    let log = dirs.work.join("dump.log");
    let what = if a.pre_dump { "pre-dump" } else { "dump" };
    let resp = match resp {
        Ok(r) if r.success => r,
        Ok(r) => {
            swrk.finish();
            return Err(Error::invalid(criu::failure(what, Some(&r), &log)));
        }
        Err(e) => {
            swrk.finish();
            return Err(Error::invalid(format!(
                "{e}; {}",
                criu::failure(what, None, &log)
            )));
        }
    };
    drop(resp);
    swrk.finish();
    if !(a.leave_running || a.pre_dump) {
        super::delete::destroy(locked, &st)?;
    }
    Ok(0)
}

/// What CRIU cannot dump, refused before anything is frozen.
fn refuse_unsupported(
    spec: &oci_spec::runtime::Spec,
    st: &state::State,
    a: &CheckpointArgs,
) -> Result<()> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && !a.criu.shell_job {
        return Err(Error::invalid(format!(
            "cannot checkpoint container {}: it has a terminal (process.terminal), which CRIU cannot dump; pass --shell-job to dump it as a shell job",
            a.id
        )));
    }
    if st.layer_upper.is_some() {
        return Err(Error::invalid(format!(
            "cannot checkpoint container {}: its rootfs is layered (io.strata.layers), which checkpoint does not support yet",
            a.id
        )));
    }
    Ok(())
}

/// A network namespace joined by path is the caller's (CNI's): CRIU
/// records it as external ("net[INODE]:extRootNetNS", as runc names it)
/// and restore hands it back.
fn external_namespaces(spec: &oci_spec::runtime::Spec) -> Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in nss {
        if ns.typ() != oci_spec::runtime::LinuxNamespaceType::Network {
            continue;
        }
        if let Some(p) = ns.path() {
            let md = std::fs::metadata(p)
                .map_err(|e| Error::sys(format!("stat network namespace {}", p.display()), e))?;
            out.push(format!("net[{}]:{}", md.ino(), NET_KEY));
        }
    }
    Ok(out)
}

/// The name CRIU's images give an external network namespace.
pub const NET_KEY: &str = "extRootNetNS";
