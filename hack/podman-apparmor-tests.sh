#!/usr/bin/env bash
# Runs inside the AppArmor VM (make test-apparmor): podman (Debian's) with each --runtime PATH
# (default: strata), on a busybox image imported from the host's busybox. podman loads its own
# profile, containers-default-<version>, when AppArmor is on, and names it in every config:
#   default:    `podman run` runs as containers-default-* (enforce), and so does `podman exec`
#   named:      --security-opt apparmor=<a test profile denying writes to /tmp/denied>: the
#               container runs in it and the denied write fails, an allowed one succeeds
#   unconfined: --security-opt apparmor=unconfined runs unconfined
# Everything lives on a tmpfs (hack/lib/podman.sh).
set -euo pipefail
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
# shellcheck source=hack/lib/podman.sh
source "$(dirname "$0")/lib/podman.sh"
parse_runtime_args "$@"
shift "$nparsed"
no_more_args "$0" "$@"
die() { echo "podman-apparmor-tests: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman missing (hack/deps.sh installs podman)"
[[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] || die "AppArmor is not enabled"
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
w=/run/pm
mkdir -p $w && { mountpoint -q $w || mount -t tmpfs tmpfs $w; }
podman_image $w sh cat echo sleep
deny=strata-podman-deny
printf '%s\n' "profile $deny flags=(attach_disconnected,mediate_deleted) {" '  file,' '  capability,' \
  '  network,' '  signal,' '  ptrace,' '  unix,' '  mount,' '  umount,' '  pivot_root,' \
  '  deny /tmp/denied w,' '}' >$w/$deny
apparmor_parser -r $w/$deny
fails=0
cleanup() {
  podman_reset
  apparmor_parser -R $w/$deny >/dev/null 2>&1 || true
}
trap cleanup EXIT
# The container's view of its confinement (attr/current ends in a newline) and of the test
# profile's one deny rule.
show='cat /proc/self/attr/current; if echo x >/tmp/denied; then echo wrote-denied; else echo denied; fi
if echo x >/tmp/allowed; then echo wrote-allowed; fi'
for rt in "${runtimes[@]}"; do
  n=$(basename "$rt")
  podman_use $w "$rt" || die "podman import failed ($n)"
  got=$(pm "${RUN[@]}" strata-bb sh -c 'cat /proc/self/attr/current' 2>$w/err) || true
  check "run gets containers-default (enforce)" 'containers-default-* (enforce)' "$got"
  c=strata-aa-$n-$$
  if pm "${RUN[@]/--rm/-d}" --name "$c" strata-bb sleep 600 >$w/out 2>$w/err; then
    got=$(pm exec "$c" cat /proc/self/attr/current 2>$w/err) || true
    check "exec gets containers-default (enforce)" 'containers-default-* (enforce)' "$got"
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
  else
    check "exec gets containers-default (enforce)" "a started container" "run -d failed"
  fi
  got=$(pm "${RUN[@]}" --security-opt apparmor=$deny strata-bb sh -c "$show" 2>$w/err) || true
  check "--security-opt apparmor=$deny: confined, the denied write fails" \
    "$deny (enforce)"$'\n'denied$'\n'wrote-allowed "$got"
  got=$(pm "${RUN[@]}" --security-opt apparmor=unconfined strata-bb cat /proc/self/attr/current 2>$w/err) || true
  check "--security-opt apparmor=unconfined runs unconfined" unconfined "$got"
  podman_reset
done
grep -h 'containers-default' /sys/kernel/security/apparmor/profiles || true
echo "podman-apparmor-tests: $fails failed"
((fails == 0))
