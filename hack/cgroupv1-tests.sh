#!/usr/bin/env bash
# Runs inside the VM of `make test-cgroupv1` (hack/cgroupv2-vm.sh --v1): turns the guest into a pure
# cgroup v1 host, laid out as systemd's legacy mode does (a tmpfs at /sys/fs/cgroup, one hierarchy per
# controller, cpu+cpuacct and net_cls+net_prio co-mounted, a name=systemd hierarchy, NO cgroup2
# mount), then runs the cgroup groups of the conformance suite on a tmpfs. --runtime PATH
# (repeatable) picks the runtimes (default: strata). Other arguments go to runtime-tests.
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
parse_runtime_args "$@"
shift "$nparsed"
cg=/sys/fs/cgroup
# virtme-ng's init mounts cgroup2 here; no controller is enabled in it, so all are free for v1.
while mountpoint -q $cg; do umount $cg; done
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup $cg
mkdir $cg/systemd
mount -t cgroup -o none,name=systemd cgroup $cg/systemd
enabled() { awk -v c="$1" '$1 == c && $4 == 1 { f = 1 } END { exit !f }' /proc/cgroups; }
for h in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids rdma misc; do
  ok=1
  for c in ${h//,/ }; do enabled "$c" || ok=0; done
  ((ok)) || continue
  mkdir "$cg/$h"
  mount -t cgroup -o "$h" cgroup "$cg/$h"
  if [[ $h == *,* ]]; then for c in ${h//,/ }; do ln -s "$h" "$cg/$c"; done; fi
done
if grep -q ' cgroup2 ' /proc/self/mounts; then echo "cgroupv1-tests: a cgroup2 mount is left" >&2; exit 1; fi
echo "cgroup v1 hierarchies: $(grep ' cgroup ' /proc/self/mounts | awk '{print $2}' | tr '\n' ' ')"
mkdir -p /run/rt
mountpoint -q /run/rt || mount -t tmpfs tmpfs /run/rt
rc=0
for rt in "${runtimes[@]}"; do  # every runtime runs, even after a failure; any failure fails the script
  "$out/runtime-tests" --workdir /run/rt --jobs 2 --runtime "$rt" --probe "$PWD/$out/probe" \
    --filter linux_cgroups --filter lifecycle --filter linux_devices --filter linux_resources --filter cli_pause "$@" || rc=1
done
exit $rc
