//! A test-only CRI client. Debian packages no crictl, so this drives containerd's CRI plugin
//! the way kubelet does, one pod with one container, and prints `ok STEP` or
//! `FAILED STEP: reason` per check (hack/integration.sh counts them).
//!
//!   cri-client --socket PATH --image REF --cgroup-parent /P --log-dir DIR [--name N]
//!   cri-client bench ... (bench.rs: interleaved timings for hack/bench-interleaved.py)
//!
//! The pod uses the host's network (no CNI on the test host). Every object it makes is
//! removed at the end, also after a failed step; hack/integration.sh checks for leftovers.
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
mod bench;
mod cri;

use cri::{channel, host_network_pod, st, Common};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

type Args = Common;

fn parse_args() -> Result<Args, String> {
    let mut a = Common::new("cri");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        if !a.take(&flag, v) {
            return Err(format!("unknown flag {flag}"));
        }
    }
    if !a.complete() {
        return Err("usage: cri-client --socket PATH --image REF --cgroup-parent /P --log-dir DIR [--name N]".into());
    }
    Ok(a)
}

/// Counts and prints the checks.
#[derive(Default)]
struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn check(&mut self, step: &str, r: Result<(), String>) -> bool {
        match r {
            Ok(()) => {
                println!("ok cri-{step}");
                self.passed += 1;
                true
            }
            Err(e) => {
                println!("FAILED cri-{step}: {}", e.replace('\n', " "));
                self.failed += 1;
                false
            }
        }
    }
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, want: T, got: T) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!("{what}: want {want:?}, got {got:?}"))
    }
}

struct Cri {
    rt: RuntimeServiceClient<Channel>,
}

impl Cri {
    async fn exec(&mut self, id: &str, cmd: &[&str]) -> Result<ExecSyncResponse, String> {
        let r = self
            .rt
            .exec_sync(ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 20,
            })
            .await
            .map_err(st)?;
        Ok(r.into_inner())
    }

    /// The container's memory limit as read inside it (v2 memory.max, else v1's file).
    async fn memory_limit(&mut self, id: &str) -> Result<String, String> {
        let script = "cat /sys/fs/cgroup/memory.max 2>/dev/null || \
                      cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
        let r = self.exec(id, &["sh", "-c", script]).await?;
        Ok(String::from_utf8_lossy(&r.stdout).trim().to_string())
    }

    async fn container_state(&mut self, id: &str) -> Result<i32, String> {
        let r = self
            .rt
            .container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            })
            .await
            .map_err(st)?;
        r.into_inner()
            .status
            .map(|s| s.state)
            .ok_or_else(|| "no status".into())
    }
}

fn resources(memory: i64) -> LinuxContainerResources {
    LinuxContainerResources {
        cpu_period: 100_000,
        cpu_quota: 50_000,
        memory_limit_in_bytes: memory,
        ..Default::default()
    }
}

const MIB: i64 = 1024 * 1024;

async fn scenario(a: &Args, rep: &mut Report) -> Result<(), String> {
    let ch = channel(&a.socket).await?;
    let mut cri = Cri {
        rt: RuntimeServiceClient::new(ch.clone()),
    };
    let mut img = ImageServiceClient::new(ch);

    let v = cri
        .rt
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await
        .map_err(st);
    rep.check(
        "version",
        v.and_then(|v| {
            expect(
                "runtime_api_version",
                "v1",
                &v.into_inner().runtime_api_version,
            )
        }),
    );

    let present = img
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: a.image.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .map_err(st)
        .map(|r| r.into_inner().image.is_some());
    if !rep.check(
        "image-present",
        present.and_then(|p| expect("image known", true, p)),
    ) {
        return Ok(());
    }

    let pod_config = host_network_pod(&a.name, &a.log_dir, &a.cgroup_parent);
    let t0 = Instant::now();
    let pod = cri
        .rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .map_err(st)
        .map(|r| r.into_inner().pod_sandbox_id);
    let pod_id = match pod {
        Ok(id) => {
            println!("# RunPodSandbox {} ms", t0.elapsed().as_millis());
            rep.check("run-pod-sandbox", Ok(()));
            id
        }
        Err(e) => {
            rep.check("run-pod-sandbox", Err(e));
            return Ok(());
        }
    };

    let r = containers(a, &mut cri, &pod_id, &pod_config, rep).await;
    if let Err(e) = r {
        rep.check("container-steps", Err(e));
    }

    let stop = cri
        .rt
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await
        .map_err(st)
        .map(|_| ());
    rep.check("stop-pod-sandbox", stop);
    let rm = cri
        .rt
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod_id,
        })
        .await
        .map_err(st)
        .map(|_| ());
    rep.check("remove-pod-sandbox", rm);
    Ok(())
}

