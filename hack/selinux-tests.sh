#!/usr/bin/env bash
# Runs inside the SELinux VM (make test-selinux: Debian's kernel booted with selinux=1
# security=selinux enforcing=0). Loads selinux-policy-default (--policy FILE: that binary policy
# instead, hack/selinux-container-policy.sh's build of it with podman's two types) and stays
# permissive but for one step: the guest's files are the host's, over 9p with no SELinux labels,
# which no confined domain may enter by; permissive still applies and reports every label. For
# each runtime (--runtime PATH, repeatable; default strata), on a tmpfs:
#   run:  process.selinuxLabel is the container's attr/current, and its session keyring's label;
#         linux.mountLabel is context= on the tmpfs mounts (/dev, /dev/shm) in its mountinfo
#   exec: exec --process-label's label is attr/current; the mqueue root carries the mountLabel
#         (runc mounts mqueue without context= and labels its root directory)
#   enforcing, for that one run (below): on a rootfs labelled for the domain, a confined
#         selinuxLabel is attr/current and its policy's denial holds; noNewPrivileges refused
# Then hack/podman-selinux-tests.sh: podman's labels through each runtime.
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
policy=''
script_opt() { case $1 in --policy) policy=${2:?--policy needs a file} took=2 ;; *) return 1 ;; esac; }
parse_runtime_args "$@"
shift "$nparsed"
(($# == 0)) || { echo "usage: $0 [--policy FILE] [--runtime PATH]..." >&2; exit 2; }
die() { echo "selinux-tests: $*" >&2; exit 1; }
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
grep -qw selinux /sys/kernel/security/lsm ||
  die "SELinux is not active (LSMs: $(cat /sys/kernel/security/lsm)); boot with selinux=1 security=selinux"
mountpoint -q /sys/fs/selinux || mount -t selinuxfs selinuxfs /sys/fs/selinux
if [[ -n $policy ]]; then
  # load_policy loads only the installed policy. In one write(2), as it does: selinuxfs takes
  # each write as a whole policy.
  dd if="$policy" of=/sys/fs/selinux/load bs=64M iflag=fullblock conv=notrunc status=none ||
    die "loading $policy failed"
else
  command -v load_policy >/dev/null || die "load_policy missing (hack/deps.sh vm installs selinux-basics)"
  load_policy || die "load_policy failed (hack/deps.sh vm installs selinux-policy-default)"
fi
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

# Enforcing, for one container a runtime: the guest's own files are unlabelled, so only this
# step runs enforcing, on a rootfs of its own tmpfs labelled for the domain it runs in. kmod_t
# is a confined domain the runtime's (kernel_t, unconfined) may transition to (svirt_t it may
# not: only virtd_t may) and that enters by kmod_exec_t files: /bin/busybox is kmod_exec_t,
# /bin bin_t and / root_t, which kmod_t may search but not write. So in the container
# attr/current reads kmod_t and creating /denied fails; the same run permissive writes it. With
# noNewPrivileges the policy refuses the transition itself (no nnp_transition to kmod_t): the
# execve fails, in runc as in strata.
enf=$w/enf enf_label=system_u:system_r:kmod_t:s0
r=$enf/bundle/rootfs
mkdir -p $r
mount -t tmpfs -o rootcontext=system_u:object_r:root_t:s0 tmpfs $r
mkdir -p $r/bin
cp /usr/bin/busybox $r/bin/
ln -s busybox $r/bin/sh
chcon -R system_u:object_r:bin_t:s0 $r/bin
chcon system_u:object_r:kmod_exec_t:s0 $r/bin/busybox
# shell builtins only: kmod_t may execute nothing but its entrypoint
jq --arg l "$enf_label" '.process.selinuxLabel = $l | .process.noNewPrivileges = false | del(.linux.mountLabel)
  | .process.args = ["sh", "-c",
  "read -r l </proc/self/attr/current; echo \"$l\"; if echo x >/denied; then echo wrote; else echo denied; fi"]' \
  $w/config.json >$enf/config.json
jq '.process.noNewPrivileges = true' $enf/config.json >$enf/config-nnp.json
enforce() { echo "$1" >/sys/fs/selinux/enforce; }
trap 'enforce 0' EXIT
(sleep 180; enforce 0) &  # the guest goes back to permissive even if a run hangs
watchdog=$!
# enf_run 0|1 CONFIG: one run of CONFIG as the bundle's config, permissive or enforcing; its
# stdout in $got, its stderr in $enf/err. Only stdout, a pipe of this shell's, is one kmod_t may
# use: strata hands the container its own stdio (runc, pipes it makes), and the kernel swaps
# at the execve each file the new domain may not use (here the guest's /dev/null and err).
enf_run() {
  cp "$2" $enf/bundle/config.json
  enforce "$1"
  got=$(timeout 60 "$rt" --root "$root" run --bundle $enf/bundle "$id" </dev/null 2>$enf/err) || true
  enforce 0
  "$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
  rm -f $enf/bundle/rootfs/denied
}
for rt in "${runtimes[@]}"; do
  rtn=$(basename "$rt") root=$enf/root-$rtn id=enf-$rtn-$$
  enf_run 1 $enf/config.json
  check "enforcing: process.selinuxLabel is attr/current and a denied write fails" \
    "$enf_label"$'\n'denied "$got; stderr: $(cat $enf/err)"
  enf_run 1 $enf/config-nnp.json
  check "enforcing, noNewPrivileges: the transition is refused at execve" "operation not permitted" "$(cat $enf/err)"
  enf_run 0 $enf/config.json
  check "permissive: the same write succeeds (the denial was SELinux's)" "$enf_label"$'\n'wrote "$got; stderr: $(cat $enf/err)"
done
kill "$watchdog" 2>/dev/null || true
echo "AVC denials while enforcing (the last 10):"
dmesg | grep 'avc:  denied' | grep -v permissive=1 | tail -10 || true
umount -l $r

rtargs=()
for rt in "${runtimes[@]}"; do rtargs+=(--runtime "$rt"); done
bash hack/podman-selinux-tests.sh "${rtargs[@]}" || fails=$((fails + 1))
echo "selinux-tests: $fails failed"
((fails == 0))
