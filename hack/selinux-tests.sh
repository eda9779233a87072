#!/usr/bin/env bash
# Runs inside the SELinux VM (make test-selinux: Debian's kernel booted with selinux=1
# security=selinux enforcing=0). Loads selinux-policy-default and stays permissive: the guest's
# files are the host's, over 9p/virtiofs with no SELinux labels, so enforcing would deny the
# runtime itself; permissive still applies and reports every label. For each runtime (--runtime
# PATH, repeatable; default strata), on a tmpfs:
#   run:  process.selinuxLabel is the container's attr/current, and its session keyring's label;
#         linux.mountLabel is context= on the tmpfs mounts (/dev, /dev/shm) in its mountinfo
#   exec: exec --process-label's label is attr/current; the mqueue root carries the mountLabel
#         (runc mounts mqueue without context= and labels its root directory)
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
parse_runtime_args "$@"
shift "$nparsed"
no_more_args "$0" "$@"
die() { echo "selinux-tests: $*" >&2; exit 1; }
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
grep -qw selinux /sys/kernel/security/lsm ||
  die "SELinux is not active (LSMs: $(cat /sys/kernel/security/lsm)); boot with selinux=1 security=selinux"
mountpoint -q /sys/fs/selinux || mount -t selinuxfs selinuxfs /sys/fs/selinux
command -v load_policy >/dev/null || die "load_policy missing (hack/deps.sh vm installs selinux-basics)"
load_policy || die "load_policy failed (hack/deps.sh vm installs selinux-policy-default)"
echo 0 >/sys/fs/selinux/enforce
echo "LSMs: $(cat /sys/kernel/security/lsm); policy $(cat /sys/fs/selinux/policyvers); enforce $(cat /sys/fs/selinux/enforce)"

label=system_u:system_r:svirt_t:s0:c1,c2 exec_label=system_u:system_r:svirt_t:s0:c3,c4
mount_label=system_u:object_r:svirt_tmpfs_t:s0:c1,c2
w=/run/sel
mkdir -p $w && { mountpoint -q $w || mount -t tmpfs tmpfs $w; }
mkdir -p $w/bundle/rootfs/bin
cp /usr/bin/busybox $w/bundle/rootfs/bin/
for t in sh cat tr sleep; do ln -sf busybox $w/bundle/rootfs/bin/$t; done
cp "$out/probe" $w/bundle/rootfs/probe
(cd $w/bundle && "${runtimes[0]}" spec)
jq --arg l "$label" --arg m "$mount_label" '.process.terminal = false | .process.selinuxLabel = $l
  | .linux.mountLabel = $m | .root.readonly = false' $w/bundle/config.json >$w/config.json
fails=0
check() {  # name, want, got
  if [[ $3 == *"$2"* ]]; then echo "ok   $rtn: $1"; else
    echo "FAIL $rtn: $1: want $2, got: $3"; fails=$((fails + 1)); fi
}
for rt in "${runtimes[@]}"; do
  rtn=$(basename "$rt") root=$w/root-$rtn id=sel-$rtn-$$
  jq '.process.args = ["sh", "-c", "cat /proc/self/attr/current | tr -d \"\\\\0\"; echo; /probe keylabel; cat /proc/self/mountinfo"]' \
    $w/config.json >$w/bundle/config.json
  got=$("$rt" --root "$root" run --bundle $w/bundle "$id" 2>&1) || true
  check "run: process.selinuxLabel is attr/current" "$label"$'\n' "$got"
  check "run: the session keyring has the process label" "\"label\":\"$label\"" "$got"
  check "run: mountLabel on the /dev tmpfs" " /dev rw,nosuid - tmpfs tmpfs rw,context=\"$mount_label\"" "$got"
  check "run: mountLabel on the /dev/shm tmpfs" "context=\"$mount_label\"" "$(grep ' /dev/shm ' <<<"$got" || true)"
  "$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true

  jq '.process.args = ["sleep", "60"]' $w/config.json >$w/bundle/config.json
  if "$rt" --root "$root" run -d --bundle $w/bundle "$id" >$w/run.out 2>&1; then
    pid=$("$rt" --root "$root" state "$id" | jq .pid)
    got=$("$rt" --root "$root" exec --process-label "$exec_label" "$id" sh -c 'cat /proc/self/attr/current | tr -d "\0"; echo; /probe keylabel' 2>&1) || true
    check "exec --process-label is attr/current" "$exec_label"$'\n' "$got"
    check "exec joins the container's session keyring (labelled at create)" "\"label\":\"$label\"" "$got"
    check "mqueue root labelled with mountLabel" "$mount_label" "$(stat -c %C /proc/"$pid"/root/dev/mqueue 2>&1)"
  else
    echo "FAIL $rtn: run -d: $(cat $w/run.out)"; fails=$((fails + 1))
  fi
  "$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
done
echo "selinux-tests: $fails failed"
((fails == 0))
