#!/usr/bin/env bash
# Runs inside the SELinux VM (make test-selinux, from hack/selinux-tests.sh, policy loaded,
# permissive): podman (Debian's) with each --runtime PATH (default: strata) on a busybox image
# imported from the host's busybox. Checked:
#   default labels: podman takes them from the policy's lxc_contexts, container_t for the process
#     and container_file_t for its files, with two random categories: attr/current of run and
#     exec, and context= on /dev. Debian's selinux-policy-default lacks both types (it has no
#     container module), and podman's own mount of the container's shm with that context= fails
#     (EINVAL) before any runtime runs: with that policy (no --policy in hack/selinux-tests.sh)
#     the run is shown, not judged, and so is label=disable's, whose shm podman still labels.
#   --security-opt label=type:svirt_t,filetype:svirt_tmpfs_t,level:s0:c100,c200: attr/current
#     of run and of exec is that label, and /dev is mounted with the matching context=
#   label=disable: no process label (the container keeps conmon's domain)
# Everything lives on a tmpfs (hack/lib/podman.sh).
set -euo pipefail
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
# shellcheck source=hack/lib/podman.sh
source "$(dirname "$0")/lib/podman.sh"
parse_runtime_args "$@"
shift "$nparsed"
no_more_args "$0" "$@"
die() { echo "podman-selinux-tests: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman missing (hack/deps.sh installs podman)"
[[ -e /sys/fs/selinux/enforce ]] || die "SELinux is not enabled"
w=/run/pms
mkdir -p $w && { mountpoint -q $w || mount -t tmpfs tmpfs $w; }
podman_image $w sh cat tr grep sleep
label=system_u:system_r:svirt_t:s0:c100,c200 file_label=system_u:object_r:svirt_tmpfs_t:s0:c100,c200
fails=0
trap podman_reset EXIT
show='cat /proc/self/attr/current | tr -d "\0"; echo; grep " /dev " /proc/self/mountinfo'
# labelled NAME PROCESS FILE [OPTION...]: podman run with the options runs as PROCESS (a glob) with
# /dev mounted context=FILE, and podman exec into it runs as PROCESS too
labelled() {
  local name=$1 process=$2 file=$3 c=strata-se-$n-$$
  shift 3
  got=$(pm "${RUN[@]}" "$@" strata-bb sh -c "$show" 2>$w/err) || true
  check "run, $name: attr/current" "$process"$'\n''*' "$got"
  check "run, $name: /dev mounted with context=" "*context=\"$file\"*" "$got"
  if pm "${RUN[@]/--rm/-d}" "$@" --name "$c" strata-bb sleep 600 >$w/out 2>$w/err; then
    got=$(pm exec "$c" sh -c 'cat /proc/self/attr/current | tr -d "\0"' 2>$w/err) || true
    check "exec, $name: attr/current" "$process" "$got"
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
  else
    check "exec, $name: attr/current" "a started container" "run -d failed"
  fi
}
# a context the loaded policy knows: selinuxfs's context file refuses any other (EINVAL)
known() { printf %s "$1" 2>/dev/null >/sys/fs/selinux/context; }
podman_types=0
known system_u:system_r:container_t:s0 && known system_u:object_r:container_file_t:s0 && podman_types=1
own=$(tr -d '\0' </proc/self/attr/current)
for rt in "${runtimes[@]}"; do
  n=$(basename "$rt")
  podman_use $w "$rt" || die "podman import failed ($n)"
  if ((podman_types)); then
    labelled "default labels" 'system_u:system_r:container_t:s0:c*,c*' 'system_u:object_r:container_file_t:s0:c*,c*'
  else
    rc=0 got=$(pm "${RUN[@]}" strata-bb sh -c "$show" 2>&1) || rc=$?
    echo "info $n: podman run, default labels (container_t, not in this policy): exit $rc: $(tr '\n' ' ' <<<"$got" | cut -c1-300)"
  fi
  labelled "label=type,filetype,level" "$label" "$file_label" --security-opt label=type:svirt_t \
    --security-opt label=filetype:svirt_tmpfs_t --security-opt 'label=level:s0:c100,c200'
  rc=0 got=$(pm "${RUN[@]}" --security-opt label=disable strata-bb sh -c "$show" 2>$w/err) || rc=$?
  if ((podman_types)); then
    check "label=disable: attr/current is conmon's domain" "$own"$'\n''*' "$got"
  else
    echo "info $n: podman run label=disable: exit $rc: $(tr '\n' ' ' <$w/err | cut -c1-300)"
  fi
  podman_reset
done
echo "podman-selinux-tests: $fails failed"
((fails == 0))
