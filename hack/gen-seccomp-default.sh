#!/usr/bin/env bash
# Regenerates runtime-tests/fixtures/seccomp-default.json: the default seccomp profile a
# container engine puts into config.json (podman's containers/common profile, which is
# Docker's default profile plus a few podman additions), in OCI form (`.linux.seccomp`).
#   hack/gen-seccomp-default.sh [OUT]     (needs root, podman, runc, jq, /bin/busybox)
# podman runs one container with a wrapper --runtime that copies the bundle's config.json
# aside and then execs runc; everything lives under a fresh temp dir, removed at the end.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$repo/runtime-tests/fixtures/seccomp-default.json}
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
((EUID == 0)) || { echo "run as root" >&2; exit 2; }
for cmd in podman jq "$RUNC"; do
  command -v "$cmd" >/dev/null || { echo "missing $cmd" >&2; exit 2; }
done

T=$(mktemp -d /tmp/strata-seccomp.XXXXXX)
tag=sgen$$
PODMAN=(podman --root "$T/storage" --runroot "$T/run" --tmpdir "$T/tmp"
  --network-config-dir "$T/net" --cgroup-manager cgroupfs --events-backend file
  --runtime "$T/rt")
cleanup() {
  set +e
  timeout 60 "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
  timeout 60 "${PODMAN[@]}" system reset -f >/dev/null 2>&1
  local m
  while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v t="$T" '$2 == t || index($2, t "/") == 1 {print $2}' /proc/self/mounts | sort -r)
  # --cgroup-parent made /$tag in every hierarchy (v1 and hybrid) or once (v2)
  local d
  for d in /sys/fs/cgroup/"$tag" /sys/fs/cgroup/*/"$tag"; do
    [[ -d $d ]] && rmdir "$d/conmon" "$d" 2>/dev/null  # conmon's own cgroup sits below it
  done
  rm -rf --one-file-system "$T"
}
trap cleanup EXIT INT TERM

cat >"$T/rt" <<WRAP
#!/bin/sh
# Keep the config.json of whatever bundle podman creates, then behave exactly like runc.
prev=
for a in "\$@"; do
  case \$prev in --bundle | -b) [ -f "\$a/config.json" ] && cp "\$a/config.json" "$T/config.json" ;; esac
  prev=\$a
done
exec "$RUNC" "\$@"
WRAP
chmod +x "$T/rt"

mkdir -p "$T/rootfs/bin"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/true"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
"${PODMAN[@]}" import "$T/rootfs.tar" "localhost/$tag:latest" >/dev/null
# the ulimits: podman asks for 1048576 by default and no runtime can raise that on this host
"${PODMAN[@]}" run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network none \
  --cgroup-parent "/$tag" "localhost/$tag:latest" /bin/true
[[ -f $T/config.json ]] || { echo "the wrapper saw no config.json" >&2; exit 1; }
jq '.linux.seccomp' "$T/config.json" >"$OUT.tmp"
[[ $(jq '.syscalls | length' "$OUT.tmp") -gt 0 ]] || { echo "no seccomp profile in the config" >&2; exit 1; }
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT: $(jq '[.syscalls[].names | length] | add' "$OUT") syscall names in $(jq '.syscalls | length' "$OUT") rules ($(podman --version))"
