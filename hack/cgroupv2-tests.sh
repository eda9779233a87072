#!/usr/bin/env bash
# Runs inside the cgroup v2 VM (make test-cgroupv2): the conformance groups
# that touch cgroups, on a tmpfs (the guest's /tmp is an overlay, where the
# harness's same-filesystem cleanup check cannot work).
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
mkdir -p /run/rt
mountpoint -q /run/rt || mount -t tmpfs tmpfs /run/rt
cat /sys/fs/cgroup/cgroup.controllers
exec "$out/runtime-tests" --workdir /run/rt --jobs 2 --runtime "$PWD/$out/strata" --probe "$PWD/$out/probe" \
  --filter linux_cgroups --filter lifecycle --filter security --filter linux_devices "$@"
