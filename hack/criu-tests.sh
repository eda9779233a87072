#!/usr/bin/env bash
# shellcheck disable=SC2015  # ok and bad always succeed: A && ok || bad is an if-else here
# Runs inside the 6.1 VM (make test-criu; Debian's CRIU 3.17 fails `criu check` on the 6.18 host):
# for each runtime (--runtime PATH, repeatable; default strata), a busybox container that holds
# memory state (a shell counter), an open file (fd 3, appended each tick), a bound unix socket
# (syslogd's /dev/log) and a bind mount of a host directory is checkpointed, restored (stdio:
# pipes, as engines give them), exec'd into, checkpointed again with --leave-running, and killed
# and deleted. With --full (make test-criu), also a --pre-dump, a dump on top of it (--parent-path)
# and a restore from that. Prints PASS/FAIL per step.
set -uo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
runtimes=() full=0
while (($#)); do
  case $1 in
    --runtime) runtimes+=("${2:?--runtime needs a path}"); shift 2 ;;
    --full) full=1; shift ;;
    *) echo "usage: $0 [--full] [--runtime PATH]..." >&2; exit 2 ;;
  esac
done
((${#runtimes[@]})) || runtimes=("$PWD/$out/strata")
echo "kernel $(uname -r); $(criu --version | head -1)"
criu check >/tmp/criu-check.log 2>&1 && echo "criu check: $(tail -1 /tmp/criu-check.log)" ||
  { echo "criu check FAILED:"; cat /tmp/criu-check.log; exit 1; }
mkdir -p /run/ct && { mountpoint -q /run/ct || mount -t tmpfs tmpfs /run/ct; }
pass=0 fail=0
ok() { echo "PASS: $rtn: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $rtn: $*"; fail=$((fail + 1)); }
for rt in "${runtimes[@]}"; do
  rtn=$(basename "$rt")
  w=/run/ct/$rtn; rm -rf "$w"; mkdir -p "$w/share"; B=$w/bundle R=$w/root id=ck-$rtn
  bash hack/mkbundle.sh "$B" --runtime "$rt" -- sh -c 'syslogd -n -O /tmp/sys.log & exec 3>>/tmp/held.txt; i=0; while :; do i=$((i+1)); echo $i > /share/count; echo "tick $i" >&3; sleep 1; done' >/dev/null
  jq --arg s "$w/share" '.root.readonly=false | .mounts += [{"destination":"/share","type":"bind","source":$s,"options":["rbind","rw"]}]' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
  "$rt" --root "$R" run -d --bundle "$B" "$id" < <(sleep 3000) > >(cat >"$w/out1.log") 2>&1 || bad "run -d"
  sleep 5
  "$rt" --root "$R" exec "$id" logger hello-before || bad "exec before"
  before=$(cat "$w/share/count")
  pid1=$("$rt" --root "$R" state "$id" | jq .pid)
  start=$(date +%s)
  if "$rt" --root "$R" checkpoint --image-path "$w/img" --work-path "$w/work" "$id" 2>"$w/ck.err"; then
    ok "checkpoint at count $before ($(($(date +%s) - start)) s)"
  else
    bad "checkpoint: $(cat "$w/ck.err")"; tail -5 "$w/work/dump.log"; continue
  fi
  at=$(cat "$w/share/count"); sleep 3
  [[ $(cat "$w/share/count") == "$at" ]] && ok "no process runs after checkpoint (count stays $at)" || bad "count moved after checkpoint"
  "$rt" --root "$R" state "$id" >/dev/null 2>&1 && bad "state still exists after checkpoint" || ok "checkpoint without --leave-running removed the container"
  start=$(date +%s)
  if "$rt" --root "$R" restore -d --image-path "$w/img" --work-path "$w/work" --bundle "$B" "$id" < <(sleep 3000) > >(cat >"$w/out2.log") 2>"$w/rs.err"; then
    ok "restore ($(($(date +%s) - start)) s)"
  else
    bad "restore: $(cat "$w/rs.err")"; tail -5 "$w/work/restore.log"; continue
  fi
  st=$("$rt" --root "$R" state "$id")
  [[ $(jq -r .status <<<"$st") == running ]] && ok "state: running" || bad "state after restore: $st"
  pid2=$(jq .pid <<<"$st")
  [[ $pid2 -gt 0 && $pid2 != "$pid1" ]] && ok "new pid $pid2 (was $pid1)" || bad "pid after restore: $pid2 (was $pid1)"
  sleep 4
  now=$(cat "$w/share/count")
  ((now > at)) && ok "counter goes on from memory: $at -> $now" || bad "counter did not go on: $at -> $now"
  ones=$("$rt" --root "$R" exec "$id" grep -c '^tick 1$' /tmp/held.txt)
  last=$("$rt" --root "$R" exec "$id" tail -1 /tmp/held.txt)
  [[ $ones == 1 && $last == tick* && ${last#tick } -ge $now ]] &&
    ok "held fd 3 still appends (last: $last, 'tick 1' x$ones)" || bad "held file: last '$last', 'tick 1' x$ones"
  "$rt" --root "$R" exec "$id" logger hello-after; sleep 2
  log=$("$rt" --root "$R" exec "$id" cat /tmp/sys.log)
  grep -q hello-before <<<"$log" && grep -q hello-after <<<"$log" &&
    ok "syslogd's unix socket works after restore" || bad "syslog: $log"
  # --leave-running: the images are written and the container goes on
  if "$rt" --root "$R" checkpoint --leave-running --image-path "$w/img2" --work-path "$w/work2" "$id" 2>"$w/ck2.err"; then
    at=$(cat "$w/share/count"); sleep 3
    [[ $("$rt" --root "$R" state "$id" | jq -r .status) == running && $(cat "$w/share/count") -gt $at && -s $w/img2/inventory.img ]] &&
      ok "checkpoint --leave-running: images written, still running" || bad "after --leave-running: count $at -> $(cat "$w/share/count")"
  else
    bad "checkpoint --leave-running: $(cat "$w/ck2.err")"
  fi
  if ((full)); then
    # Iterative migration: a pre-dump (memory only; the container goes on), then a dump that
    # writes only the pages dirtied since (--parent-path, relative to the image dir), restored.
    if "$rt" --root "$R" checkpoint --pre-dump --image-path "$w/pre" --work-path "$w/workp" "$id" 2>"$w/pre.err"; then
      [[ $("$rt" --root "$R" state "$id" | jq -r .status) == running && -n $(find "$w/pre" -name 'pages-*.img' -size +0) ]] &&
        ok "checkpoint --pre-dump: pages written, still running" || bad "after --pre-dump: $(ls "$w/pre")"
    else
      bad "checkpoint --pre-dump: $(cat "$w/pre.err")"; tail -5 "$w/workp/dump.log"
    fi
    if "$rt" --root "$R" checkpoint --parent-path ../pre --image-path "$w/img3" --work-path "$w/work3" "$id" 2>"$w/ck3.err"; then
      at=$(cat "$w/share/count")
      [[ -L $w/img3/parent ]] && ok "checkpoint --parent-path: a dump on the pre-dump (at count $at)" ||
        bad "checkpoint --parent-path: no parent link in $w/img3"
      if "$rt" --root "$R" restore -d --image-path "$w/img3" --work-path "$w/work3r" --bundle "$B" "$id" < <(sleep 3000) > >(cat >"$w/out3.log") 2>"$w/rs3.err"; then
        sleep 4
        (($(cat "$w/share/count") > at)) && ok "restore from the dump on a pre-dump: counter goes on from $at" ||
          bad "after restore on a pre-dump: count $at -> $(cat "$w/share/count")"
      else
        bad "restore on a pre-dump: $(cat "$w/rs3.err")"; tail -5 "$w/work3r/restore.log"; continue
      fi
    else
      bad "checkpoint --parent-path: $(cat "$w/ck3.err")"; tail -5 "$w/work3/dump.log"
    fi
  fi
  "$rt" --root "$R" kill "$id" KILL || bad "kill"
  for _ in $(seq 50); do [[ $("$rt" --root "$R" state "$id" | jq -r .status) == stopped ]] && break; sleep 0.2; done
  "$rt" --root "$R" delete "$id" && ok "kill + delete" || bad "delete"
  "$rt" --root "$R" state "$id" >/dev/null 2>&1 && bad "state after delete" || true
done
echo "criu-tests: $pass passed, $fail failed"
((fail == 0))
