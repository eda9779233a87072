#!/usr/bin/env bash
# Integration checks: drive a runc-compatible runtime through podman and containerd.
#   hack/integration.sh [--runtime PATH] [--probe PATH]
#   (default: the strata release binary and runtime-tests' static probe; needs root)
# Everything lives under a fresh temp dir: podman storage/runroot, a private containerd, the
# image. Each check prints `ok NAME` or `FAILED NAME: reason`; the last line is
# `N passed, N failed` and the exit status is non-zero if anything failed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
RT=$repo/target/x86_64-unknown-linux-gnu/release/strata
PROBE=$repo/target/x86_64-unknown-linux-gnu/release/probe   # sends/receives sd_notify
while (($#)); do
  case $1 in
    --runtime) RT=${2:?--runtime needs a PATH}; shift 2 ;;
    --runtime=*) RT=${1#--runtime=}; shift ;;
    --probe) PROBE=${2:?--probe needs a PATH}; shift 2 ;;
    -h | --help) echo "usage: $0 [--runtime PATH] [--probe PATH]"; exit 0 ;;
    *) echo "usage: $0 [--runtime PATH] [--probe PATH]" >&2; exit 2 ;;
  esac
done
RT=$(readlink -f "$RT")
[[ -x $RT ]] || { echo "runtime $RT not found (make build?)" >&2; exit 2; }
((EUID == 0)) || { echo "run as root" >&2; exit 2; }
for cmd in podman containerd ctr script timeout; do
  command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 2; }
done
BUSYBOX=${BUSYBOX:-/bin/busybox}
[[ -x $BUSYBOX ]] || { echo "missing $BUSYBOX (apt-get install busybox-static)" >&2; exit 2; }

T=$(mktemp -d /tmp/strata-it.XXXXXX)
tag=sit$$                        # names: containers, cgroup parent, containerd namespace
CGP=/$tag                        # podman --cgroup-parent (cgroupfs); containerd uses /$tag/<id>
CTD_PID=''
passed=0 failed=0

PODMAN=(podman --root "$T/storage" --runroot "$T/run" --tmpdir "$T/tmp"
  --network-config-dir "$T/net" --cgroup-manager cgroupfs --events-backend file
  --runtime "$RT")
# the ulimits: podman asks for 1048576 by default and no runtime can raise that on this host
RUNOPTS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network none --cgroup-parent "$CGP")
IMG=localhost/$tag:latest
SOCK=$T/ctd/containerd.sock
CTR=(ctr -a "$SOCK" -n "$tag")
# keep the shim's runtime state and the IO fifos under $T too (defaults: /run/containerd/...)
CTRRUN=(--runc-binary "$RT" --runc-root "$T/ctd/runc" --fifo-dir "$T/ctd/fifo")

pm() { timeout 60 "${PODMAN[@]}" "$@"; }
prun() { pm run "${RUNOPTS[@]}" "$@"; }
ctr_() { timeout 60 "${CTR[@]}" "$@"; }

ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAILED $1: $2"; failed=$((failed + 1)); }
one_line() { tr '\r\n' '  ' <<<"$1" | cut -c1-300; }
# expect NAME WANT GOT: exact string match
expect() { if [[ $3 == "$2" ]]; then ok "$1"; else fail "$1" "want '$2', got '$(one_line "$3")'"; fi; }

