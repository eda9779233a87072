//! OCI bundles: a busybox + probe rootfs and a config.json equivalent to `runc spec`.
use crate::harness::Context;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

const APPLETS: &[&str] = &[
    "sh", "true", "false", "sleep", "cat", "echo", "ls", "id", "env", "mkdir", "touch", "test",
    "readlink", "tty", "stty", "hostname", "head", "wc", "grep",
];
pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

pub struct Bundle {
    pub id: String,
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    /// Creates `dir` with `rootfs/` and an in-memory config (written by [`Bundle::write`]).
    pub fn new(dir: &Path, id: &str, tag: &str, probe: &Path) -> Result<Bundle, String> {
        let root = dir.join("rootfs");
        for d in [
            "bin", "proc", "sys", "dev", "tmp", "etc", "root", "run", "mnt",
        ] {
            fs::create_dir_all(root.join(d)).ctx(format!("mkdir {}", root.join(d).display()))?;
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))
            .ctx("chmod tmp")?;
        fs::copy("/bin/busybox", root.join("bin/busybox")).ctx("copy /bin/busybox")?;
        for a in APPLETS {
            symlink("busybox", root.join("bin").join(a)).ctx(format!("symlink {a}"))?;
        }
        fs::copy(probe, root.join("probe")).ctx(format!("copy {}", probe.display()))?;
        fs::set_permissions(root.join("probe"), fs::Permissions::from_mode(0o755))
            .ctx("chmod probe")?;
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .ctx("write passwd")?;
        fs::write(
            root.join("etc/group"),
            "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
        )
        .ctx("write group")?;
        let cg = if crate::systemd::on() {
            crate::systemd::cgroups_path(id)
        } else {
            format!("/runtime-tests/{id}")
        };
        let config = template(tag, &cg);
        Ok(Bundle {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            config,
        })
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The cgroup directory's path below each hierarchy's root (with `--systemd`, where
    /// systemd puts the unit).
    pub fn cgroups_path(&self) -> String {
        crate::systemd::expand(
            self.config["linux"]["cgroupsPath"]
                .as_str()
                .unwrap_or_default(),
        )
    }

    pub fn write(&self) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.config).ctx("serialize config")?;
        fs::write(self.dir.join("config.json"), text).ctx("write config.json")
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    pub fn mount(&mut self, m: Value) -> &mut Self {
        if let Some(v) = self.config["mounts"].as_array_mut() {
            v.push(m);
        }
        self
    }

    /// Bind-mounts the host dir `host` (created if needed) at `dest`, read-write.
    pub fn bind(&mut self, host: &Path, dest: &str, ro: bool) -> Result<&mut Self, String> {
        fs::create_dir_all(host).ctx(format!("mkdir {}", host.display()))?;
        let mut opts = vec!["rbind"];
        if ro {
            opts.push("ro");
        }
        Ok(self
            .mount(json!({"destination": dest, "type": "bind", "source": host, "options": opts})))
    }

    pub fn namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        if let Some(v) = self.config["linux"]["namespaces"].as_array_mut() {
            v.retain(|n| n["type"] != kind);
            v.push(match path {
                Some(p) => json!({"type": kind, "path": p}),
                None => json!({"type": kind}),
            });
        }
        self
    }

    pub fn without_namespace(&mut self, kind: &str) -> &mut Self {
        if let Some(v) = self.config["linux"]["namespaces"].as_array_mut() {
            v.retain(|n| n["type"] != kind);
        }
        self
    }
}

/// `runc spec` (1.1.x) with: terminal off, a writable root, args running the probe, a tag in
/// the environment (to find stray processes), and a unique absolute cgroupsPath. ociVersion
/// is 1.0.2 so older runtimes accept it. No cgroup mount (tests that need it add it).
pub fn template(tag: &str, cgroups_path: &str) -> Value {
    let nsd = ["nosuid", "noexec", "nodev"];
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/probe", "report"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
                format!("RUNTIME_TESTS_TAG={tag}"),
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS, "ambient": DEFAULT_CAPS,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "runtime-tests",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nsd},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    })
}
