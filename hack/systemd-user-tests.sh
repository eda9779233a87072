#!/usr/bin/env bash
# shellcheck disable=SC2015  # ok and bad always succeed: A && ok || bad is an if-else here
# Runs inside the systemd VM (hack/systemd-tests.sh --user, make test-systemd-user): rootless
# containers with the systemd cgroup driver, whose units belong to the caller's user manager
# (systemd --user), as rootless podman's --cgroup-manager systemd makes them. A user made in the
# guest alone (nothing reaches the host) gets its manager (user@UID.service);
# then for each runtime given (absolute paths), that user runs a container with memory and pids
# limits (`spec --rootless`, cgroupsPath user.slice:rt:ID), and the unit, its cgroup below the
# manager's, exec, update and delete are checked from outside. Prints PASS/FAIL per check.
set -uo pipefail
(($#)) || { echo "usage: $0 RUNTIME..." >&2; exit 2; }
u=rtsduser home=/run/rt/$u
if ! id -u "$u" >/dev/null 2>&1; then
  # The guest's /etc is the host's, read-only: the user goes into copies of passwd, group and
  # shadow (PAM's account check of user@.service reads it) bound over them in the guest alone
  # (useradd's rename cannot replace a bind target).
  uid=2999
  getent passwd "$uid" >/dev/null && { echo "systemd-user-tests: uid $uid is taken" >&2; exit 1; }
  for f in passwd group shadow; do cp -p "/etc/$f" "/run/rt/$f"; done
  echo "$u:x:$uid:$uid::$home:/bin/sh" >>/run/rt/passwd
  echo "$u:x:$uid:" >>/run/rt/group
  echo "$u:!:19000::::::" >>/run/rt/shadow
  for f in passwd group shadow; do mount --bind "/run/rt/$f" "/etc/$f"; done
  mkdir -p "$home" && chown "$uid:$uid" "$home"
fi
uid=$(id -u "$u") gid=$(id -g "$u")
if ! systemctl start "user@$uid.service"; then
  echo "systemd-user-tests: user@$uid.service did not start" >&2
  journalctl -b -n 30 --no-pager >&2
  exit 1
fi
run=/run/user/$uid
for _ in $(seq 100); do [[ -S $run/bus ]] && break; sleep 0.2; done
[[ -S $run/bus ]] || { echo "systemd-user-tests: no $run/bus (dbus-user-session)" >&2; exit 1; }
as_user() {
  timeout 120 setpriv "--reuid=$uid" "--regid=$gid" --init-groups env -i "HOME=$home" "USER=$u" \
    "XDG_RUNTIME_DIR=$run" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@"
}
mgr=$(as_user systemctl --user show -p ControlGroup --value)
echo "user manager of $u (uid $uid): cgroup $mgr"
pass=0 fail=0
ok() { echo "PASS: $rtn: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $rtn: $*"; fail=$((fail + 1)); }
prop() { as_user systemctl --user show -p "$1" --value "$2" 2>&1; }
for rt in "$@"; do
  rtn=$(basename "$rt")
  id=u$rtn$$ w=$home/$rtn
  rm -rf "$w"; mkdir -p "$w"
  B=$w/bundle R=$w/root
  bash hack/mkbundle.sh "$B" --runtime "$rt" >/dev/null
  # the user's own copy: the build tree may not be reachable by it
  cp "$rt" "$w/$rtn" && rt=$w/$rtn
  chown -R "$uid:$gid" "$w"
  # spec --rootless maps the caller's own uid: the user writes it
  rm -f "$B/config.json" && (cd "$B" && as_user "$rt" spec --rootless) || { bad "spec --rootless"; continue; }
  jq --arg cg "user.slice:rt:$id" '.process.args = ["sleep", "1000"] | .process.terminal = false
    | .linux.cgroupsPath = $cg | .linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 50}}
    | .linux.namespaces |= map(select(.type != "cgroup"))' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
  chown "$uid:$gid" "$B/config.json"
  unit=rt-$id.scope want=$mgr/user.slice/$unit
  # Bad input: neither $DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR names the user's bus. One
  # line naming them, and no state, unit or cgroup left (a refusal over anything else fails).
  nb=${id}nb
  if timeout 120 setpriv "--reuid=$uid" "--regid=$gid" --init-groups env -i "HOME=$home" "USER=$u" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$rt" --root "$R" --systemd-cgroup run -d --bundle "$B" "$nb" \
    </dev/null >"$w/nobus.log" 2>&1; then
    bad "run with no bus variable set succeeded"
    as_user "$rt" --root "$R" delete -f "$nb" >/dev/null 2>&1
  elif [[ $(wc -l <"$w/nobus.log") == 1 ]] && grep -q 'DBUS_SESSION_BUS_ADDRESS\|XDG_RUNTIME_DIR' "$w/nobus.log" &&
    [[ ! -e $R/$nb && $(prop LoadState "rt-$nb.scope") == not-found ]]; then
    # A named deviation: runc 1.1 refuses in one line, leaving nothing, but names neither variable
    # (it falls back to `systemctl --user show-environment` and reports that failing).
    [[ $rtn == runc ]] && bad "runc names the bus variables now: drop the named deviation" ||
      ok "no bus variable: refused in one line naming them, nothing left"
  elif [[ $rtn == runc ]]; then
    echo "DEVIATION: runc: no bus variable: $(tr '\n' ' ' <"$w/nobus.log")(state $([[ -e $R/$nb ]] && echo left || echo gone), unit $(prop LoadState "rt-$nb.scope"))"
  else
    bad "no bus variable: $(cat "$w/nobus.log") (state $([[ -e $R/$nb ]] && echo left || echo gone), unit $(prop LoadState "rt-$nb.scope"))"
  fi
  if ! as_user "$rt" --root "$R" --systemd-cgroup run -d --bundle "$B" "$id" </dev/null >"$w/run.log" 2>&1; then
    bad "run -d: $(cat "$w/run.log")"; continue
  fi
  ok "run -d as uid $uid"
  pid=$(as_user "$rt" --root "$R" state "$id" | jq .pid)
  got=$(cut -d: -f3 "/proc/$pid/cgroup")
  [[ $got == "$want" ]] && ok "init in the user manager's unit: $got" || bad "init's cgroup $got, want $want"
  [[ $(prop ActiveState "$unit") == active && $(prop Slice "$unit") == user.slice ]] &&
    ok "unit $unit active in user.slice" || bad "unit: $(prop ActiveState "$unit") in $(prop Slice "$unit")"
  d=/sys/fs/cgroup$want
  [[ $(cat "$d/memory.max") == 67108864 && $(cat "$d/pids.max") == 50 && $(prop MemoryMax "$unit") == 67108864 ]] &&
    ok "limits: memory.max, pids.max and the unit's MemoryMax" ||
    bad "limits: memory.max $(cat "$d/memory.max"), pids.max $(cat "$d/pids.max"), MemoryMax $(prop MemoryMax "$unit")"
  got=$(as_user "$rt" --root "$R" exec "$id" cat /proc/self/cgroup 2>&1)
  if [[ $rtn == runc ]]; then
    # A named deviation: runc 1.1's rootless exec ignores the refused cgroup move (the common
    # ancestor of the caller's cgroup and the unit's is not the user's) and runs the process in the
    # caller's cgroup, outside the container's limits. Should runc join, the deviation is stale.
    [[ $got != "0::$want" ]] && echo "DEVIATION: runc: exec ran in the caller's cgroup ($got), not the unit's" ||
      bad "runc's exec joined the unit's cgroup now: drop the named deviation"
  else
    [[ $got == "0::$want" ]] && ok "exec joins the unit's cgroup" || bad "exec's cgroup: $got"
  fi
  if out=$(as_user "$rt" --root "$R" update --memory 134217728 "$id" 2>&1); then
    [[ $(cat "$d/memory.max") == 134217728 && $(prop MemoryMax "$unit") == 134217728 ]] &&
      ok "update --memory: the file and the unit" || bad "after update: memory.max $(cat "$d/memory.max"), MemoryMax $(prop MemoryMax "$unit")"
  else bad "update: $out"; fi
  as_user "$rt" --root "$R" kill "$id" KILL || bad "kill"
  for _ in $(seq 50); do [[ $(as_user "$rt" --root "$R" state "$id" | jq -r .status) == stopped ]] && break; sleep 0.2; done
  if out=$(as_user "$rt" --root "$R" delete "$id" 2>&1); then
    for _ in $(seq 50); do [[ $(prop LoadState "$unit") == not-found && ! -d $d ]] && break; sleep 0.1; done
    [[ $(prop LoadState "$unit") == not-found && ! -d $d ]] && ok "delete: no unit, no cgroup" ||
      bad "after delete: unit $(prop LoadState "$unit"), cgroup $([[ -d $d ]] && echo left || echo gone)"
  else bad "delete: $out"; fi
done
systemctl stop "user@$uid.service" || true
echo "systemd-user-tests: $pass passed, $fail failed"
((fail == 0))