async fn containers(
    a: &Args,
    cri: &mut Cri,
    pod_id: &str,
    pod_config: &PodSandboxConfig,
    rep: &mut Report,
) -> Result<(), String> {
    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "sleeper".into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: a.image.clone(),
            ..Default::default()
        }),
        command: vec!["sleep".into(), "1000".into()],
        log_path: "sleeper.log".into(),
        linux: Some(LinuxContainerConfig {
            resources: Some(resources(64 * MIB)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = cri
        .rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod_id.into(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        })
        .await
        .map_err(st)?
        .into_inner()
        .container_id;
    rep.check("create-container", Ok(()));

    let steps = container_steps(cri, &id, rep).await;
    if let Err(e) = steps {
        rep.check("container-lifecycle", Err(e));
    }
    let rm = cri
        .rt
        .remove_container(RemoveContainerRequest {
            container_id: id.clone(),
        })
        .await
        .map_err(st)
        .map(|_| ());
    rep.check("remove-container", rm);
    Ok(())
}

async fn container_steps(cri: &mut Cri, id: &str, rep: &mut Report) -> Result<(), String> {
    cri.rt
        .start_container(StartContainerRequest {
            container_id: id.into(),
        })
        .await
        .map_err(st)?;
    rep.check("start-container", Ok(()));
    let state = cri.container_state(id).await;
    rep.check(
        "container-status-running",
        state.and_then(|s| expect("state", ContainerState::ContainerRunning as i32, s)),
    );

    let t0 = Instant::now();
    let r = cri
        .exec(id, &["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await;
    let dt = t0.elapsed();
    rep.check(
        "exec-sync",
        r.and_then(|r| {
            println!("# ExecSync {} ms", dt.as_millis());
            expect("stdout", "out\n", &*String::from_utf8_lossy(&r.stdout))?;
            expect("stderr", "err\n", &*String::from_utf8_lossy(&r.stderr))?;
            expect("exit code", 3, r.exit_code)
        }),
    );

    let lim = cri.memory_limit(id).await;
    rep.check(
        "memory-limit-inside",
        lim.and_then(|l| expect("memory limit", (64 * MIB).to_string(), l)),
    );

    let up = cri
        .rt
        .update_container_resources(UpdateContainerResourcesRequest {
            container_id: id.into(),
            linux: Some(resources(128 * MIB)),
            ..Default::default()
        })
        .await
        .map_err(st);
    let up = match up {
        Ok(_) => cri
            .memory_limit(id)
            .await
            .and_then(|l| expect("memory limit after update", (128 * MIB).to_string(), l)),
        Err(e) => Err(e),
    };
    rep.check("update-container-resources", up);

    let stats = cri
        .rt
        .container_stats(ContainerStatsRequest {
            container_id: id.into(),
        })
        .await
        .map_err(st)
        .and_then(|r| {
            let s = r.into_inner().stats.ok_or("no stats")?;
            let mem = s.memory.and_then(|m| m.working_set_bytes).map(|v| v.value);
            match mem {
                Some(v) if v > 0 => Ok(()),
                other => Err(format!("memory working set: {other:?}")),
            }
        });
    rep.check("container-stats", stats);

    cri.rt
        .stop_container(StopContainerRequest {
            container_id: id.into(),
            timeout: 2,
        })
        .await
        .map_err(st)?;
    // sleep ignores SIGTERM as pid 1, so this also covers the SIGKILL after the timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut state = cri.container_state(id).await;
    while matches!(state, Ok(s) if s != ContainerState::ContainerExited as i32)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = cri.container_state(id).await;
    }
    rep.check(
        "stop-container",
        state.and_then(|s| expect("state", ContainerState::ContainerExited as i32, s)),
    );
    Ok(())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("bench") {
        std::process::exit(bench::main());
    }
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cri-client: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cri-client: tokio: {e}");
            std::process::exit(2);
        }
    };
    let mut rep = Report::default();
    if let Err(e) = rt.block_on(scenario(&a, &mut rep)) {
        rep.check("connect", Err(e));
    }
    println!("# cri: {} passed, {} failed", rep.passed, rep.failed);
    std::process::exit(if rep.failed == 0 { 0 } else { 1 });
}
