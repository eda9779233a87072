#!/usr/bin/env bash
# Runs inside the AppArmor VM (make test-apparmor): podman (Debian's) with each --runtime PATH
# (default: strata), on a busybox image imported from the host's busybox. podman loads its own
# profile, containers-default-<version>, when AppArmor is on, and names it in every config:
#   default:    `podman run` runs as containers-default-* (enforce), and so does `podman exec`
#   named:      --security-opt apparmor=<a test profile denying writes to /tmp/denied>: the
#               container runs in it and the denied write fails, an allowed one succeeds
#   unconfined: --security-opt apparmor=unconfined runs unconfined
# Everything lives on a tmpfs: vfs storage, cgroupfs manager, file events, no network (the
# guest has none).
set -euo pipefail
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
parse_runtime_args "$@"
shift "$nparsed"
no_more_args "$0" "$@"
die() { echo "podman-apparmor-tests: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman missing (hack/deps.sh installs podman)"
[[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] || die "AppArmor is not enabled"
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
w=/run/pm
mkdir -p $w && { mountpoint -q $w || mount -t tmpfs tmpfs $w; }
mkdir -p $w/img/bin $w/img/tmp $w/tmp $w/net
cp /usr/bin/busybox $w/img/bin/
for t in sh cat echo sleep; do ln -sf busybox $w/img/bin/$t; done
deny=strata-podman-deny
printf '%s\n' "profile $deny flags=(attach_disconnected,mediate_deleted) {" '  file,' '  capability,' \
  '  network,' '  signal,' '  ptrace,' '  unix,' '  mount,' '  umount,' '  pivot_root,' \
  '  deny /tmp/denied w,' '}' >$w/$deny
apparmor_parser -r $w/$deny
fails=0
pm() { timeout 120 "${PODMAN[@]}" "$@"; }
cleanup() {
  set +e
  ((${#PODMAN[@]})) && { pm rm -af -t 0 >/dev/null 2>&1; pm system reset -f >/dev/null 2>&1; }
  apparmor_parser -R $w/$deny >/dev/null 2>&1
}
PODMAN=()
trap cleanup EXIT
check() {  # name, want (a glob), got
  # shellcheck disable=SC2053  # want is a glob
  if [[ $3 == $2 ]]; then echo "ok   $n: podman $1"; else
    echo "FAIL $n: podman $1: want $(tr '\n' ' ' <<<"$2"), got: $(tr '\n' ' ' <<<"$3" | cut -c1-400); stderr: $(tr '\n' ' ' <$w/err | cut -c1-400)"
    fails=$((fails + 1)); fi
}
# The container's view of its confinement (attr/current ends in a newline) and of the test
# profile's one deny rule.
show='cat /proc/self/attr/current; if echo x >/tmp/denied; then echo wrote-denied; else echo denied; fi
if echo x >/tmp/allowed; then echo wrote-allowed; fi'
for rt in "${runtimes[@]}"; do
  n=$(basename "$rt") s=$w/$(basename "$rt")
  PODMAN=(podman --root "$s/storage" --runroot "$s/run" --tmpdir "$w/tmp" --network-config-dir "$w/net"
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime "$rt")
  # the ulimits: podman asks for 1048576 by default, more than the guest's hard limit
  run=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
  tar -C $w/img -c . | pm import - strata-bb >$w/import.log 2>&1 || { cat $w/import.log; die "podman import failed"; }
  got=$(pm "${run[@]}" strata-bb sh -c 'cat /proc/self/attr/current' 2>$w/err) || true
  check "run gets containers-default (enforce)" 'containers-default-* (enforce)' "$got"
  c=strata-aa-$n-$$
  if pm "${run[@]/--rm/-d}" --name "$c" strata-bb sleep 600 >$w/out 2>$w/err; then
    got=$(pm exec "$c" cat /proc/self/attr/current 2>$w/err) || true
    check "exec gets containers-default (enforce)" 'containers-default-* (enforce)' "$got"
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
  else
    check "exec gets containers-default (enforce)" "a started container" "run -d failed"
  fi
  got=$(pm "${run[@]}" --security-opt apparmor=$deny strata-bb sh -c "$show" 2>$w/err) || true
  check "--security-opt apparmor=$deny: confined, the denied write fails" \
    "$deny (enforce)"$'\n'denied$'\n'wrote-allowed "$got"
  got=$(pm "${run[@]}" --security-opt apparmor=unconfined strata-bb cat /proc/self/attr/current 2>$w/err) || true
  check "--security-opt apparmor=unconfined runs unconfined" unconfined "$got"
  pm rm -af -t 0 >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
done
grep -h 'containers-default' /sys/kernel/security/apparmor/profiles || true
echo "podman-apparmor-tests: $fails failed"
((fails == 0))
