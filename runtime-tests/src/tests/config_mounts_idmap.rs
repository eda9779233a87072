//! config.md "Mounts": the `idmap` / `ridmap` options and a mount's own `uidMappings` /
//! `gidMappings` (runtime-spec 1.1+). The container runs in a user namespace mapping
//! 0..65536 to host 100000..165536; a host directory owned by uid/gid 1000 is bound with
//! maps that show 1000 as the container's root.
use super::refused;
use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::ensure_eq;
use crate::harness::{Context, TResult, Test};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const RUNC: &str = "runc 1.1.5 predates idmapped mounts: it accepts idmap/ridmap and a mount's \
                    uidMappings/gidMappings and silently binds without an idmapping (the host \
                    dir shows as 65534 inside), and refuses none of the bad inputs";

pub fn tests() -> Vec<Test> {
    crate::tests!("config_mounts_idmap";
        custom_maps, container_maps, ridmap_submount, idmap_top_only,
        idmap_without_userns, maps_without_idmap)
    .into_iter()
    .map(|t| t.deviates("runc", RUNC))
    .collect()
}

fn userns(b: &mut Bundle) {
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map;
}

/// Host uid/gid 1000 appears as the container's root (host 100000).
fn root_maps() -> Value {
    json!([{"containerID": 1000, "hostID": 100000, "size": 1}])
}

/// A host dir owned by 1000:1000 (readable by anyone).
fn owned_dir(ctx: &Ctx, name: &str) -> Result<PathBuf, String> {
    let d = ctx.host_dir(name)?;
    std::os::unix::fs::chown(&d, Some(1000), Some(1000)).ctx("chown the host dir")?;
    Ok(d)
}

fn idmapped(host: &Path, dest: &str, opts: &[&str], maps: Option<Value>) -> Value {
    let mut m = json!({"destination": dest, "type": "bind", "source": host, "options": opts});
    if let Some(maps) = maps {
        m["uidMappings"] = maps.clone();
        m["gidMappings"] = maps;
    }
    m
}

/// Runs `sh -c script` and parses each output line as the probe's JSON.
fn run_lines(ctx: &Ctx, b: &mut Bundle, script: &str) -> Result<Vec<Value>, String> {
    b.args(&["/bin/sh", "-c", script]);
    let out = ctx.run(b, &[])?.check()?;
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).ctx(format!("probe output {l:?}")))
        .collect()
}

/// (uid, gid) of a probe `stat` line; (-1, -1) when the line is missing.
fn owner(v: Option<&Value>) -> (i64, i64) {
    let v = v.unwrap_or(&Value::Null);
    (
        v["uid"].as_i64().unwrap_or(-1),
        v["gid"].as_i64().unwrap_or(-1),
    )
}

fn host_owner(p: &Path) -> Result<(u32, u32), String> {
    let m = std::fs::metadata(p).ctx(format!("stat {}", p.display()))?;
    Ok((m.uid(), m.gid()))
}

/// The mount's own maps: the host dir shows as root-owned inside, and a file the
/// container's root creates lands on the host as 1000:1000.
fn custom_maps(ctx: &Ctx) -> TResult {
    own_maps(ctx, &["bind", "idmap"])
}

fn own_maps(ctx: &Ctx, opts: &[&str]) -> TResult {
    let mut b = ctx.bundle()?;
    userns(&mut b);
    let host = owned_dir(ctx, "idmapped")?;
    b.mount(idmapped(&host, "/tmp/h", opts, Some(root_maps())));
    stat_and_write(ctx, &mut b, &host, (0, 0), (1000, 1000))
}

/// Without maps of its own the mount takes the container's: on-disk ids show unchanged
/// inside, and the container's root writes as host root.
fn container_maps(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    userns(&mut b);
    let host = owned_dir(ctx, "idmapped")?;
    // 1000 is not the container's root: let anyone create files.
    std::fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .ctx("chmod the host dir")?;
    b.mount(idmapped(&host, "/tmp/h", &["rbind", "idmap"], None));
    stat_and_write(ctx, &mut b, &host, (1000, 1000), (0, 0))
}

