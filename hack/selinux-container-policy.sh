#!/usr/bin/env bash
# Builds, on the host (natively: under the VM's emulation it takes minutes), Debian's
# selinux-policy-default plus the two types podman's labels name: the policy's lxc_contexts
# gives containers container_t and their files container_file_t, which the policy lacks (it has
# no container module), so podman fails its own shm mount (EINVAL). The module declares them
# bare (container_t a domain of system_r, container_file_t a file type), no rules: enough for a
# permissive guest, where labels are applied and reported, not enforced.
#   hack/selinux-container-policy.sh OUT_DIR   writes OUT_DIR/policy.NN (hack/selinux-tests.sh
#   loads it when POLICY names it). Reads the installed store, changes nothing outside OUT_DIR.
set -euo pipefail
out=${1:?usage: $0 OUT_DIR}
die() { echo "selinux-container-policy: $*" >&2; exit 1; }
command -v semodule >/dev/null || die "semodule missing (hack/deps.sh vm installs selinux-basics)"
[[ -d /var/lib/selinux/default ]] || die "no /var/lib/selinux/default (hack/deps.sh vm installs selinux-policy-default)"
# a private copy of the store: semodule -p builds inside it
r=$(mktemp -d "${TMPDIR:-/tmp}/strata-selpol.XXXXXX")
trap 'rm -rf --one-file-system "$r"' EXIT
mkdir -p "$r/var/lib/selinux" "$r/etc/selinux"
cp -a /var/lib/selinux/default "$r/var/lib/selinux/"
cp -a /etc/selinux/default /etc/selinux/semanage.conf "$r/etc/selinux/"
printf '%s\n' '(type container_t)' '(roletype system_r container_t)' \
  '(typeattributeset domain (container_t))' '(typeattributeset mcs_constrained_type (container_t))' \
  '(type container_file_t)' '(typeattributeset file_type (container_file_t))' >"$r/container.cil"
# -n: build only, load nothing (the host's kernel may not even run SELinux); its warnings about
# the store's users missing from this passwd are the host's and harmless
semodule -p "$r" -n -i "$r/container.cil" 2> >(grep -v 'not in password file' >&2)
mkdir -p "$out"
cp "$r"/etc/selinux/default/policy/policy.* "$out/"
echo "selinux-container-policy: $(ls "$out"/policy.*)"
