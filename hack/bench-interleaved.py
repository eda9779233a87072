#!/usr/bin/env python3
"""Interleaved start-up benchmark (docs/benchmarks.md, "Interleaved ratios").

hyperfine runs every run of one command, then every run of the next, so load that comes and goes
on a shared machine lands on one runtime. Here each workload is timed in PAIRS: strata, then its
peer, or the other way round (the order within a pair is random), PAIRS times. The ratio is taken
pair by pair and the median of those ratios is quoted, so drift slower than one pair cancels out.
Each run is timed by wall clock and by CPU (user+sys of the process and its waited-for children,
from wait4's rusage). Every --root is on a tmpfs in a private mount namespace.

Row groups (--only G[,G...]; default: all but systemd): run, state, list, tty, rootless, resources,
cri (containerd's CRI, two runtime handlers), hangs (foreground loops, plain and terminal), systemd
(only in the systemd guest: make bench-systemd).

Needs root. Env: STRATA=path PAIRS=41 N_LIST=1000 ROOTLESS_USER=cloudsdk SEED=1 CRI_CLIENT=path
HANG_RUNS=10000 HANG_PEER_RUNS=1000 HANG_TIMEOUT=10 (HOST_LOAD: a VM host's load, for the footer). Writes a markdown table to stdout (and to
--markdown FILE).
"""
import json
import os
import pwd
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the repo (the guest of bench-systemd shares it)
sys.path.insert(0, f"{REPO}/hack/lib")
from benchtime import DEVNULL, hang_loop, log, pairs, sh, timed  # noqa: E402

CTL = "/sys/fs/cgroup/unified/cgroup.controllers"
GROUPS = ["run", "state", "list", "tty", "rootless", "resources", "cri", "hangs", "systemd"]


def reexec_in_namespace():
    """crun 1.8.1 refuses this hybrid host while the cgroup2 mount lists a controller, so the
    benchmark runs in a private mount namespace where that file reads empty (the host is unchanged)."""
    if os.environ.get("BENCH_NS"):
        return
    os.environ["BENCH_NS"] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable] + sys.argv)


def parse_args():
    md_out, only = None, [g for g in GROUPS if g != "systemd"]
    args = sys.argv[1:]
    while args:
        if args[0] == "--markdown" and len(args) > 1:
            md_out, args = os.path.abspath(args[1]), args[2:]
        elif args[0] == "--only" and len(args) > 1:
            only, args = args[1].split(","), args[2:]
            bad = [g for g in only if g not in GROUPS]
            if bad:
                raise SystemExit(f"bench-interleaved: unknown group {bad}; groups: {','.join(GROUPS)}")
        else:
            raise SystemExit(f"usage: bench-interleaved.py [--markdown FILE] [--only {','.join(GROUPS)}]")
    return md_out, only


class Table:
    """The rows of the one markdown table: ratio rows, resource rows, hang rows."""

    def __init__(self):
        self.lines, self.notes = [], []

    def ratio(self, label, res, tgt, cpu=False):
        """A ratio row; tgt None for a side-by-side row the issue sets no target for."""
        want = "–" if tgt is None else f"≤ {tgt}"
        if res is None:
            self.lines.append(f"| {label} | skipped | | {want} | – | | |")
            return
        v = res["cpu"] if cpu else res["wall"]
        a, b = (res["ca"], res["cb"]) if cpu else (res["wa"], res["wb"])
        iqr = "" if cpu else f"{res['q1']:.2f}–{res['q3']:.2f}"
        met = "–" if tgt is None else ("yes" if v <= tgt else "**no**")
        self.lines.append(f"| {label} | {v:.2f} | {iqr} | {want} | {met} | {a*1e3:.2f} ms | {b*1e3:.2f} ms |")

    def resource(self, label, v, lim, unit):
        self.lines.append(f"| {label} | {v:.2f} {unit} | | ≤ {lim} {unit} | {'yes' if v <= lim else '**no**'} | | |")

    def hangs(self, label, strata, peers):
        def cell(r):
            h, e, runs, _ = r
            return f"{h} of {runs}" + (f" ({e} failed)" if e else "")

        peer = ", ".join(f"{n} {cell(r)}" for n, r in peers.items())
        self.lines.append(f"| {label} | {cell(strata)} | | 0 | {'yes' if strata[0] == 0 else '**no**'} | | {peer} |")

    def text(self):
        return ["| measure (interleaved pairs, median of per-pair ratios) | ratio | IQR | target | met | strata | peer |",
                "|---|---|---|---|---|---|---|"] + self.lines


