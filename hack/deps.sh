#!/usr/bin/env bash
# Install every Debian 12 package that strata's build, tests, benchmark and cgroup VMs need, Rust
# through rustup if cargo is missing (Debian 12's cargo 1.63 is too old), and (vm) virtme-ng from PyPI
# into a venv (VNG_VENV, default /tmp/strata-vng-env). Safe to run again. --print lists, installs nothing.
set -euo pipefail

usage() { echo "usage: $0 [--print] [build|test|bench|vm]...   (default: all groups)" >&2; exit 2; }

declare -A group=(
  [build]="build-essential pkg-config libseccomp-dev curl ca-certificates"
  # protobuf-compiler: protoc, for the test-only CRI client (runtime-tests/cri-client)
  # uidmap: newuidmap/newgidmap, for the rootless tests' subordinate id ranges; passwd: useradd
  [test]="busybox-static runc crun podman containerd docker.io criu skopeo umoci iproute2 util-linux strace jq protobuf-compiler uidmap passwd"
  [bench]="hyperfine strace time binutils jq busybox-static runc crun shellcheck linux-perf gnuplot-nox gcc libc6-dev"
  # hack/cgroupv2-vm.sh; busybox-static goes into virtme-ng's initramfs (it loads the 9p/virtio modules);
  # apparmor: apparmor_parser for hack/apparmor-tests.sh; selinux-*: the SELinux policy a guest booted
  # with selinux=1 security=selinux loads (load_policy); systemd, dbus: PID 1 and the system bus of
  # the systemd guest (hack/cgroupv2-vm.sh --systemd); criu: hack/criu-tests.sh (make test-criu)
  [vm]="qemu-system-x86 linux-image-amd64 python3-venv busybox-static apparmor selinux-basics selinux-policy-default systemd dbus criu"
)
print=0 groups=()
for a in "$@"; do
  case $a in
    --print) print=1 ;;
    build | test | bench | vm) groups+=("$a") ;;
    *) usage ;;
  esac
done
((${#groups[@]})) || groups=(build test bench vm)

pkgs=$(for g in "${groups[@]}"; do echo "${group[$g]}"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
if ((print)); then echo "$pkgs"; exit 0; fi
((EUID == 0)) || { echo "deps: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq $pkgs

# Rust (build, test: `make lint` needs rustfmt and clippy) from rustup, never from apt.
if [[ " ${groups[*]} " == *" build "* || " ${groups[*]} " == *" test "* ]]; then
  PATH=$HOME/.cargo/bin:$PATH
  if ! command -v cargo >/dev/null; then
    echo "deps: cargo not found: installing Rust stable with rustup into ~/.cargo" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    echo "deps: add ~/.cargo/bin to PATH" >&2
  elif ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  fi
fi

# virtme-ng (vm), pinned: the version hack/cgroupv2-vm.sh is tested with. A venv whose vng does not
# answer with that version (missing, half-installed, other version) is made again from scratch.
if [[ " ${groups[*]} " == *" vm "* ]]; then
  venv=${VNG_VENV:-/tmp/strata-vng-env} vng_version=1.42
  if [[ $("$venv/bin/vng" --version 2>/dev/null) != "virtme-ng $vng_version" ]]; then
    echo "deps: installing virtme-ng $vng_version into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "virtme-ng==$vng_version"
    "$venv/bin/vng" --version >/dev/null
  fi
fi
