"""Timing for hack/bench-interleaved.py: one run (wall and wait4 CPU, with a timeout), A/B pairs
with the median of the per-pair ratios, and the hang loop."""
import fcntl
import os
import select
import signal
import statistics
import subprocess
import sys
import termios
import threading
import time

DEVNULL = os.open(os.devnull, os.O_RDWR)


def log(*a):
    print("bench-interleaved:", *a, file=sys.stderr, flush=True)


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, **kw)


def timed(argv, uid=None, tty=False, timeout=None):
    """Run argv once; return (wall s, cpu s, exit code, maxrss KiB). CPU is user+sys of the child
    and of every descendant it waited for (wait4 rusage). The forked child only calls into the
    os module (no import, no lock another thread may hold) before execv. With tty the child gets a new pty as its
    controlling terminal on 0, 1 and 2 (drained here). After timeout s the child is SIGKILLed and
    the exit code is None: a hang."""
    master = None
    if tty:
        master, slave = os.openpty()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if tty:
                os.setsid()
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
    hung = False
    if timeout is not None:
        # a pidfd turns readable when the child exits: the wait needs no polling loop
        pidfd = os.pidfd_open(pid)
        try:
            p = select.poll()
            p.register(pidfd, select.POLLIN)
            if not p.poll(timeout * 1000):
                hung = True
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(pidfd)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if drain:
        drain.join(1)
        os.close(master)
    code = None if hung else os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, code, ru.ru_maxrss


def ratio_stats(samples):
    """samples: [((wall a, cpu a), (wall b, cpu b))] per pair. Medians of the per-pair ratios
    (wall and CPU), their interquartile range, and the medians of each side."""
    med = statistics.median
    rw = [a[0] / b[0] for a, b in samples]
    rc = [a[1] / b[1] for a, b in samples if b[1] > 0]
    q = statistics.quantiles(rw, n=4) if len(rw) > 1 else [rw[0]] * 3
    return {
        "wall": med(rw), "cpu": med(rc) if rc else float("nan"),
        "wa": med(a[0] for a, _ in samples), "wb": med(b[0] for _, b in samples),
        "ca": med(a[1] for a, _ in samples), "cb": med(b[1] for _, b in samples),
        "q1": q[0], "q3": q[2], "n": len(samples),
    }


def pairs(name, a, b, n, rng, before=None):
    """a, b: functions returning (argv, kw), or a list of them to run in turn (each timed; the
    side's time is their sum). n pairs after two warm-up pairs, the order within a pair random.
    Returns ratio_stats of the sums, and with several steps "steps": ratio_stats of each step."""
    samples = []
    for i in range(n + 2):  # two warm-up pairs
        res = {}
        for side in rng.sample(["a", "b"], 2):
            if before:
                before(side)
            steps = (a if side == "a" else b)()
            steps = steps if isinstance(steps, list) else [steps]
            res[side] = []
            for argv, kw in steps:
                w, c, code, _ = timed(argv, timeout=60, **kw)
                if code != 0:
                    raise SystemExit(f"{name}: {side} {' '.join(argv)} "
                                     f"{'hung (killed after 60 s)' if code is None else f'exited {code}'}")
                res[side].append((w, c))
        if i >= 2:
            samples.append((res["a"], res["b"]))
    total = lambda s: (sum(x[0] for x in s), sum(x[1] for x in s))
    out = ratio_stats([(total(x), total(y)) for x, y in samples])
    if len(samples[0][0]) > 1:
        out["steps"] = [ratio_stats([(x[k], y[k]) for x, y in samples]) for k in range(len(samples[0][0]))]
    log(f"{name}: wall ratio {out['wall']:.3f} (a {out['wa']*1e3:.2f} ms, b {out['wb']*1e3:.2f} ms), "
        f"cpu a {out['ca']*1e3:.2f} ms b {out['cb']*1e3:.2f} ms")
    return out


def hang_loop(argv_of, count, timeout, tty=False, after_failure=None):
    """count runs, two loops at once (worker 0 and 1), each run under a timeout. argv_of(worker):
    the command; after_failure(worker): called after a hang or an error (to delete the container).
    Returns (hangs, errors, runs, seconds)."""
    counts = [[0, 0], [0, 0]]

    def loop(w):
        for _ in range(w, count, 2):
            _, _, code, _ = timed(argv_of(w), tty=tty, timeout=timeout)
            if code == 0:
                continue
            counts[w][0 if code is None else 1] += 1
            if after_failure:
                after_failure(w)

    t0 = time.monotonic()
    threads = [threading.Thread(target=loop, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts[0][0] + counts[1][0], counts[0][1] + counts[1][1], count, time.monotonic() - t0
