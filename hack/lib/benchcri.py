"""The CRI rows of hack/bench-interleaved.py: a private containerd with its CRI plugin and two
runtime handlers, `strata` and `runc`, driven by the test-only runtime-tests/cri-client
(`cri-client bench`: RunPodSandbox until ready, and ExecSync, in pairs of the two handlers)."""
import glob
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time

from benchtime import DEVNULL, log, ratio_stats

IMAGE = "localhost/strata-bench:latest"


def oci_archive(rootfs, out):
    """An OCI image archive of rootfs whose command sleeps for ever: the pod's sandbox ("pause")
    image and the exec target's image at once. Written here so that no image tool is needed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, name), arcname=name)
    layer = buf.getvalue()
    blobs = {}

    def blob(data, media):
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return {"mediaType": media, "digest": f"sha256:{d}", "size": len(data)}

    config = blob(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sleep", "2147483647"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
        "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar")],
    }).encode(), "application/vnd.oci.image.manifest.v1+json")
    manifest["annotations"] = {"io.containerd.image.name": IMAGE, "org.opencontainers.image.ref.name": "latest"}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
             "index.json": json.dumps({"schemaVersion": 2, "manifests": [manifest]}).encode()}
    files.update({f"blobs/sha256/{d}": data for d, data in blobs.items()})
    with tarfile.open(out, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def config_toml(d, handlers):
    rts = "".join(f"""
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{h}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{h}.options]
        BinaryName = "{binary}"
        Root = "{d}/rt-{h}"
""" for h, binary in handlers.items())
    return f"""version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/containerd.sock.debug"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  disable_apparmor = true
  # this host's bounding set lacks CAP_SYS_RESOURCE: no runtime can lower oom_score_adj to -998
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"{rts}"""


def rows(work, rootfs, handlers, client, n, seed):
    """handlers: {"strata": binary, "runc": binary}. Returns {op: ratio_stats} with strata as A."""
    d = f"{work}/cri"
    for sub in ("cni/bin", "cni/conf", "logs"):
        os.makedirs(f"{d}/{sub}")
    open(f"{d}/config.toml", "w").write(config_toml(d, handlers))
    sock = f"{d}/containerd.sock"
    ctr = ["ctr", "-a", sock, "-n", "k8s.io"]
    cgroup_parent = f"/strata-bench-cri-{os.getpid()}"
    logf = open(f"{d}/containerd.log", "w")
    ctd = subprocess.Popen(["containerd", "--config", f"{d}/config.toml"], stdout=logf, stderr=logf,
                           start_new_session=True)
    try:
        for _ in range(100):
            if subprocess.run(ctr + ["version"], stdout=DEVNULL, stderr=DEVNULL).returncode == 0:
                break
            if ctd.poll() is not None:
                raise RuntimeError(f"containerd exited {ctd.returncode}: see {d}/containerd.log")
            time.sleep(0.1)
        else:
            raise RuntimeError("containerd did not answer within 10 s")
        oci_archive(rootfs, f"{d}/image.tar")
        subprocess.run(ctr + ["image", "import", f"{d}/image.tar"], check=True, stdout=DEVNULL, timeout=120)
        log(f"cri: {n} pairs of RunPodSandbox and of ExecSync, handlers {', '.join(handlers)}")
        out = subprocess.run([client, "bench", "--socket", sock, "--image", IMAGE, "--cgroup-parent", cgroup_parent,
                              "--log-dir", f"{d}/logs", "--handlers", ",".join(handlers), "--pairs", str(n + 2),
                              "--seed", str(seed)], capture_output=True, text=True, timeout=60 + 30 * n)
        if out.returncode != 0:
            raise RuntimeError(f"cri-client bench exited {out.returncode}: {out.stderr.strip()[-300:]}")
        by = {}  # op -> pair -> handler -> seconds
        for line in out.stdout.splitlines():
            f = line.split()
            if f[:1] == ["sample"]:
                by.setdefault(f[1], {}).setdefault(int(f[2]), {})[f[3]] = float(f[4])
        if set(by) != {"run-pod-sandbox", "exec-sync"}:
            raise RuntimeError(f"cri-client bench gave samples of {sorted(by)} only")
        a, b = list(handlers)
        # CPU is spread over containerd, its shim and the runtime: wall only (cpu 1 keeps the shape)
        return {op: ratio_stats([((p[a], 1), (p[b], 1)) for i, p in sorted(pairs.items()) if i >= 2])
                for op, pairs in by.items()}
    finally:
        os.killpg(ctd.pid, signal.SIGTERM)
        try:
            ctd.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(ctd.pid, signal.SIGKILL)
            ctd.wait()
        # shims are in sessions of their own: kill those serving this socket
        for p in subprocess.run(["pgrep", "-f", f"containerd-shim-runc-v2 .*-address {sock}"],
                                capture_output=True, text=True).stdout.split():
            os.kill(int(p), signal.SIGKILL)
        for h, binary in handlers.items():
            r = f"{d}/rt-{h}/k8s.io"
            for cid in os.listdir(r) if os.path.isdir(r) else []:
                subprocess.run([binary, "--root", r, "delete", "-f", cid], stdout=DEVNULL, stderr=DEVNULL)
        for m in reversed([l.split()[1] for l in open("/proc/self/mounts") if l.split()[1].startswith(d + "/")]):
            subprocess.run(["umount", "-l", m])
        # cpu and cpuacct are links to cpu,cpuacct: each hierarchy once, deepest cgroups first
        for cg in {os.path.realpath(c) for c in glob.glob(f"/sys/fs/cgroup/*{cgroup_parent}")}:
            for sub, _, _ in sorted(os.walk(cg), key=lambda x: -len(x[0])):
                try:
                    os.rmdir(sub)
                except OSError as e:
                    log(f"cri: cannot remove cgroup {sub}: {e}")
