//! What the checks and the benchmark share: their common flags, the connection to
//! containerd's CRI socket, the error text of a failed call, the pod they make.
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

/// The flags of both modes: where containerd is, what to run, where the pod goes.
pub struct Common {
    pub socket: String,
    pub image: String,
    pub cgroup_parent: String,
    pub log_dir: String,
    pub name: String,
}

impl Common {
    pub fn new(name: &str) -> Common {
        Common {
            socket: String::new(),
            image: String::new(),
            cgroup_parent: String::new(),
            log_dir: String::new(),
            name: name.into(),
        }
    }

    /// Takes `flag` if it is one of the common ones.
    pub fn take(&mut self, flag: &str, v: String) -> bool {
        match flag {
            "--socket" => self.socket = v,
            "--image" => self.image = v,
            "--cgroup-parent" => self.cgroup_parent = v,
            "--log-dir" => self.log_dir = v,
            "--name" => self.name = v,
            _ => return false,
        }
        true
    }

    /// Whether the flags every mode needs were given.
    pub fn complete(&self) -> bool {
        !(self.socket.is_empty() || self.image.is_empty() || self.log_dir.is_empty())
    }
}

pub async fn channel(socket: &str) -> Result<Channel, String> {
    let path = socket.to_string();
    Endpoint::try_from("http://[::]:0")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let s = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
        .map_err(|e| format!("connect {socket}: {e}"))
}

pub fn st(e: tonic::Status) -> String {
    format!("{}: {}", e.code(), e.message())
}

/// A pod on the host's network (no CNI on the test host), its cgroup below cgroup_parent.
pub fn host_network_pod(name: &str, log_dir: &str, cgroup_parent: &str) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: format!("{name}-uid"),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: log_dir.into(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.into(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
