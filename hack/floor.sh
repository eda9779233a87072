#!/usr/bin/env bash
# Build the container-start floor (shared/bench/floor.c, static) and optionally run it once.
# MODE defaults to what this host has: 1 = cgroup v1 hierarchies, 2 = empty cgroup2 at /sys/fs/cgroup/unified, 0 = none.
set -euo pipefail

usage() { echo "usage: $0 [--out PATH] [--mode]  |  $0 [--out PATH] -- [MODE] ROOTFS   (env FLOOR_C: floor.c)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${FLOOR_C:-$repo/../shared/bench/floor.c}
# In a git worktree (elsewhere than the main checkout) look next to the main checkout too.
if [[ -z ${FLOOR_C:-} && ! -f $src ]] && common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
  src=$(dirname "$(dirname "$common")")/shared/bench/floor.c
fi
out=/tmp/floor
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a PATH}; shift 2 ;;
    --mode) mode_only=1; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done

floor_mode() {
  if [[ -e /sys/fs/cgroup/cpu/cgroup.procs || -e /sys/fs/cgroup/memory/cgroup.procs ]]; then echo 1
  elif [[ -e /sys/fs/cgroup/unified/cgroup.procs && -z $(cat /sys/fs/cgroup/unified/cgroup.controllers) ]]; then echo 2
  else echo 0; fi
}
if [[ -n ${mode_only:-} ]]; then floor_mode; exit 0; fi

[[ -f $src ]] || { echo "floor.sh: $src not found (set FLOOR_C)" >&2; exit 1; }
if [[ ! -x $out || $src -nt $out ]]; then
  gcc -O2 -static -o "$out" "$src"
fi
if (($#)); then
  (($# == 1)) && set -- "$(floor_mode)" "$1"
  exec "$out" "$@"
fi
echo "$out"