/// Stats the mount at /tmp/h and writes /tmp/h/new from inside: `inside` is the owner the
/// container sees, `on_host` the owner of the new file on the host dir `host`.
fn stat_and_write(
    ctx: &Ctx,
    b: &mut Bundle,
    host: &Path,
    inside: (i64, i64),
    on_host: (u32, u32),
) -> TResult {
    let v = run_lines(ctx, b, "/probe stat /tmp/h && /probe write /tmp/h/new x")?;
    ensure_eq!(
        owner(v.first()),
        inside,
        "owner of /tmp/h inside the container"
    );
    ensure_eq!(
        host_owner(&host.join("new"))?,
        on_host,
        "host owner of /tmp/h/new"
    );
    Ok(())
}

/// Unmounts the host tmpfs even when the test fails.
struct HostMount(PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A host dir with a tmpfs (root 1000:1000) mounted on its subdirectory `sub`.
fn with_submount(ctx: &Ctx) -> Result<(PathBuf, HostMount), String> {
    let host = owned_dir(ctx, "idmapped")?;
    let sub = host.join("sub");
    std::fs::create_dir(&sub).ctx("mkdir sub")?;
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64k,uid=1000,gid=1000,mode=755"),
    )
    .ctx("mount a tmpfs on the host dir's sub")?;
    Ok((host, HostMount(sub)))
}

/// `ridmap` idmaps the submounts of an rbind too.
fn ridmap_submount(ctx: &Ctx) -> TResult {
    let (host, _m) = with_submount(ctx)?;
    let mut b = ctx.bundle()?;
    userns(&mut b);
    b.mount(idmapped(
        &host,
        "/tmp/h",
        &["rbind", "ridmap"],
        Some(root_maps()),
    ));
    let v = run_lines(ctx, &mut b, "/probe stat /tmp/h && /probe stat /tmp/h/sub")?;
    ensure_eq!(owner(v.first()), (0, 0), "owner of /tmp/h");
    ensure_eq!(owner(v.get(1)), (0, 0), "owner of the submount /tmp/h/sub");
    Ok(())
}

/// `idmap` on an rbind maps only the top mount: the submount keeps the host ids, which
/// the container's user namespace cannot map (the overflow id).
fn idmap_top_only(ctx: &Ctx) -> TResult {
    let (host, _m) = with_submount(ctx)?;
    let mut b = ctx.bundle()?;
    userns(&mut b);
    b.mount(idmapped(
        &host,
        "/tmp/h",
        &["rbind", "idmap"],
        Some(root_maps()),
    ));
    let v = run_lines(ctx, &mut b, "/probe stat /tmp/h && /probe stat /tmp/h/sub")?;
    ensure_eq!(owner(v.first()), (0, 0), "owner of /tmp/h");
    ensure_eq!(
        owner(v.get(1)),
        (65534, 65534),
        "owner of the submount /tmp/h/sub"
    );
    Ok(())
}

/// config.md: idmap without maps of its own and without a user namespace "MUST" fail.
fn idmap_without_userns(ctx: &Ctx) -> TResult {
    let mut b = ctx.bundle()?;
    let host = owned_dir(ctx, "idmapped")?;
    b.mount(idmapped(&host, "/tmp/h", &["bind", "idmap"], None));
    Ok(refused(ctx, &b, &ctx.run(&b, &[])?, &["/tmp/h"])?)
}

/// Maps without idmap/ridmap still give an idmapped mount, as runc 1.2+ does: config.md's
/// "SHOULD contain idmap" is addressed to the config's writer, and the maps say what is meant.
fn maps_without_idmap(ctx: &Ctx) -> TResult {
    own_maps(ctx, &["bind"])
}
