//! `spec [--rootless] [--bundle DIR]`: write a default config.json like
//! runc's.

use crate::error::{Ctx, Error, Result};
use serde_json::{json, Value};
use std::path::Path;

pub fn default_spec(rootless: bool) -> Value {
    let mut v = json!({
        "ociVersion": crate::SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "strata",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if rootless {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let linux = &mut v["linux"];
        linux["resources"] = json!({});
        linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}]);
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        // Without a network namespace of its own, sysfs cannot be mounted:
        // bind the host's read-only. devpts' gid=5 may be unmapped.
        let mounts = v["mounts"].as_array_mut();
        if let Some(mounts) = mounts {
            for m in mounts.iter_mut() {
                if m["destination"] == "/sys" {
                    *m = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                }
                if m["destination"] == "/dev/pts" {
                    if let Some(opts) = m["options"].as_array_mut() {
                        opts.retain(|o| o != "gid=5");
                    }
                }
            }
        }
    }
    v
}

pub fn run(bundle: &Path, rootless: bool) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::invalid(format!(
            "{} exists; remove it first",
            path.display()
        )));
    }
    let text = serde_json::to_string_pretty(&default_spec(rootless))
        .map_err(|e| Error::invalid(e.to_string()))?;
    std::fs::write(&path, text + "\n").ctx(|| format!("write {}", path.display()))?;
    Ok(0)
}
