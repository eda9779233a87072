#!/usr/bin/env python3
"""Interleaved start-up benchmark (docs/benchmarks.md, "Interleaved ratios").

hyperfine runs every run of one command, then every run of the next, so load that comes and goes
on a shared machine lands on one runtime. Here each workload is timed in PAIRS: strata, then its
peer, or the other way round (the order within a pair is random), PAIRS times. The ratio is taken
pair by pair and the median of those ratios is quoted, so drift slower than one pair cancels out.
Each run is timed by wall clock and by CPU (user+sys of the process and its waited-for children,
from wait4's rusage). Every --root is on a tmpfs in a private mount namespace.

Needs root. Env: STRATA=path PAIRS=41 N_LIST=1000 ROOTLESS_USER=cloudsdk FLOOR_C=path SEED=1
Writes a markdown table to stdout (and to --markdown FILE).
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTL = "/sys/fs/cgroup/unified/cgroup.controllers"
DEVNULL = os.open(os.devnull, os.O_RDWR)


def log(*a):
    print("bench-interleaved:", *a, file=sys.stderr, flush=True)


def reexec_in_namespace():
    """crun 1.8.1 refuses this hybrid host while the cgroup2 mount lists a controller, so the
    benchmark runs in a private mount namespace where that file reads empty (the host is unchanged)."""
    if os.environ.get("BENCH_NS"):
        return
    os.environ["BENCH_NS"] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable] + sys.argv)


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, **kw)


def timed(argv, uid=None, tty=False):
    """Run argv once; return (wall s, cpu s, exit code, maxrss KiB). CPU is user+sys of the child
    and of every descendant it waited for (wait4 rusage)."""
    master = None
    if tty:
        master, slave = os.openpty()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if tty:
                os.setsid()
                import fcntl
                import termios

                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
            else:
                for fd in (0, 1, 2):
                    os.dup2(DEVNULL, fd)
            if uid is not None:
                os.setgroups([])
                os.setgid(uid[1])
                os.setuid(uid[0])
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    drain = None
    if tty:
        os.close(slave)

        def read_all():
            try:
                while os.read(master, 4096):
                    pass
            except OSError:
                pass

        drain = threading.Thread(target=read_all, daemon=True)
        drain.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if drain:
        drain.join(1)
        os.close(master)
    return wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status), ru.ru_maxrss


def pairs(name, a, b, n, rng, before=None):
    """a, b: functions returning argv (fresh per call). Median of per-pair wall and CPU ratios."""
    rw, rc, wa, wb, ca, cb = [], [], [], [], [], []
    for i in range(n + 2):  # two warm-up pairs
        res = {}
        for side in rng.sample(["a", "b"], 2):
            f = a if side == "a" else b
            if before:
                before(side)
            argv, kw = f()
            w, c, rc_, _ = timed(argv, **kw)
            if rc_ != 0:
                raise SystemExit(f"{name}: {side} {' '.join(argv)} exited {rc_}")
            res[side] = (w, c)
        if i < 2:
            continue
        rw.append(res["a"][0] / res["b"][0])
        rc.append(res["a"][1] / res["b"][1] if res["b"][1] > 0 else float("nan"))
        wa.append(res["a"][0])
        wb.append(res["b"][0])
        ca.append(res["a"][1])
        cb.append(res["b"][1])
    med = statistics.median
    rcv = [x for x in rc if x == x]
    log(f"{name}: wall ratio {med(rw):.3f} (a {med(wa)*1e3:.2f} ms, b {med(wb)*1e3:.2f} ms), "
        f"cpu a {med(ca)*1e3:.2f} ms b {med(cb)*1e3:.2f} ms")
    return {
        "wall": med(rw), "cpu": med(rcv) if rcv else float("nan"),
        "wa": med(wa), "wb": med(wb), "ca": med(ca), "cb": med(cb),
        "q1": statistics.quantiles(rw, n=4)[0], "q3": statistics.quantiles(rw, n=4)[2],
    }


def main():
    md_out = None
    args = sys.argv[1:]
    if args[:1] == ["--markdown"] and len(args) == 2:
        md_out = os.path.abspath(args[1])
    elif args:
        raise SystemExit("usage: bench-interleaved.py [--markdown FILE]")
    if os.geteuid() != 0:
        raise SystemExit("bench-interleaved: must run as root")
    reexec_in_namespace()
    n = int(os.environ.get("PAIRS", "41"))
    n_list = int(os.environ.get("N_LIST", "1000"))
    rng = random.Random(int(os.environ.get("SEED", "1")))
    strata_src = os.environ.get("STRATA", f"{REPO}/target/x86_64-unknown-linux-gnu/release/strata")
    crun, runc = "/usr/bin/crun", "/usr/sbin/runc"
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
    roots = []

    def root(name):
        r = f"{st}/{name}"
        os.makedirs(r, exist_ok=True)
        roots.append(r)
        return r

    def bundle(name, *extra, args=("/bin/true",), rt=runc):
        d = f"{work}/{name}"
        sh("bash", f"{REPO}/hack/mkbundle.sh", d, "--runtime", rt, "--oci-version", "1.0.2", *extra, "--", *args,
           stdout=DEVNULL)
        return d

    rows, notes = [], []
    try:
        b_true = bundle("true")
        b_sleep = bundle("sleep", args=("sleep", "100000"))
        b_tty = bundle("tty", "--terminal")
        floor = subprocess.run(["bash", f"{REPO}/hack/floor.sh", "--out", f"{work}/floor"], check=True,
                               capture_output=True, text=True).stdout.strip()
        fmode = subprocess.run(["bash", f"{REPO}/hack/floor.sh", "--mode"], check=True, capture_output=True,
                               text=True).stdout.strip()
        R = {"strata": (strata, root("strata")), "crun": (crun, root("crun")), "runc": (runc, root("runc"))}

        def cmd(rt, *a):
            b, r = R[rt]
            return lambda: ([b, "--root", r, *a], {})

        # 1. run of /bin/true: strata vs crun, vs floor
        res = pairs("run/crun", cmd("strata", "run", "--bundle", b_true, "t"), cmd("crun", "run", "--bundle", b_true, "t"), n, rng)
        rows.append(("`run` of /bin/true ÷ crun (wall)", res["wall"], 0.45, res))
        res = pairs("run/floor", cmd("strata", "run", "--bundle", b_true, "t"),
                    lambda: ([floor, fmode, f"{b_true}/rootfs"], {}), n, rng)
        rows.append(("`run` ÷ floor (wall)", res["wall"], 1.1, res))
        rows.append(("CPU per `run` ÷ floor CPU", res["cpu"], 1.4, res))

        # 2. state and exec on a running container, list with N_LIST stopped ones (+1 running)
        for rt in ("strata", "crun"):
            b, r = R[rt]
            sh(b, "--root", r, "run", "-d", "--bundle", b_sleep, "alive", stdout=DEVNULL, stderr=DEVNULL)
        res = pairs("state/crun", cmd("strata", "state", "alive"), cmd("crun", "state", "alive"), n, rng)
        rows.append(("`state` ÷ crun (wall)", res["wall"], 0.35, res))
        res = pairs("exec/crun", cmd("strata", "exec", "alive", "/bin/true"), cmd("crun", "exec", "alive", "/bin/true"), n, rng)
        rows.append(("`exec` ÷ crun (wall)", res["wall"], 0.4, res))
        log(f"creating {n_list} stopped containers per runtime for list")
        for rt in ("strata", "crun"):
            b, r = R[rt]
            for i in range(n_list):
                sh(b, "--root", r, "run", "-d", "--bundle", b_true, f"c{i}", stdout=DEVNULL, stderr=DEVNULL)
        res = pairs(f"list{n_list}/crun", cmd("strata", "list"), cmd("crun", "list"), max(11, n // 2), rng)
        rows.append((f"`list` with {n_list} containers ÷ crun (wall)", res["wall"], 0.5, res))
        for rt in ("strata", "crun"):  # free the tmpfs and the processes before the next rows
            b, r = R[rt]
            sh(b, "--root", r, "delete", "-f", "alive", stdout=DEVNULL, stderr=DEVNULL)
            for i in range(n_list):
                subprocess.run([b, "--root", r, "delete", "-f", f"c{i}"], stdout=DEVNULL, stderr=DEVNULL)

        # 3. terminal: foreground run with a pty relay, the tool's pty as the caller's terminal
        def tty_cmd(rt):
            b, r = R[rt]
            return lambda: ([b, "--root", r, "run", "--bundle", b_tty, "tty"], {"tty": True})

        res = pairs("run-tty/runc", tty_cmd("strata"), tty_cmd("runc"), n, rng)
        rows.append(("`run` of a terminal config ÷ runc (wall)", res["wall"], 0.3, res))

        # 4. rootless: as a non-root user, both runtimes' own rootless specs
        user = os.environ.get("ROOTLESS_USER", "cloudsdk")
        try:
            import pwd

            pw = pwd.getpwnam(user)
            uid = (pw.pw_uid, pw.pw_gid)
            rl = {}
            for rt, b in (("strata", strata), ("crun", crun)):
                d = f"{work}/rootless-{rt}"
                shutil.copytree(f"{b_true}/rootfs", f"{d}/rootfs", symlinks=True)
                os.chown(d, *uid)
                # as the user: the spec maps the caller's own uid/gid
                sh(b, "spec", "--rootless", cwd=d, user=uid[0], group=uid[1], extra_groups=[])
                sh("sed", "-i", 's|"sh"|"/bin/true"|; s|"terminal": true|"terminal": false|', f"{d}/config.json")
                r = f"{st}/rootless-{rt}"
                os.makedirs(r)
                os.chown(r, *uid)
                rl[rt] = (b, r, d)
                argv = [b, "--root", r, "run", "--bundle", d, "probe"]
                w, c, code, _ = timed(argv, uid=uid)
                if code != 0:
                    err = subprocess.run(argv, capture_output=True, text=True, user=uid[0], group=uid[1]).stderr
                    raise RuntimeError(f"{rt} rootless run exited {code}: {err.strip().splitlines()[-1:] }")

            def rl_cmd(rt):
                b, r, d = rl[rt]
                return lambda: ([b, "--root", r, "run", "--bundle", d, "t"], {"uid": uid})

            res = pairs("rootless/crun", rl_cmd("strata"), rl_cmd("crun"), n, rng)
            rows.append((f"rootless `run` ÷ crun rootless (wall, as {user})", res["wall"], 0.7, res))
        except (KeyError, RuntimeError, subprocess.CalledProcessError) as e:
            rows.append((f"rootless `run` ÷ crun rootless", None, 0.7, None))
            notes.append(f"rootless row skipped: {e}")

        # 5. resources
        stripped = f"{work}/strata-stripped"
        sh("strip", "-o", stripped, strata)
        size = os.path.getsize(stripped)
        # GNU time, not this Python process: a forked child's ru_maxrss keeps its pre-exec high-water mark
        rss = statistics.median(int(subprocess.run(
            ["/usr/bin/time", "-f", "%M", strata, "--root", R["strata"][1], "run", "--bundle", b_true, "t"],
            capture_output=True, text=True).stderr.split()[-1]) for _ in range(5))
        sh(strata, "--root", R["strata"][1], "create", "--bundle", b_sleep, "wait", stdout=DEVNULL, stderr=DEVNULL)
        import json

        pid = json.loads(subprocess.run([strata, "--root", R["strata"][1], "state", "wait"], check=True,
                                        capture_output=True, text=True).stdout)["pid"]
        pss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/smaps_rollup") if l.startswith("Pss:"))
        sh(strata, "--root", R["strata"][1], "delete", "-f", "wait")
        out = subprocess.run(["strace", "-f", "-c", "-e", "trace=execve,execveat", "-o", f"{work}/strace",
                              strata, "--root", R["strata"][1], "run", "--bundle", b_true, "t"], capture_output=True)
        execs = sum(int(l.split()[3]) for l in open(f"{work}/strace") if l.split()[-1:] in (["execve"], ["execveat"])
                    and len(l.split()) >= 5)
        res_rows = [("stripped binary size", size / 1e6, 3, "MB"), ("peak RSS of `run`", rss / 1024, 4, "MiB"),
                    ("PSS of the waiting container (created)", pss, 512, "KiB"),
                    ("execve per `run` (payload included)", execs, 2, "")]
    finally:
        for r in roots + [f"{st}/rootless-strata", f"{st}/rootless-crun"]:
            if not os.path.isdir(r):
                continue
            b = strata if "strata" in r else crun if "crun" in r else runc
            ids = subprocess.run([b, "--root", r, "list", "-q"], capture_output=True, text=True).stdout.split()
            for i in ids:
                subprocess.run([b, "--root", r, "delete", "-f", i], stdout=DEVNULL, stderr=DEVNULL)
        subprocess.run(["umount", "-l", st])
        shutil.rmtree(work, ignore_errors=True)

    load1 = open("/proc/loadavg").read().split()[:3]
    lines = [f"| measure (interleaved pairs, median of per-pair ratios) | ratio | IQR | target | met | strata | peer |",
             "|---|---|---|---|---|---|---|"]
    for label, v, tgt, res in rows:
        if v is None:
            lines.append(f"| {label} | skipped | | ≤ {tgt} | – | | |")
            continue
        cpu = "CPU" in label
        a, b = (res["ca"], res["cb"]) if cpu else (res["wa"], res["wb"])
        iqr = "" if cpu else f"{res['q1']:.2f}–{res['q3']:.2f}"
        lines.append(f"| {label} | {v:.2f} | {iqr} | ≤ {tgt} | {'yes' if v <= tgt else '**no**'} | "
                     f"{a*1e3:.2f} ms | {b*1e3:.2f} ms |")
    for label, v, lim, unit in res_rows:
        lines.append(f"| {label} | {v:.2f} {unit} | | ≤ {lim} {unit} | {'yes' if v <= lim else '**no**'} | | |")
    git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    lines += ["", f"{n} pairs per row ({max(11, n // 2)} for list), order within a pair random; strata git {git}; "
              f"load average {' '.join(load0)} at the start, {' '.join(load1)} at the end; "
              f"{time.monotonic() - started:.0f} s."] + [f"- {x}" for x in notes]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if md_out:
        os.makedirs(os.path.dirname(md_out), exist_ok=True)
        open(md_out, "w").write(text)


if __name__ == "__main__":
    main()
