#!/usr/bin/env bash
# Runs inside the systemd VM (make test-systemd, test-systemd-smoke): the conformance groups that
# touch cgroups with the systemd cgroup driver (runtime-tests --systemd: --systemd-cgroup on every
# command, cgroupsPath runtime_tests.slice:rt:<id>), on a tmpfs, then checks that nothing is left:
# no rt-*.scope unit (systemctl list-units) and no cgroup below runtime_tests.slice. --runtime PATH
# (repeatable) picks the runtimes (default: strata); --smoke runs a short subset, --only SUBSTR
# (repeatable) the tests whose names hold one of them, in place of the groups. Other arguments
# go to runtime-tests. --engines runs podman, containerd (ctr and its CRI) and Docker instead, each
# with its systemd cgroup manager (hack/integration.sh --systemd), and checks that none of their
# units is left; --user runs hack/systemd-user-tests.sh instead: rootless containers whose units
# are a user manager's.
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
filters=(--filter linux_cgroups:: --filter lifecycle --filter linux_devices --filter linux_resources::
  --filter linux_resources_update --filter linux_resources_controllers --filter cli_pause
  --filter cli_exec --filter cli::)
only=()
engines=false user=false
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
script_opt() {
  case $1 in
    --smoke) filters=(--filter linux_cgroups:: --filter cli_pause::pause_resume --filter linux_resources_update) ;;
    --engines) engines=true ;;
    --user) user=true ;;
    --only) only+=(--filter "${2:?--only needs a test name part}"); took=2 ;;
    *) return 1 ;;
  esac
}
parse_runtime_args "$@"
shift "$nparsed"
((${#only[@]})) && filters=("${only[@]}")
fail() { echo "systemd-tests: $*" >&2; exit 1; }
[[ $(cat /proc/1/comm) == systemd ]] || fail "pid 1 is $(cat /proc/1/comm), not systemd (boot with hack/cgroupv2-vm.sh --systemd)"
[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] || fail "/sys/fs/cgroup is not cgroup2"
state=$(systemctl is-system-running || true)
echo "systemd $(systemctl --version | head -1 | cut -d' ' -f2): $state; virtualization: $(systemd-detect-virt || true)"
# The boot's goal is the serial getty alone (hack/cgroupv2-vm.sh --systemd): the bus is started here.
systemctl start dbus.socket dbus.service || fail "cannot start dbus"
busctl --system status >/dev/null || fail "no system bus (dbus not running)"
# The tests' scopes go in runtime_tests.slice, started here from a unit file and stopped at the end,
# as kubelet's and machined's slices are: a slice made on the fly for a scope goes when its last scope
# stops, and a scope starting in it then (tests run in parallel) fails with it.
mkdir -p /run/systemd/system
printf '[Unit]\nDescription=runtime-tests\n' > /run/systemd/system/runtime_tests.slice
systemctl daemon-reload
systemctl start runtime_tests.slice || fail "cannot start runtime_tests.slice"
mkdir -p /run/rt
mountpoint -q /run/rt || mount -t tmpfs tmpfs /run/rt
leftovers() {  # units and cgroups the tests' containers had
  { systemctl list-units --all --plain --no-legend 'rt-*.scope' || true; } | sed 's/^/unit /'
  { find /sys/fs/cgroup/runtime_tests.slice -mindepth 1 -maxdepth 1 -type d -name 'rt-*' 2>/dev/null || true; } | sed 's/^/cgroup /'
}
rc=0
if $user; then
  bash hack/systemd-user-tests.sh "${runtimes[@]}" || rc=1
  systemctl stop runtime_tests.slice || true
  exit $rc
fi
if $engines; then
  # integration.sh's names all start with sit<pid>: its slices, and the units in them
  for rt in "${runtimes[@]}"; do
    TMPDIR=/run/rt bash hack/integration.sh --systemd --runtime "$rt" || rc=1
    left=$({ systemctl list-units --all --plain --no-legend 'sit*' || true; })
    if [[ -n $left ]]; then
      printf 'systemd-tests: %s left behind:\n%s\n' "$rt" "$left" >&2
      rc=1
    else
      echo "systemd-tests: $rt: the engines left no unit"
    fi
  done
  systemctl stop runtime_tests.slice || true
  exit $rc
fi
for rt in "${runtimes[@]}"; do  # every runtime runs, even after a failure; any failure fails the script
  if [[ $("$rt" --version | head -1) == strata* ]]; then
    "$rt" features | grep -q '"systemd": *true' || { echo "systemd-tests: $rt features: systemd is not true" >&2; rc=1; }
  fi
  "$out/runtime-tests" --systemd --workdir /run/rt --jobs 2 --runtime "$rt" --probe "$PWD/$out/probe" \
    "${filters[@]}" "$@" || rc=1
  left=$(leftovers)
  if [[ -n $left ]]; then
    echo "systemd-tests: $rt left behind:" >&2
    echo "$left" >&2
    rc=1
  else
    echo "systemd-tests: $rt left no unit and no cgroup"
  fi
done
systemctl stop runtime_tests.slice || true
exit $rc
