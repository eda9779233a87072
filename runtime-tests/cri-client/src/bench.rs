//! `cri-client bench`: CRI timings for hack/bench-interleaved.py, two runtime handlers of one
//! containerd timed in pairs (the order within a pair random, seeded), one line per sample:
//!
//!   sample OP PAIR HANDLER SECONDS
//!
//! OP `run-pod-sandbox`: RunPodSandbox until PodSandboxStatus says ready (the pod is then
//! stopped and removed, untimed). OP `exec-sync`: ExecSync of /bin/true into a running
//! container, one pod per handler. The caller drops the warm-up pairs and takes the ratios.
//!
//!   cri-client bench --socket PATH --image REF --cgroup-parent /P --log-dir DIR
//!                    --handlers A,B --pairs N [--seed N] [--name N]
//!
//! Everything it makes is removed at the end, also after a failed step.
use crate::cri::{channel, host_network_pod, st, Common};
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::time::Instant;
use tonic::transport::Channel;

struct Args {
    c: Common,
    handlers: Vec<String>,
    pairs: u32,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        c: Common::new("bench"),
        handlers: Vec::new(),
        pairs: 0,
        seed: 1,
    };
    let mut it = std::env::args().skip(2);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--handlers" => a.handlers = v.split(',').map(String::from).collect(),
            "--pairs" => a.pairs = u32::try_from(num(&v)?).map_err(|e| format!("--pairs: {e}"))?,
            "--seed" => a.seed = num(&v)?,
            _ => {
                if !a.c.take(&flag, v) {
                    return Err(format!("unknown flag {flag}"));
                }
            }
        }
    }
    if !a.c.complete() || a.handlers.len() != 2 || a.pairs == 0 {
        return Err(
            "usage: cri-client bench --socket PATH --image REF --cgroup-parent /P --log-dir DIR \
                    --handlers A,B --pairs N [--seed N] [--name N]"
                .into(),
        );
    }
    Ok(a)
}

/// xorshift64*: enough to shuffle two handlers reproducibly, without a crate for it.
struct Rng(u64);

impl Rng {
    fn coin(&mut self) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63) == 1
    }

    fn order<'a>(&mut self, h: &'a [String]) -> [&'a str; 2] {
        if self.coin() {
            [&h[0], &h[1]]
        } else {
            [&h[1], &h[0]]
        }
    }
}

struct Bench {
    rt: RuntimeServiceClient<Channel>,
    a: Args,
    /// Pods made and not yet removed (removed at the end whatever happened).
    pods: Vec<String>,
}

impl Bench {
    fn pod_config(&self, name: &str) -> PodSandboxConfig {
        host_network_pod(name, &self.a.c.log_dir, &self.a.c.cgroup_parent)
    }

