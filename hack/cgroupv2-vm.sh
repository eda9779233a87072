#!/usr/bin/env bash
# Run CMD as root inside a throwaway pure cgroup v2 VM (virtme-ng + qemu TCG, cgroup_no_v1=all), in the
# repo root. The guest sees the host's filesystem read-only, except the repo (--rwdir) and an overlay on /tmp.
# Options before `--` other than --kernel go to vng (e.g. --memory 2G, --rwdir DIR). Exit code is CMD's.
set -euo pipefail

usage() { echo "usage: $0 [--kernel VMLINUZ] [VNG_OPTIONS...] -- CMD [ARGS...]   (env VNG_VENV, default /tmp/strata-vng-env)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VNG_VENV:-/tmp/strata-vng-env}
kernel='' vng_opts=()
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a path}; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) vng_opts+=("$1"); shift ;;
  esac
done
(($#)) || usage

command -v qemu-system-x86_64 >/dev/null || { echo "cgroupv2-vm: qemu-system-x86_64 missing (hack/deps.sh installs qemu-system-x86)" >&2; exit 1; }
if [[ -z $kernel ]]; then  # newest distro kernel; its modules (9p, virtio) must be in /lib/modules
  kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)
  [[ -n $kernel ]] || { echo "cgroupv2-vm: no /boot/vmlinuz-* (hack/deps.sh installs linux-image-amd64)" >&2; exit 1; }
fi
if [[ ! -x $venv/bin/vng ]]; then
  echo "cgroupv2-vm: installing virtme-ng into $venv" >&2
  python3 -m venv "$venv" && "$venv/bin/pip" install -q virtme-ng
fi

printf -v cmd '%q ' "$@"
start=$(date +%s)
rc=0
cd "$repo"
# through cat: qemu's writes to a regular-file stdout/stderr get overwritten by later writers
PATH=$venv/bin:$PATH vng --run "$kernel" --disable-kvm --append cgroup_no_v1=all --rwdir "$repo" \
  "${vng_opts[@]}" --exec "$cmd" 2> >(cat >&2) | cat || rc=$?
echo "cgroupv2-vm: $(basename "$kernel"), boot + command took $(($(date +%s) - start)) s, exit $rc" >&2
exit "$rc"