class Bench:
    def __init__(self, work, st, strata, n, rng, table):
        self.work, self.st, self.n, self.rng, self.t = work, st, n, rng, table
        self.bins = {"strata": strata, "crun": "/usr/bin/crun", "runc": "/usr/sbin/runc"}
        self.roots, self.bundles = [], {}

    def root(self, name):
        r = f"{self.st}/{name}"
        os.makedirs(r, exist_ok=True)
        if r not in self.roots:
            self.roots.append(r)
        return r

    def bundle(self, name, *extra, args=("/bin/true",)):
        if name not in self.bundles:
            d = f"{self.work}/{name}"
            sh("bash", f"{REPO}/hack/mkbundle.sh", d, "--runtime", self.bins["runc"], "--oci-version", "1.0.2", *extra,
               "--", *args, stdout=DEVNULL)
            self.bundles[name] = d
        return self.bundles[name]

    def rt(self, rt, *a):
        """argv of RUNTIME --root ROOT ARGS (the runtime's root on the tmpfs)."""
        return [self.bins[rt], "--root", self.root(rt), *a]

    def cmd(self, rt, *a, **kw):
        return lambda: (self.rt(rt, *a), kw)

    def quiet(self, *argv):
        subprocess.run(list(argv), stdout=DEVNULL, stderr=DEVNULL)

    def g_run(self):
        b = self.bundle("true")
        floor = subprocess.run(["bash", f"{REPO}/hack/floor.sh", "--out", f"{self.work}/floor"], check=True,
                               capture_output=True, text=True).stdout.strip()
        fmode = subprocess.run(["bash", f"{REPO}/hack/floor.sh", "--mode"], check=True, capture_output=True,
                               text=True).stdout.strip()
        res = pairs("run/crun", self.cmd("strata", "run", "--bundle", b, "t"), self.cmd("crun", "run", "--bundle", b, "t"),
                    self.n, self.rng)
        self.t.ratio("`run` of /bin/true ÷ crun (wall)", res, 0.45)
        res = pairs("run/floor", self.cmd("strata", "run", "--bundle", b, "t"),
                    lambda: ([floor, fmode, f"{b}/rootfs"], {}), self.n, self.rng)
        self.t.ratio("`run` ÷ floor (wall)", res, 1.1)
        self.t.ratio("CPU per `run` ÷ floor CPU", res, 1.4, cpu=True)

    def g_state(self):
        for rt in ("strata", "crun"):
            sh(*self.rt(rt, "run", "-d", "--bundle", self.bundle("sleep", args=("sleep", "100000")), "alive"),
               stdout=DEVNULL, stderr=DEVNULL)
        res = pairs("state/crun", self.cmd("strata", "state", "alive"), self.cmd("crun", "state", "alive"), self.n, self.rng)
        self.t.ratio("`state` ÷ crun (wall)", res, 0.35)
        res = pairs("exec/crun", self.cmd("strata", "exec", "alive", "/bin/true"),
                    self.cmd("crun", "exec", "alive", "/bin/true"), self.n, self.rng)
        self.t.ratio("`exec` ÷ crun (wall)", res, 0.4)
        for rt in ("strata", "crun"):
            self.quiet(*self.rt(rt, "delete", "-f", "alive"))

    def g_list(self):
        n_list = int(os.environ.get("N_LIST", "1000"))
        log(f"creating {n_list} stopped containers per runtime, plus one running, for list")
        for rt in ("strata", "crun"):
            sh(*self.rt(rt, "run", "-d", "--bundle", self.bundle("sleep", args=("sleep", "100000")), "alive"),
               stdout=DEVNULL, stderr=DEVNULL)
            for i in range(n_list):
                sh(*self.rt(rt, "run", "-d", "--bundle", self.bundle("true"), f"c{i}"), stdout=DEVNULL, stderr=DEVNULL)
        res = pairs(f"list{n_list}/crun", self.cmd("strata", "list"), self.cmd("crun", "list"), max(11, self.n // 2), self.rng)
        self.t.ratio(f"`list` with {n_list} containers ÷ crun (wall; {max(11, self.n // 2)} pairs)", res, 0.5)
        for rt in ("strata", "crun"):  # free the tmpfs and the processes before the next rows
            self.quiet(*self.rt(rt, "delete", "-f", "alive"))
            for i in range(n_list):
                self.quiet(*self.rt(rt, "delete", "-f", f"c{i}"))

    def g_tty(self):
        """Foreground run with a pty relay, the tool's pty as the caller's terminal."""
        b = self.bundle("tty", "--terminal")
        res = pairs("run-tty/runc", self.cmd("strata", "run", "--bundle", b, "tty", tty=True),
                    self.cmd("runc", "run", "--bundle", b, "tty", tty=True), self.n, self.rng)
        self.t.ratio("`run` of a terminal config ÷ runc (wall)", res, 0.3)

    def g_rootless(self):
        """As a non-root user, each runtime's own rootless spec: strata against crun (the
        target) and against runc (side by side)."""
        user = os.environ.get("ROOTLESS_USER", "cloudsdk")
        try:
            pw = pwd.getpwnam(user)
            uid = (pw.pw_uid, pw.pw_gid)
            rl = {}
            for rt in ("strata", "crun", "runc"):
                b = self.bins[rt]
                d = f"{self.work}/rootless-{rt}"
                shutil.copytree(f"{self.bundle('true')}/rootfs", f"{d}/rootfs", symlinks=True)
                os.chown(d, *uid)
                # as the user: the spec maps the caller's own uid/gid
                sh(b, "spec", "--rootless", cwd=d, user=uid[0], group=uid[1], extra_groups=[])
                sh("sed", "-i", 's|"sh"|"/bin/true"|; s|"terminal": true|"terminal": false|', f"{d}/config.json")
                r = self.root(f"rootless-{rt}")
                os.chown(r, *uid)
                rl[rt] = (b, r, d)
                argv = [b, "--root", r, "run", "--bundle", d, "probe"]
                _, _, code, _ = timed(argv, uid=uid, timeout=60)
                if code != 0:
                    err = subprocess.run(argv, capture_output=True, text=True, user=uid[0], group=uid[1]).stderr
                    raise RuntimeError(f"{rt} rootless run exited {code}: {err.strip().splitlines()[-1:]}")

            def rl_cmd(rt):
                b, r, d = rl[rt]
                return lambda: ([b, "--root", r, "run", "--bundle", d, "t"], {"uid": uid})

            res = pairs("rootless/crun", rl_cmd("strata"), rl_cmd("crun"), self.n, self.rng)
            self.t.ratio(f"rootless `run` ÷ crun rootless (wall, as {user})", res, 0.7)
            res = pairs("rootless/runc", rl_cmd("strata"), rl_cmd("runc"), self.n, self.rng)
            self.t.ratio(f"rootless `run` ÷ runc rootless (wall, as {user})", res, None)
        except (KeyError, RuntimeError, subprocess.CalledProcessError) as e:
            self.t.ratio("rootless `run` ÷ crun rootless", None, 0.7)
            self.t.ratio("rootless `run` ÷ runc rootless", None, None)
            self.t.notes.append(f"rootless row skipped: {e}")

    def g_resources(self):
        strata, r, b_true = self.bins["strata"], self.root("strata"), self.bundle("true")
        stripped = f"{self.work}/strata-stripped"
        sh("strip", "-o", stripped, strata)
        # GNU time, not this Python process: a forked child's ru_maxrss keeps its pre-exec high-water mark
        rss = statistics.median(int(subprocess.run(
            ["/usr/bin/time", "-f", "%M", strata, "--root", r, "run", "--bundle", b_true, "t"],
            capture_output=True, text=True).stderr.split()[-1]) for _ in range(5))
        sh(strata, "--root", r, "create", "--bundle", self.bundle("sleep", args=("sleep", "100000")), "wait",
           stdout=DEVNULL, stderr=DEVNULL)
        pid = json.loads(subprocess.run([strata, "--root", r, "state", "wait"], check=True,
                                        capture_output=True, text=True).stdout)["pid"]
        pss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/smaps_rollup") if l.startswith("Pss:"))
        sh(strata, "--root", r, "delete", "-f", "wait")
        subprocess.run(["strace", "-f", "-c", "-e", "trace=execve,execveat", "-o", f"{self.work}/strace",
                        strata, "--root", r, "run", "--bundle", b_true, "t"], capture_output=True)
        execs = sum(int(l.split()[3]) for l in open(f"{self.work}/strace")
                    if l.split()[-1:] in (["execve"], ["execveat"]) and len(l.split()) >= 5)
        self.t.resource("stripped binary size", os.path.getsize(stripped) / 1e6, 3, "MB")
        self.t.resource("peak RSS of `run`", rss / 1024, 4, "MiB")
        self.t.resource("PSS of the waiting container (created)", pss, 512, "KiB")
        self.t.resource("execve per `run` (payload included)", execs, 2, "")

    def g_cri(self):
        import benchcri

        client = os.environ.get("CRI_CLIENT", f"{REPO}/runtime-tests/cri-client/target/release/cri-client")

        def skipped(why):
            for label, tgt in (("RunPodSandbox", 0.6), ("ExecSync", 0.3)):
                self.t.ratio(f"CRI: {label} ÷ runc handler", None, tgt)
            self.t.notes.append(f"CRI rows skipped: {why}")

        if not os.access(client, os.X_OK) or not shutil.which("containerd"):
            return skipped(f"needs containerd and {client} (make build-cri)")
        try:
            res = benchcri.rows(self.work, f"{self.bundle('true')}/rootfs",
                                {"strata": self.bins["strata"], "runc": self.bins["runc"]}, client, self.n,
                                self.rng.randrange(1, 2**32))
        except (RuntimeError, subprocess.SubprocessError, KeyError) as e:
            log(f"cri: {e}")
            return skipped(str(e))
        self.t.ratio("CRI: RunPodSandbox → ready ÷ runc handler (wall, containerd)", res["run-pod-sandbox"], 0.6)
        self.t.ratio("CRI: ExecSync of /bin/true ÷ runc handler (wall, containerd)", res["exec-sync"], 0.3)
        self.t.notes.append("CRI rows: one containerd (Debian's 1.6) with its CRI plugin and two runc-v2 handlers, "
                            "strata and runc; host-network pods, driven by runtime-tests/cri-client (`cri-client bench`); "
                            "the pod is ready when PodSandboxStatus says so; wall only (the CPU is containerd's, "
                            "the shim's and the runtime's)")

    def g_hangs(self):
        runs = int(os.environ.get("HANG_RUNS", "10000"))
        peer_runs = int(os.environ.get("HANG_PEER_RUNS", "1000"))
        timeout = float(os.environ.get("HANG_TIMEOUT", "10"))
        for kind, tty, b in (("plain", False, self.bundle("true")), ("terminal", True, self.bundle("tty", "--terminal"))):
            out = {}
            for rt in ("strata", "crun", "runc"):
                count = runs if rt == "strata" else peer_runs
                log(f"hangs: {count} {kind} foreground runs of {rt}, two loops at once, {timeout:g} s timeout each")
                out[rt] = hang_loop(lambda w: self.rt(rt, "run", "--bundle", b, f"hang{w}"), count, timeout, tty=tty,
                                    after_failure=lambda w: self.quiet(*self.rt(rt, "delete", "-f", f"hang{w}")))
                log(f"hangs: {rt} {kind}: {out[rt][0]} hangs, {out[rt][1]} errors in {out[rt][3]:.0f} s")
            self.t.hangs(f"hangs in foreground `run`s of /bin/true, {kind}", out["strata"],
                         {k: v for k, v in out.items() if k != "strata"})
        self.t.notes.append(f"hangs: `run` of /bin/true in two loops at once, each run killed after {timeout:g} s "
                            "(a hang); terminal: a `terminal: true` bundle, each run with a new pty as its "
                            "controlling terminal (the runtime relays it)")

    def g_systemd(self):
        """create + delete with --systemd-cgroup, cgroupsPath system.slice:bench:ID (a scope unit per
        container), strata against runc; only where systemd is pid 1 (the systemd guest)."""
        if open("/proc/1/comm").read().strip() != "systemd":
            raise SystemExit("bench-interleaved: the systemd rows need systemd as pid 1 (make bench-systemd)")
        # the guest's boot goal is its serial getty alone (hack/cgroupv2-vm.sh --systemd): start the bus
        sh("systemctl", "start", "dbus.socket", "dbus.service")
        seq = {"strata": 0, "runc": 0}

        def side(rt):
            d = f"{self.work}/sd-{rt}"
            if not os.path.isdir(d):
                shutil.copytree(self.bundle("sleep", args=("sleep", "100000")), d, symlinks=True)

            def steps():
                seq[rt] += 1
                cid = f"{rt}-{seq[rt]}"
                cfg = json.load(open(f"{d}/config.json"))
                cfg["linux"]["cgroupsPath"] = f"system.slice:bench:{cid}"
                json.dump(cfg, open(f"{d}/config.json", "w"))
                sd = [self.bins[rt], "--systemd-cgroup", "--root", self.root(f"sd-{rt}")]
                return [(sd + ["create", "--bundle", d, cid], {}), (sd + ["delete", "-f", cid], {})]

            return steps

        res = pairs("systemd/runc", side("strata"), side("runc"), self.n, self.rng)
        self.t.ratio("systemd driver `create` ÷ runc (wall, TCG guest)", res["steps"][0], 0.5)
        self.t.ratio("systemd driver `create` + `delete` ÷ runc (wall, TCG guest)", res, 0.5)
        left = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "bench-*.scope"],
                              capture_output=True, text=True).stdout.strip()
        self.t.notes.append("systemd rows: `--systemd-cgroup create` of a `sleep` bundle with cgroupsPath "
                            "`system.slice:bench:ID` (the unit bench-ID.scope) and `delete -f`, each timed, in a "
                            "TCG-emulated guest booting systemd (hack/cgroupv2-vm.sh --systemd): its absolute times "
                            "mean nothing, only the ratio" + (f"; units left: {left}" if left else "; no unit left"))


