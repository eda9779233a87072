#!/usr/bin/env bash
# Runs inside the AppArmor VM (make test-apparmor): dockerd (docker.io) with each --runtime PATH
# registered (default: strata), `docker run --runtime NAME` of a busybox image imported from the
# host's busybox: the container runs confined by docker-default, loaded by dockerd, so its
# attr/current reads "docker-default (enforce)". Everything lives on a tmpfs; vfs storage, no
# network (the guest has none).
set -euo pipefail
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
parse_runtime_args "$@"
shift "$nparsed"
no_more_args "$0" "$@"
die() { echo "docker-apparmor-tests: $*" >&2; exit 1; }
command -v dockerd >/dev/null || die "dockerd missing (hack/deps.sh installs docker.io)"
[[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] || die "AppArmor is not enabled"
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
w=/run/dk
mkdir -p $w && { mountpoint -q $w || mount -t tmpfs tmpfs $w; }
mkdir -p $w/img/bin $w/etc
cp /usr/bin/busybox $w/img/bin/
for t in sh cat; do ln -sf busybox $w/img/bin/$t; done
args=()
for rt in "${runtimes[@]}"; do  # "runc" is dockerd's own (from PATH) and may not be re-added
  [[ $(basename "$rt") == runc ]] || args+=(--add-runtime "$(basename "$rt")=$rt")
done
sock=unix://$w/docker.sock
# containerd started first and waited for: under TCG it starts slower than dockerd's own wait.
containerd --root $w/ctrd --state $w/ctrd-state --address $w/containerd.sock >$w/containerd.log 2>&1 &
cpid=$!
for _ in $(seq 120); do [[ -S $w/containerd.sock ]] && break; sleep 1; done
dockerd --containerd $w/containerd.sock --data-root $w/data --exec-root $w/exec --pidfile $w/dockerd.pid -H "$sock" \
  --storage-driver vfs --iptables=false --ip6tables=false --bridge none "${args[@]}" >$w/dockerd.log 2>&1 &
dpid=$!
stop() { kill "$dpid" "$cpid" 2>/dev/null; wait "$dpid" "$cpid" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 120); do
  docker -H "$sock" info >/dev/null 2>&1 && break
  kill -0 "$dpid" 2>/dev/null || break
  sleep 1
done
docker -H "$sock" info >/dev/null 2>&1 || { tail -30 $w/dockerd.log; die "dockerd did not come up"; }
tar -C $w/img -c . | docker -H "$sock" import - strata-bb >/dev/null
fails=0
for rt in "${runtimes[@]}"; do
  n=$(basename "$rt")
  got=$(docker -H "$sock" run --rm --network none --runtime "$n" strata-bb cat /proc/self/attr/current 2>&1) || true
  if [[ $got == "docker-default (enforce)" ]]; then echo "ok   $n: docker run gets docker-default (enforce)"
  else echo "FAIL $n: docker run: want docker-default (enforce), got: $got"; fails=$((fails + 1)); fi
done
((fails == 0)) || tail -20 $w/dockerd.log
echo "docker-apparmor-tests: $fails failed"
((fails == 0))
