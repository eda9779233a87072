#!/usr/bin/env bash
# Runs inside the cgroup v2 VM (make test-cgroupv2, test-cgroupv2-smoke): the conformance groups that
# touch cgroups, on a tmpfs (the guest's /tmp is an overlay, where the harness's same-filesystem
# cleanup check cannot work). --smoke: only the CI subset (create with limits, the eBPF device filter
# denying a device, pause/resume, OOM events, delete leaving nothing). --runtime PATH (repeatable)
# picks the runtimes (default: strata). Other arguments go to runtime-tests.
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
filters=(--filter linux_cgroups --filter lifecycle --filter security --filter linux_devices
  --filter linux_resources --filter cli_pause)
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
script_opt() {
  case $1 in
    --smoke)
      filters=(--filter linux_cgroups --filter devices_deny_listed_last --filter cli_pause::pause_resume
        --filter cli_pause::delete_force_paused --filter cli_pause::events_oom) ;;
    *) return 1 ;;
  esac
}
parse_runtime_args "$@"
shift "$nparsed"
[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] || { echo "cgroupv2-tests: /sys/fs/cgroup is not cgroup2" >&2; exit 1; }
mkdir -p /run/rt
mountpoint -q /run/rt || mount -t tmpfs tmpfs /run/rt
echo "cgroup v2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
rc=0
for rt in "${runtimes[@]}"; do  # every runtime runs, even after a failure; any failure fails the script
  "$out/runtime-tests" --workdir /run/rt --jobs 2 --runtime "$rt" --probe "$PWD/$out/probe" \
    "${filters[@]}" "$@" || rc=1
done
exit $rc