def main():
    md_out, only = parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench-interleaved: must run as root")
    reexec_in_namespace()
    n = int(os.environ.get("PAIRS", "41"))
    rng = random.Random(int(os.environ.get("SEED", "1")))
    strata_src = os.environ.get("STRATA", f"{REPO}/target/x86_64-unknown-linux-gnu/release/strata")
    load0 = open("/proc/loadavg").read().split()[:3]
    started = time.monotonic()

    work = tempfile.mkdtemp(prefix="strata-bench-il.")
    os.chmod(work, 0o755)
    st = f"{work}/state"
    os.mkdir(st)
    sh("mount", "-t", "tmpfs", "-o", "mode=755,size=1g", "strata-bench-il", st)
    if os.path.exists(CTL) and open(CTL).read().strip():
        sh("mount", "--bind", "/dev/null", CTL)
    strata = f"{work}/strata"  # a snapshot: a rebuild during the run changes nothing
    shutil.copy2(strata_src, strata)
    table = Table()
    b = Bench(work, st, strata, n, rng, table)
    try:
        for g in GROUPS:
            if g in only:
                getattr(b, f"g_{g}")()
    finally:
        for r in b.roots:
            name = os.path.basename(r)
            rt = next(k for k in ("strata", "crun", "runc") if k in name)
            sd = ["--systemd-cgroup"] if name.startswith("sd-") else []
            ids = subprocess.run([b.bins[rt], *sd, "--root", r, "list", "-q"], capture_output=True, text=True).stdout.split()
            for i in ids:
                b.quiet(b.bins[rt], *sd, "--root", r, "delete", "-f", i)
        subprocess.run(["umount", "-l", st])
        shutil.rmtree(work, ignore_errors=True)

    load1 = open("/proc/loadavg").read().split()[:3]
    git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    timed_pairs = (f"{n} pairs per row" + (f" (list: {max(11, n // 2)})" if "list" in only else "")
                   + ", order within a pair random; ") if set(only) - {"resources", "hangs"} else ""
    lines = table.text() + ["", f"{timed_pairs}groups {','.join(g for g in GROUPS if g in only)}; "
                            f"strata git {git}; load average "
                            f"{' '.join(load0)} at the start, {' '.join(load1)} at the end; "
                            f"{time.monotonic() - started:.0f} s"
                            + (f"; the host's load average {os.environ['HOST_LOAD']} when the guest was started."
                               if os.environ.get("HOST_LOAD") else ".")] + [f"- {x}" for x in table.notes]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if md_out:
        os.makedirs(os.path.dirname(md_out), exist_ok=True)
        open(md_out, "w").write(text)


if __name__ == "__main__":
    main()
