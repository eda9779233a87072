#!/usr/bin/env bash
# Run CMD as root inside a throwaway cgroup VM (virtme-ng + qemu TCG), in the repo root. By default the
# guest is pure cgroup v2 (cgroup_no_v1=all); with --v1 the v1 controllers stay free, for a guest script
# that mounts a v1 layout itself (hack/cgroupv1-tests.sh). The guest sees the host's filesystem
# read-only, except the repo (--rwdir) and an overlay on /tmp. With --systemd the guest boots systemd
# (vng --systemd) and CMD runs as a service of it (hack/systemd-tests.sh). Options before `--` other
# than --kernel, --timeout, --v1 and --systemd go to vng (e.g. --memory 2G). Exit code is CMD's; 124 if
# the VM ran out of time.
set -euo pipefail

usage() { echo "usage: $0 [--kernel VMLINUZ] [--timeout SECS] [--v1] [--systemd] [VNG_OPTIONS...] -- CMD [ARGS...]   (env VNG_VENV, default /tmp/strata-vng-env)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VNG_VENV:-/tmp/strata-vng-env}
kernel='' timeout=900 append=cgroup_no_v1=all vng_opts=()
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a path}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --v1) append=''; shift ;;
    # The guest root is the host's, /.dockerenv included. An empty $container tells systemd
    # (pid 1) it is not in a container, but its generators still see /.dockerenv, take
    # themselves for in one and read pid 1's argv for kernel options: no serial getty, which vng
    # runs the command on, and no systemd.mask=. So the serial getty is the boot's one goal
    # (the host's services never start; the guest script starts dbus).
    --systemd) vng_opts+=(--systemd --append container= --append systemd.unit=serial-getty@ttyS0.service); shift ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) vng_opts+=("$1"); shift ;;
  esac
done
(($#)) || usage

command -v qemu-system-x86_64 >/dev/null || { echo "cgroupv2-vm: qemu-system-x86_64 missing (hack/deps.sh vm installs qemu-system-x86)" >&2; exit 1; }
if [[ -z $kernel ]]; then  # newest distro kernel; its modules (9p, virtio) must be in /lib/modules
  kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)
  [[ -n $kernel ]] || { echo "cgroupv2-vm: no /boot/vmlinuz-* (hack/deps.sh vm installs linux-image-amd64)" >&2; exit 1; }
fi
[[ -x $venv/bin/vng ]] || { echo "cgroupv2-vm: no virtme-ng in $venv (hack/deps.sh vm installs it)" >&2; exit 1; }

printf -v cmd '%q ' "$@"
start=$(date +%s)
cd "$repo"
# A hung guest must not hang the caller: timeout kills its whole process group (vng and qemu) after
# $timeout s, and forwards a TERM it gets to that group too. qemu's output goes through cat: its writes
# to a regular-file stdout/stderr get overwritten by later writers. stdin is not the guest's.
PATH=$venv/bin:$PATH timeout -k 10 "$timeout" vng --run "$kernel" --disable-kvm ${append:+--append "$append"} \
  --rwdir "$repo" "${vng_opts[@]}" --exec "$cmd" </dev/null 2> >(cat >&2) > >(cat) &
vm=$!
# shellcheck disable=SC2317  # called from the traps
stop() { kill -TERM "$vm" 2>/dev/null; wait "$vm"; exit "$1"; }
trap 'stop 130' INT
trap 'stop 143' TERM
rc=0
wait "$vm" || rc=$?
wait  # for the stdout cat (the last process substitution) to drain
trap - INT TERM
took=$(($(date +%s) - start))
if ((rc == 124 || rc == 137)); then
  echo "cgroupv2-vm: FAILED: the VM did not finish within ${timeout} s and was killed (exit $rc)" >&2
else
  echo "cgroupv2-vm: $(basename "$kernel"), boot + command took $took s, exit $rc" >&2
fi
exit "$rc"