cleanup() {
  set +e
  trap - EXIT INT TERM
  if [[ -n $CTD_PID ]]; then
    for id in $("${CTR[@]}" task ls -q 2>/dev/null); do timeout 10 "${CTR[@]}" task kill -s KILL "$id" >/dev/null 2>&1; done
    sleep 0.3
    for id in $("${CTR[@]}" task ls -q 2>/dev/null); do timeout 10 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1; done
    for id in $("${CTR[@]}" c ls -q 2>/dev/null); do timeout 10 "${CTR[@]}" c rm "$id" >/dev/null 2>&1; done
    kill "$CTD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CTD_PID" 2>/dev/null
    wait "$CTD_PID" 2>/dev/null
  fi
  # shims outlive containerd: end the ones whose socket/bundle lives under $T
  local p
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  timeout 60 "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
  timeout 60 "${PODMAN[@]}" system reset -f >/dev/null 2>&1
  # anything still mounted under $T (overlay, shm, containerd rootfs), deepest first
  local m
  while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v t="$T" '$2 == t || index($2, t "/") == 1 {print $2}' /proc/self/mounts | sort -r)
  rm -rf --one-file-system "$T"
  # cgroups under our parent (podman: /$tag/libpod-*, /$tag/conmon; containerd: /$tag/<id>)
  local d
  for d in /sys/fs/cgroup/"$tag" /sys/fs/cgroup/*/"$tag"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- image
mkdir -p "$T"/{rootfs,tmp,net,ctd}
r=$T/rootfs
mkdir -p "$r"/{bin,dev,proc,sys,tmp,etc,root,run}
chmod 1777 "$r/tmp"
cp "$BUSYBOX" "$r/bin/busybox"
for a in $("$BUSYBOX" --list); do [[ $a == busybox ]] || ln -s busybox "$r/bin/$a"; done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
printf '%s\n' 'root:x:0:' >"$r/etc/group"
tar -C "$r" -cf "$T/rootfs.tar" .
pm import "$T/rootfs.tar" "$IMG" >"$T/import.log" 2>&1 || { cat "$T/import.log" >&2; exit 1; }

echo "# runtime: $RT ($("$RT" --version 2>/dev/null | head -1))"

# ---------------------------------------------------------------- podman
out=$(prun --rm "$IMG" echo hello 2>&1) || true
expect podman-run-output hello "$out"

rc=0; prun --rm "$IMG" sh -c 'exit 42' >/dev/null 2>&1 || rc=$?
expect podman-run-exit-42 42 "$rc"

c1=$tag-d1
if out=$(prun -d --name "$c1" "$IMG" sleep 1000 2>&1); then
  expect podman-run-d "running" "$(pm inspect -f '{{.State.Status}}' "$c1" 2>&1)"

  out=$(pm exec "$c1" sh -c 'echo from-exec' 2>&1) || true
  expect podman-exec-output from-exec "$out"
  rc=0; pm exec "$c1" sh -c 'exit 7' >/dev/null 2>&1 || rc=$?
  expect podman-exec-exit-7 7 "$rc"

  if out=$(pm pause "$c1" 2>&1); then
    st=$(pm inspect -f '{{.State.Status}}' "$c1" 2>&1)
    if out=$(pm unpause "$c1" 2>&1); then
      expect podman-pause-unpause "paused running" "$st $(pm inspect -f '{{.State.Status}}' "$c1" 2>&1)"
    else fail podman-pause-unpause "unpause: $(one_line "$out")"; fi
  else fail podman-pause-unpause "pause: $(one_line "$out")"; fi

  # sleep is pid 1 without a SIGTERM handler: stop has to escalate to SIGKILL after 2 s
  if out=$(pm stop -t 2 "$c1" 2>&1); then
    expect podman-stop "exited" "$(pm inspect -f '{{.State.Status}}' "$c1" 2>&1)"
  else fail podman-stop "$(one_line "$out")"; fi
else
  fail podman-run-d "$(one_line "$out")"
fi

c2=$tag-k1
if out=$(prun -d --name "$c2" "$IMG" sleep 1000 2>&1); then
  if out=$(pm kill "$c2" 2>&1); then
    code=$(pm wait "$c2" 2>&1) || true
    # SIGKILL -> 137
    expect podman-kill "137 exited" "$code $(pm inspect -f '{{.State.Status}}' "$c2" 2>&1)"
  else fail podman-kill "$(one_line "$out")"; fi
else fail podman-kill "run -d: $(one_line "$out")"; fi

c3=$tag-r1
if out=$(prun -d --name "$c3" "$IMG" sleep 1000 2>&1); then
  if out=$(pm rm -f -t 0 "$c3" 2>&1); then
    if pm container exists "$c3" 2>/dev/null; then fail podman-rm-f "container still exists"; else ok podman-rm-f; fi
  else fail podman-rm-f "$(one_line "$out")"; fi
else fail podman-rm-f "run -d: $(one_line "$out")"; fi

out=$(prun --rm --memory 64m "$IMG" sh -c \
  'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' 2>&1) || true
expect podman-memory 67108864 "$out"

out=$(prun --rm --pids-limit 50 "$IMG" sh -c \
  'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max' 2>&1) || true
expect podman-pids-limit 50 "$out"

out=$(prun --rm --read-only "$IMG" sh -c \
  'if touch /rootfile 2>/dev/null; then echo root-writable; else echo root-ro; fi; touch /tmp/x && echo tmp-rw' 2>&1) || true
expect podman-read-only "root-ro
tmp-rw" "$out"

out=$(prun --rm --cap-drop all "$IMG" sh -c 'grep ^CapEff /proc/self/status' 2>&1) || true
expect podman-cap-drop-all "CapEff:	0000000000000000" "$out"

out=$(prun --rm --user 1000:1000 "$IMG" id 2>&1) || true
case $out in
  uid=1000*' 'gid=1000*) ok podman-user ;;
  *) fail podman-user "want uid=1000 gid=1000, got '$(one_line "$out")'" ;;
esac

# -t: script(1) gives podman a pty on stdin/stdout, so this runs unattended
printf -v inner '%q ' "${PODMAN[@]}" run "${RUNOPTS[@]}" --rm -t "$IMG" \
  sh -c 'test -t 0 && test -t 1 && echo TTY-OK'
out=$(timeout 60 script -qec "$inner" /dev/null </dev/null 2>&1) || true
out=${out//$'\r'/}
expect podman-tty TTY-OK "$out"

# --sdnotify=container: the container's READY=1 reaches podman's own NOTIFY_SOCKET (ours),
# with a MAINPID. (podman 4.3 proxies it itself through a /run/notify bind mount; runtimes
# that get NOTIFY_SOCKET relay it the same way: runtime-tests' notify_socket group.)
if [[ -x $PROBE ]]; then
  "$PROBE" notify-listen "$T/notify.sock" --ms 20000 >"$T/notify.out" 2>&1 &
  lpid=$!
  for _ in $(seq 50); do [[ -S $T/notify.sock ]] && break; sleep 0.1; done
  out=$(NOTIFY_SOCKET=$T/notify.sock prun --rm --sdnotify=container -v "$PROBE:/probe:ro" "$IMG" \
    /probe notify READY=1 --after-ms 500 2>&1) || true
  wait "$lpid" || true
  # one READY=1 and one MAINPID=<n> line: "1 1"
  got="$(grep -cx 'READY=1' "$T/notify.out" || true) $(grep -cxE 'MAINPID=[0-9]+' "$T/notify.out" || true)"
  if [[ $got == "1 1" ]]; then ok podman-sdnotify-container
  else fail podman-sdnotify-container "listener got '$(one_line "$(cat "$T/notify.out")")'; podman: $(one_line "$out")"; fi
else
  echo "# skipped podman-sdnotify-container: no probe at $PROBE (make build-tests)"
fi

# ---------------------------------------------------------------- containerd
cat >"$T/ctd/config.toml" <<TOML
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
[metrics]
  address = ""
TOML
containerd --config "$T/ctd/config.toml" >"$T/ctd/log" 2>&1 &
CTD_PID=$!
up=false
for _ in $(seq 100); do
  if "${CTR[@]}" version >/dev/null 2>&1; then up=true; break; fi
  kill -0 "$CTD_PID" 2>/dev/null || break
  sleep 0.1
done

if ! $up; then
  fail containerd-start "containerd did not come up: $(tail -3 "$T/ctd/log" | tr '\n' ' ')"
elif ! out=$(pm save --format oci-archive -o "$T/img.tar" "$IMG" 2>&1 &&
  ctr_ image import --base-name "localhost/$tag" "$T/img.tar" 2>&1); then
  fail ctr-image-import "$(one_line "$out")"
else
  out=$(ctr_ run "${CTRRUN[@]}" --rm "$IMG" "$tag-c1" echo hello 2>&1) || true
  expect ctr-run-output hello "${out//$'\r'/}"

  rc=0; ctr_ run "${CTRRUN[@]}" --rm "$IMG" "$tag-c2" sh -c 'exit 42' >/dev/null 2>&1 || rc=$?
  expect ctr-run-exit-42 42 "$rc"

  c=$tag-d1
  if out=$(ctr_ run "${CTRRUN[@]}" -d "$IMG" "$c" sleep 1000 2>&1); then
    out=$(ctr_ task exec --exec-id e1 "$c" sh -c 'echo from-exec' 2>&1) || true
    expect ctr-exec-output from-exec "$out"
    rc=0; ctr_ task exec --exec-id e2 "$c" sh -c 'exit 7' >/dev/null 2>&1 || rc=$?
    expect ctr-exec-exit-7 7 "$rc"

    pid=$(ctr_ task ls 2>/dev/null | awk -v c="$c" '$1 == c {print $2}')
    out=$(ctr_ task ps "$c" 2>&1) || true
    if [[ -n $pid ]] && awk 'NR > 1 {print $1}' <<<"$out" | grep -qx "$pid"; then ok ctr-task-ps
    else fail ctr-task-ps "init pid '$pid' not listed: $(one_line "$out")"; fi

    st() { ctr_ task ls 2>/dev/null | awk -v c="$c" '$1 == c {print $3}'; }
    if out=$(ctr_ task pause "$c" 2>&1); then
      s1=$(st)
      if out=$(ctr_ task resume "$c" 2>&1); then
        expect ctr-pause-resume "PAUSED RUNNING" "$s1 $(st)"
      else fail ctr-pause-resume "resume: $(one_line "$out")"; fi
    else fail ctr-pause-resume "pause: $(one_line "$out")"; fi

    if out=$(ctr_ task kill -s SIGKILL "$c" 2>&1); then
      s=''
      for _ in $(seq 100); do s=$(st); [[ $s == STOPPED ]] && break; sleep 0.1; done
      expect ctr-task-kill STOPPED "$s"
    else fail ctr-task-kill "$(one_line "$out")"; fi
    ctr_ task rm -f "$c" >/dev/null 2>&1 || true
    ctr_ c rm "$c" >/dev/null 2>&1 || true
  else
    fail ctr-run-d "$(one_line "$out")"
  fi

  rc=0; out=$(ctr_ run "${CTRRUN[@]}" --rm "$IMG" "$tag-e1" nonexistent-prog 2>&1) || rc=$?
  if ((rc != 0)) && [[ $out == *"executable file not found"* ]]; then
    ok ctr-error-missing-program
    echo "# ctr said: $(one_line "$out")"
  else
    fail ctr-error-missing-program "rc=$rc: $(one_line "$out")"
  fi
  ctr_ c rm "$tag-e1" >/dev/null 2>&1 || true
fi

echo "$passed passed, $failed failed"
((failed == 0))