    /// RunPodSandbox, then PodSandboxStatus must say ready: the sandbox is running.
    async fn run_pod(
        &mut self,
        config: &PodSandboxConfig,
        handler: &str,
    ) -> Result<String, String> {
        let id = self
            .rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: handler.into(),
            })
            .await
            .map_err(|e| format!("RunPodSandbox ({handler}): {}", st(e)))?
            .into_inner()
            .pod_sandbox_id;
        self.pods.push(id.clone());
        let status = self
            .rt
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: id.clone(),
                verbose: false,
            })
            .await
            .map_err(|e| format!("PodSandboxStatus ({handler}): {}", st(e)))?
            .into_inner()
            .status
            .map(|s| s.state);
        if status != Some(PodSandboxState::SandboxReady as i32) {
            return Err(format!(
                "pod {id} ({handler}) not ready after RunPodSandbox: state {status:?}"
            ));
        }
        Ok(id)
    }

    async fn remove_pod(&mut self, id: &str) -> Result<(), String> {
        self.rt
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .map_err(|e| format!("StopPodSandbox {id}: {}", st(e)))?;
        self.rt
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            })
            .await
            .map_err(|e| format!("RemovePodSandbox {id}: {}", st(e)))?;
        self.pods.retain(|p| p != id);
        Ok(())
    }

    async fn pod_sandbox_pairs(&mut self, rng: &mut Rng) -> Result<(), String> {
        let handlers = self.a.handlers.clone();
        for i in 0..self.a.pairs {
            for h in rng.order(&handlers) {
                let config = self.pod_config(&format!("{}-{h}-{i}", self.a.c.name));
                let t0 = Instant::now();
                let id = self.run_pod(&config, h).await?;
                println!(
                    "sample run-pod-sandbox {i} {h} {:.6}",
                    t0.elapsed().as_secs_f64()
                );
                self.remove_pod(&id).await?;
            }
        }
        Ok(())
    }

    /// A pod per handler with a sleeping container in it; returns the container ids.
    async fn exec_targets(&mut self) -> Result<Vec<String>, String> {
        let mut ids = Vec::new();
        for h in self.a.handlers.clone() {
            let pod_config = self.pod_config(&format!("{}-{h}-exec", self.a.c.name));
            let pod = self.run_pod(&pod_config, &h).await?;
            let config = ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "sleeper".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: self.a.c.image.clone(),
                    ..Default::default()
                }),
                command: vec!["sleep".into(), "100000".into()],
                log_path: format!("exec-{h}.log"),
                ..Default::default()
            };
            let id = self
                .rt
                .create_container(CreateContainerRequest {
                    pod_sandbox_id: pod,
                    config: Some(config),
                    sandbox_config: Some(pod_config),
                })
                .await
                .map_err(|e| format!("CreateContainer ({h}): {}", st(e)))?
                .into_inner()
                .container_id;
            self.rt
                .start_container(StartContainerRequest {
                    container_id: id.clone(),
                })
                .await
                .map_err(|e| format!("StartContainer ({h}): {}", st(e)))?;
            ids.push(id);
        }
        Ok(ids)
    }

    async fn exec_sync_pairs(&mut self, rng: &mut Rng) -> Result<(), String> {
        let ids = self.exec_targets().await?;
        let handlers = self.a.handlers.clone();
        for i in 0..self.a.pairs {
            for h in rng.order(&handlers) {
                let id = &ids[usize::from(h != handlers[0])];
                let t0 = Instant::now();
                let r = self
                    .rt
                    .exec_sync(ExecSyncRequest {
                        container_id: id.clone(),
                        cmd: vec!["/bin/true".into()],
                        timeout: 20,
                    })
                    .await
                    .map_err(|e| format!("ExecSync ({h}): {}", st(e)))?
                    .into_inner();
                let dt = t0.elapsed();
                if r.exit_code != 0 {
                    return Err(format!(
                        "ExecSync ({h}) of /bin/true exited {}: {}",
                        r.exit_code,
                        String::from_utf8_lossy(&r.stderr).trim()
                    ));
                }
                println!("sample exec-sync {i} {h} {:.6}", dt.as_secs_f64());
            }
        }
        Ok(())
    }

    /// Stops and removes every pod left (their containers go with them).
    async fn cleanup(&mut self) -> Result<(), String> {
        let mut first_err = Ok(());
        for id in self.pods.clone() {
            if let Err(e) = self.remove_pod(&id).await {
                eprintln!("cri-client bench: cleanup: {e}");
                first_err = first_err.and(Err(e));
            }
        }
        first_err
    }
}

async fn run(a: Args) -> Result<(), String> {
    let ch = channel(&a.c.socket).await?;
    let mut rng = Rng(a.seed.max(1));
    let mut b = Bench {
        rt: RuntimeServiceClient::new(ch),
        a,
        pods: Vec::new(),
    };
    let r = async {
        b.pod_sandbox_pairs(&mut rng).await?;
        b.exec_sync_pairs(&mut rng).await
    }
    .await;
    let c = b.cleanup().await;
    r.and(c)
}

pub fn main() -> i32 {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cri-client bench: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cri-client bench: tokio: {e}");
            return 2;
        }
    };
    match rt.block_on(run(a)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cri-client bench: {e}");
            1
        }
    }
}
