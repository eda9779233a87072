#!/usr/bin/env bash
# The start-up benchmark suite (targets: docs/benchmarks.md): the floor (shared/bench/floor.c), strata, crun, runc and youki (when
# on PATH), every workload timed with all peers in ONE hyperfine invocation, reported as ratios.
#   workloads: run of /bin/true (back-to-back and after idle), create / start / delete separately,
#              exec into a running container, state and list with N_STATE containers present,
#              CONC concurrent create (and create/start/delete) lifecycles;
#   metrics:   mean, p50/p90/p99, CPU time, context switches, page faults (perf stat), syscalls and
#              execve (strace -f -c), peak RSS, PSS of a created-but-not-started container, stripped
#              size, hangs per HANG_RUNS runs.
# Prints a markdown section on stdout (and writes it to --markdown FILE) and draws the latency plot
# (--plot FILE, gnuplot). Needs root and `hack/deps.sh bench`. BENCH_QUICK=1 is a ~1 minute trial.
set -euo pipefail

usage() {
  cat >&2 <<EOF
usage: $0 [--markdown FILE] [--plot PNG] [--json-dir DIR] [--no-cgroup-fix]
env (defaults; BENCH_QUICK=1 divides them for a quick trial):
  RUNS=300 WARMUP=20     back-to-back run          IDLE_RUNS=100  run after 'sleep 0.1'
  OP_RUNS=100            create, start, delete, exec, state, list
  N_STATE=1000           containers present for state and list
  CONC=100 CONC_RUNS=5   concurrent lifecycles     PERF_RUNS=50   perf stat repetitions
  HANG_RUNS=10000        strata runs in the hang loop (HANG_PEER_RUNS=1000 for each peer)
  STRATA=path FLOOR_C=path SPEC_RUNTIME=runc FLOOR_MODE=0|1|2
EOF
  exit 2
}
repo=$(cd "$(dirname "$0")/.." && pwd)
md_out='' plot_out='' json_dir=$repo/target/bench cgroup_fix=1
args=("$@")
while (($#)); do
  case $1 in
    --markdown) md_out=${2:?--markdown needs a FILE}; shift 2 ;;
    --plot) plot_out=${2:?--plot needs a FILE}; shift 2 ;;
    --json-dir) json_dir=${2:?--json-dir needs a DIR}; shift 2 ;;
    --no-cgroup-fix) cgroup_fix=0; shift ;;
    *) usage ;;
  esac
done
if [[ -n ${BENCH_QUICK:-} ]]; then
  : "${RUNS:=30}" "${WARMUP:=3}" "${IDLE_RUNS:=10}" "${OP_RUNS:=10}" "${N_STATE:=50}" "${CONC:=20}"
  : "${CONC_RUNS:=2}" "${PERF_RUNS:=5}" "${HANG_RUNS:=200}" "${HANG_PEER_RUNS:=50}"
fi
runs=${RUNS:-300} warmup=${WARMUP:-20} idle_runs=${IDLE_RUNS:-100} op_runs=${OP_RUNS:-100}
n_state=${N_STATE:-1000} conc=${CONC:-100} conc_runs=${CONC_RUNS:-5} perf_runs=${PERF_RUNS:-50}
hang_runs=${HANG_RUNS:-10000} hang_peer_runs=${HANG_PEER_RUNS:-1000} hang_timeout=${HANG_TIMEOUT:-10}
[[ $md_out == /* || -z $md_out ]] || md_out=$PWD/$md_out
[[ $plot_out == /* || -z $plot_out ]] || plot_out=$PWD/$plot_out

# crun 1.8.1 refuses a hybrid host whose cgroup2 mount holds a controller (here hugetlb), even with
# --cgroup-manager=disabled. So the whole benchmark runs in a private mount namespace where
# /dev/null is bound over that cgroup.controllers: every runtime (and the floor) then sees a hybrid
# host with an empty cgroup2 mount. Nothing changes for the rest of the host.
# The state roots (every runtime's --root) go on a tmpfs mounted in that namespace too, as on a
# real host, where they live in /run (tmpfs; /run/runc, /run/crun, /run/strata). On this VM /run is
# on the ext4 root filesystem, where strata's fsync of state.json costs ~1 ms per run that runc and
# crun (no fsync) don't pay; the `strata@ext4` row of the run workloads keeps that case measured.
# STATE_FS=disk puts every root on ext4 (under /tmp) instead.
ctl=/sys/fs/cgroup/unified/cgroup.controllers
if [[ -z ${BENCH_NS:-} ]]; then
  ctl_content=''
  ((cgroup_fix)) && [[ -r $ctl ]] && ctl_content=$(<"$ctl")
  exec env BENCH_NS="${ctl_content:-none}" unshare --mount --propagation private "$(readlink -f "$0")" "${args[@]}"
fi
for t in hyperfine strace jq gcc strip size readelf /usr/bin/time perf gnuplot timeout xargs; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (run: bash hack/deps.sh bench)" >&2; exit 1; }
done
((EUID == 0)) || { echo "bench: must run as root" >&2; exit 1; }
perf stat -e task-clock true >/dev/null 2>&1 || { echo "bench: 'perf stat -e task-clock true' fails here (perf_event_paranoid?)" >&2; exit 1; }

work=$(mktemp -d /tmp/strata-bench.XXXXXX)
bundle=$work/bundle
st=$work/state      # the runtimes' --root dirs (a tmpfs unless STATE_FS=disk)
mkdir -p "$st"
if [[ ${STATE_FS:-tmpfs} == tmpfs ]]; then
  mount -t tmpfs -o mode=700,size=1g strata-bench-state "$st"
fi
declare -A bin=()   # runtime name -> binary
# youki 0.7 blocks SIGCHLD only after starting the container, so a quick payload's SIGCHLD is lost and
# `run` hangs (~2% of runs here); started with SIGCHLD already blocked it never does. Costs ~0.7 ms.
# The hang loop calls youki bare, to count exactly those hangs.
declare -A wrap=([youki]="env --block-signal=CHLD ")
names=()            # runtimes that passed the probe, in table order
notes=()
started_at=$(date +%s)

note() { notes+=("$*"); echo "bench: $*" >&2; }
step() { echo "bench: [$(($(date +%s) - started_at)) s] $*" >&2; }
R() { echo "${wrap[$1]:-}${bin[$1]} --root $st/root-$1"; }                   # runtime command prefix
rt_cmd() { echo "$(R "$1") run --bundle $2 $3"; }                              # for hyperfine/time/strace

cleanup() {
  set +e
  local n root id
  for n in "${!bin[@]}"; do
    for root in "$st/root-$n" "$st/many-$n"; do
      [[ -d $root ]] || continue
      for id in $("${bin[$n]}" --root "$root" list -q 2>/dev/null); do
        "${bin[$n]}" --root "$root" delete -f "$id" >/dev/null 2>&1
      done
    done
  done
  for root in "$work/root-ext4"; do
    [[ -d $root && -n ${bin[strata]:-} ]] || continue
    for id in $("${bin[strata]}" --root "$root" list -q 2>/dev/null); do "${bin[strata]}" --root "$root" delete -f "$id" >/dev/null 2>&1; done
  done
  mountpoint -q "$st" && umount -l "$st"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Bundles (spec from runc: floor.c mirrors runc's default spec; ociVersion 1.0.2 for crun 1.8.1)
spec_rt=${SPEC_RUNTIME:-runc}
"$repo/hack/mkbundle.sh" "$bundle" --runtime "$spec_rt" --oci-version 1.0.2 -- /bin/true >&2
"$repo/hack/mkbundle.sh" "$work/probe" --runtime "$spec_rt" --oci-version 1.0.2 -- sh -c 'exit 7' >&2
"$repo/hack/mkbundle.sh" "$work/sleeper" --runtime "$spec_rt" --oci-version 1.0.2 -- sleep 100000 >&2
floor=$("$repo/hack/floor.sh" --out "$work/floor")
floor_mode=${FLOOR_MODE:-$("$repo/hack/floor.sh" --mode)}
if [[ ${BENCH_NS:-none} != none ]]; then
  mount --bind /dev/null "$ctl"
  note "ran in a private mount namespace where $ctl (\"$BENCH_NS\") reads empty, so that crun 1.8.1 accepts this hybrid host; the host is unchanged"
fi
if mountpoint -q "$st"; then
  note "every runtime's --root is on a tmpfs (as /run is on a real host); \`strata@ext4\` in the run rows is strata with its --root on this VM's ext4 (/tmp), where it fsyncs state.json"
else
  note "every runtime's --root is on $(stat -f -c %T "$st") (STATE_FS=${STATE_FS:-})"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# Runtimes: each must really run the probe container and return its exit code 7.
newest() { local f best=''; for f; do [[ -x $f && (-z $best || $f -nt $best) ]] && best=$f; done; echo "$best"; }
strata=${STRATA:-$(command -v strata || newest "$repo"/target/{,x86_64-unknown-linux-gnu/}release/strata)}
for n in strata crun runc youki; do
  case $n in strata) b=$strata ;; *) b=$(command -v "$n" || true) ;; esac
  if [[ -z $b || ! -x $b ]]; then
    [[ $n == youki ]] || note "$n skipped: binary not found${b:+ at $b}"
    continue
  fi
  bin[$n]=$(readlink -f "$b")
  if [[ $n == strata ]]; then  # a snapshot, so that a rebuild during the benchmark changes nothing
    note "strata: ${bin[$n]} ($(date -u -r "${bin[$n]}" '+%Y-%m-%d %H:%M UTC'), git $(git -C "$repo" describe --always --dirty 2>/dev/null || echo none))"
    cp "${bin[$n]}" "$work/strata" && bin[$n]=$work/strata
  fi
  mkdir -p "$st/root-$n"
  rc=0
  # shellcheck disable=SC2046  # rt_cmd is split on purpose (paths have no spaces)
  out=$(timeout -s KILL 30 $(rt_cmd "$n" "$work/probe" "probe-$n") 2>&1) || rc=$?
  if ((rc != 7)); then
    note "$n skipped: probe container exited $rc, not 7${out:+: $(echo "$out" | tail -1)}"
    continue
  fi
  names+=("$n")
  [[ -z ${wrap[$n]:-} ]] || note "$n is started as \`${wrap[$n]}$n ...\` (in every timed row; env adds ~0.7 ms, 1 execve, ~40 syscalls)"
done
has() { [[ " ${names[*]} " == *" $1 "* ]]; }

# Helper scripts, one per runtime and job, so that hyperfine -N (no shell) can run them.
script() { # script FILE LINE...: a /bin/sh script
  local f=$1; shift
  { echo '#!/bin/sh'; printf '%s\n' "$@"; } >"$f" && chmod +x "$f"
}
wait_stopped() { # shell snippet: poll `state` until the container has stopped (at most ~1 s)
  echo "i=0; while [ \$i -lt 500 ] && ! $1 state $2 2>/dev/null | grep -q '\"status\": *\"stopped\"'; do sleep 0.002; i=\$((i+1)); done"
}
for n in "${names[@]}"; do
  r=$(R "$n") s=$work/sh-$n
  script "$s-prep-create" "$r delete -f op >/dev/null 2>&1; exit 0"
  script "$s-prep-start" "$r delete -f op >/dev/null 2>&1; exec $r create --bundle $bundle op </dev/null >/dev/null 2>&1"
  script "$s-prep-delete" "$r delete -f op >/dev/null 2>&1; $r create --bundle $bundle op </dev/null >/dev/null 2>&1 && $r start op" \
    "$(wait_stopped "$r" op)"
  script "$s-clean-op" "$r delete -f op >/dev/null 2>&1; exit 0"
  # CONC lifecycles at once: all creates, then (second job) create + start + delete -f each.
  script "$s-conc-clean" "seq $conc | xargs -P 16 -I{} $r delete -f c{} >/dev/null 2>&1; exit 0"
  script "$s-conc-create" "seq $conc | xargs -P $conc -I{} $r create --bundle $bundle c{} >/dev/null"
  script "$s-conc-cycle" "seq $conc | xargs -P $conc -I{} sh -c '$r create --bundle $bundle c{} >/dev/null && $r start c{} && $r delete -f c{}'"
done

# One hyperfine invocation per workload: hf NAME CMDFN [hyperfine options...]
# CMDFN RUNTIME prints "COMMAND[<TAB>PREPARE]", or nothing to leave that runtime out.
hf() {
  local job=$1 fn=$2 n line c p; shift 2
  local h=(hyperfine -N --style basic --export-json "$work/hf-$job.json" "$@")
  local extra=()
  # strata with its --root on ext4, next to the others (only when the roots are on a tmpfs)
  [[ $job == run* ]] && has strata && mountpoint -q "$st" && extra=(strata@ext4)
  for n in floor "${names[@]}" "${extra[@]}"; do
    line=$("$fn" "$n") || continue
    [[ -n $line ]] || continue
    c=${line%%$'\t'*}
    h+=(-n "$n" "$c")
    if [[ $line == *$'\t'* ]]; then p=${line#*$'\t'}; h+=(--prepare "$p"); fi
  done
  step "$job: ${h[*]}"
  "${h[@]}" >&2 || { note "$job: hyperfine failed (see stderr), row left out"; rm -f "$work/hf-$job.json"; }
}
j_run() {
  case $1 in
    floor) echo "$floor $floor_mode $bundle/rootfs" ;;
    strata@ext4) echo "${bin[strata]} --root $work/root-ext4 run --bundle $bundle bench-ext4" ;;
    *) rt_cmd "$1" "$bundle" "bench-$1" ;;
  esac
}
j_create() { [[ $1 == floor ]] || printf '%s create --bundle %s op\t%s\n' "$(R "$1")" "$bundle" "$work/sh-$1-prep-create"; }
j_start() { [[ $1 == floor ]] || printf '%s start op\t%s\n' "$(R "$1")" "$work/sh-$1-prep-start"; }
j_delete() { [[ $1 == floor ]] || printf '%s delete op\t%s\n' "$(R "$1")" "$work/sh-$1-prep-delete"; }
j_exec() { [[ $1 == floor ]] || echo "$(R "$1") exec ex /bin/true"; }
j_state() { [[ $1 == floor ]] || echo "${wrap[$1]:-}${bin[$1]} --root $st/many-$1 state alive"; }
j_list() { [[ $1 == floor ]] || echo "${wrap[$1]:-}${bin[$1]} --root $st/many-$1 list"; }
j_conc_create() { [[ $1 == floor ]] || printf '%s\t%s\n' "$work/sh-$1-conc-create" "$work/sh-$1-conc-clean"; }
j_conc_cycle() { [[ $1 == floor ]] || printf '%s\t%s\n' "$work/sh-$1-conc-cycle" "$work/sh-$1-conc-clean"; }

# 1. run, back-to-back and after idle
hf run j_run --warmup "$warmup" --runs "$runs"
hf run-idle j_run --warmup 3 --runs "$idle_runs" --prepare 'sleep 0.1'
# 2. create, start, delete, each with the others in --prepare (a stopped container for delete)
for job in create start delete; do hf "$job" "j_$job" --warmup 3 --runs "$op_runs"; done
for n in "${names[@]}"; do "$work/sh-$n-clean-op"; done
# 3. exec into a running container (sleep), then state and list with N_STATE containers present
for n in "${names[@]}"; do
  $(R "$n") create --bundle "$work/sleeper" ex </dev/null >/dev/null 2>&1 && $(R "$n") start ex ||
    note "$n: could not start the exec target container"
done
hf exec j_exec --warmup 5 --runs "$op_runs"
step "creating $n_state stopped containers (run -d of /bin/true) per runtime, plus one running"
for n in "${names[@]}"; do
  r="${wrap[$n]:-}${bin[$n]} --root $st/many-$n"
  seq "$n_state" | xargs -P 4 -I{} $r run -d --bundle "$bundle" m{} >/dev/null 2>&1 || true
  $r create --bundle "$work/sleeper" alive </dev/null >/dev/null 2>&1 && $r start alive || note "$n: could not start 'alive'"
  have=$($r list -q 2>/dev/null | wc -l)
  ((have > n_state)) || note "$n: only $have of $((n_state + 1)) containers present for state/list"
done
hf state j_state --warmup 5 --runs "$op_runs"
hf list j_list --warmup 2 --runs "$((op_runs / 5 > 5 ? op_runs / 5 : 5))"
for n in "${names[@]}"; do  # free the memory and state before the concurrency runs
  r="${bin[$n]} --root $st/many-$n"
  $r delete -f alive >/dev/null 2>&1 || true
  seq "$n_state" | xargs -P 4 -I{} $r delete -f m{} >/dev/null 2>&1 || true
done
# 4. CONC lifecycles at once (wall time of the whole batch)
hf conc-create j_conc_create --warmup 1 --runs "$conc_runs"
hf conc-cycle j_conc_cycle --warmup 1 --runs "$conc_runs"
for n in "${names[@]}"; do "$work/sh-$n-conc-clean"; done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# 5. CPU time, context switches, page faults (perf stat counts the runtime and every task it starts)
perf_of() { # perf_of CMD...: prints "task-clock-ms ctx-switches page-faults"
  timeout -s KILL 300 perf stat -x, -r "$perf_runs" -e task-clock,context-switches,page-faults -o "$work/perf" -- "$@" \
    >/dev/null 2>&1 || { echo "? ? ?"; return; }
  awk -F, '$3 ~ /^task-clock/ { t = $1 } $3 ~ /^context-switches/ { c = $1 } $3 ~ /^page-faults/ { f = $1 }
    END { printf "%.2f %.0f %.0f\n", t, c, f }' "$work/perf"
}
declare -A cpu_run=() cpu_exec=()
step "perf stat -r $perf_runs"
# shellcheck disable=SC2046  # commands are split on purpose (paths have no spaces)
cpu_run[floor]=$(perf_of $(j_run floor))
for n in "${names[@]}"; do
  # shellcheck disable=SC2046
  cpu_run[$n]=$(perf_of $(j_run "$n"))
  # shellcheck disable=SC2046
  cpu_exec[$n]=$(perf_of $(j_exec "$n"))
done

# 6. PSS of a created-but-not-started container: every process in its cgroup... kept simple: its
# init (the process that waits at the start gate), from /proc/PID/smaps_rollup.
declare -A pss=()
for n in "${names[@]}"; do
  pss[$n]='?'
  $(R "$n") create --bundle "$bundle" pss </dev/null >/dev/null 2>&1 || continue
  pid=$($(R "$n") state pss 2>/dev/null | jq -r .pid) || pid=0
  [[ $pid =~ ^[1-9][0-9]*$ && -r /proc/$pid/smaps_rollup ]] && pss[$n]=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
  $(R "$n") delete -f pss >/dev/null 2>&1 || true
done
for n in "${names[@]}"; do "$work/sh-$n-clean-op"; done

# 7. peak RSS (median of 5 runs), binary size, syscalls and execve (strace -f -c: runtime AND payload)
median5() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
peak_rss() { for _ in 1 2 3 4 5; do timeout -s KILL 30 /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true; tail -1 "$work/rss"; done | median5; }
syscalls() { # prints: total execve clone*
  timeout -s KILL 60 strace -f -c -o "$work/st" "$@" >/dev/null 2>&1 || true
  awk '$NF == "total" { t = $4 } $NF ~ /^execve(at)?$/ { e += $4 } $NF ~ /^(clone|clone3|fork|vfork)$/ { c += $4 }
       END { print t + 0, e + 0, c + 0 }' "$work/st"
}
declare -A res=() ver=()
res_row() { # res_row NAME BINARY CMD...: "size stripped rss syscalls execve clone"
  local b=$2; shift 2
  strip -o "$work/stripped" "$b"
  echo "$(stat -c %s "$b") $(stat -c %s "$work/stripped") $(peak_rss "$@") $(syscalls "$@")"
}
step "peak RSS, strace"
# shellcheck disable=SC2046
res[floor]=$(res_row floor "$floor" $(j_run floor)) ver[floor]="floor.c mode $floor_mode"
for n in "${names[@]}"; do
  ver[$n]=$("${bin[$n]}" --version 2>/dev/null | head -1 || true)
  # shellcheck disable=SC2046
  res[$n]=$(res_row "$n" "${bin[$n]}" $(j_run "$n"))
done
payload=$(syscalls "$bundle/rootfs/bin/true")

# 8. hangs: `run` of /bin/true in a loop, 2 loops at once, each run under a timeout. The peers run
# bare here (youki without its SIGCHLD wrapper), so that their own hangs show.
declare -A hangs=()
hang_loop() { # hang_loop RUNTIME COUNT: prints "timeouts errors runs seconds"
  local n=$1 count=$2 t0 w
  t0=$(date +%s.%N)
  for w in 1 2; do
    (
      nh=0 ne=0
      for ((i = w; i <= count; i += 2)); do
        rc=0
        timeout -s KILL "$hang_timeout" "${bin[$n]}" --root "$st/root-$n" run --bundle "$bundle" "hang$w" </dev/null >/dev/null 2>&1 || rc=$?
        if ((rc == 137)); then nh=$((nh + 1)); elif ((rc != 0)); then ne=$((ne + 1)); fi
        ((rc == 0)) || "${bin[$n]}" --root "$st/root-$n" delete -f "hang$w" >/dev/null 2>&1 || true
      done
      echo "$nh $ne" >"$work/hang-$n-$w"
    ) &
  done
  wait
  awk -v runs="$count" -v t0="$t0" -v t1="$(date +%s.%N)" '{ h += $1; e += $2 } END { printf "%d %d %d %.0f\n", h, e, runs, t1 - t0 }' "$work/hang-$n-"[12]
}
for n in "${names[@]}"; do
  c=$hang_peer_runs
  [[ $n == strata ]] && c=$hang_runs
  ((c > 0)) || continue
  step "hang loop: $c runs of $n"
  hangs[$n]=$(hang_loop "$n" "$c")
done

# 9. Tables
mkdir -p "$json_dir"
jobs=(run run-idle create start delete exec state list conc-create conc-cycle)
stats=$(for job in "${jobs[@]}"; do
  [[ -f $work/hf-$job.json ]] || continue
  cp "$work/hf-$job.json" "$json_dir/hf-$job.json"
  jq -r --arg job "$job" '.results[] | (.times | sort) as $t | ($t | length) as $n
    | [$job, .command, .mean, .stddev, .min, .median, $t[($n * 0.9 | ceil) - 1], $t[($n * 0.99 | ceil) - 1],
       ((.user // 0) + (.system // 0))] | @tsv' "$work/hf-$job.json"
done)
lat_table=$(awk -F'\t' '
  { k = $1 SUBSEP $2; job[NR] = $1; name[NR] = $2; for (i = 3; i <= 9; i++) v[NR, i] = $i * 1000; mean[k] = $3 * 1000 }
  function r(j, n, d) { return ((j SUBSEP d) in mean) ? sprintf("%.2f", mean[j SUBSEP n] / mean[j SUBSEP d]) : "–" }
  END {
    print "| workload | runtime | mean ms | σ ms | min ms | p50 ms | p90 ms | p99 ms | ÷ crun | ÷ runc | ÷ floor |"
    print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for (k = 1; k <= NR; k++)
      printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n", job[k], name[k], v[k,3], v[k,4], v[k,5],
        v[k,6], v[k,7], v[k,8], r(job[k], name[k], "crun"), r(job[k], name[k], "runc"), r(job[k], name[k], "floor")
  }' <<<"$stats")
med() { awk -F'\t' -v j="$1" -v n="$2" -v c="${3:-6}" '$1 == j && $2 == n { printf "%.2f", $c * 1000; f = 1 } END { if (!f) printf "–" }' <<<"$stats"; }
field() { local a; read -ra a <<<"${2:-}"; echo "${a[$1]:-–}"; }
sum_table="| runtime | run p50 ms | run after idle p50 ms | create p50 ms | start p50 ms | delete p50 ms | exec p50 ms | state p50 ms | list p50 ms | $conc× create wall ms | $conc× create+start+delete wall ms | CPU ms/run | ctx switches/run | page faults/run | syscalls/run | execve/run | peak RSS KiB | PSS waiting KiB | stripped B | hangs |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for n in floor "${names[@]}"; do
  hng='–'
  if [[ -n ${hangs[$n]:-} ]]; then
    read -r nh ne c _ <<<"${hangs[$n]}"
    hng="$nh / $c"
    ((ne == 0)) || hng+=" ($ne failed)"
  fi
  sum_table+=$'\n'"| $n | $(med run "$n") | $(med run-idle "$n") | $(med create "$n") | $(med start "$n") | $(med delete "$n") | $(med exec "$n") | $(med state "$n") | $(med list "$n") | $(med conc-create "$n") | $(med conc-cycle "$n") | $(field 0 "${cpu_run[$n]:-}") | $(field 1 "${cpu_run[$n]:-}") | $(field 2 "${cpu_run[$n]:-}") | $(field 3 "${res[$n]:-}") | $(field 4 "${res[$n]:-}") | $(field 2 "${res[$n]:-}") | ${pss[$n]:-–} | $(field 1 "${res[$n]:-}") | $hng |"
done
ver_lines=$(for n in floor "${names[@]}"; do echo "- $n: ${ver[$n]:-?}, $(field 0 "${res[$n]:-}") B unstripped; exec: CPU $(field 0 "${cpu_exec[$n]:-}") ms, $(field 1 "${cpu_exec[$n]:-}") context switches, $(field 2 "${cpu_exec[$n]:-}") page faults per call"; done | sed 's/; exec: CPU – ms.*//')

# 10. The targets of docs/benchmarks.md (strata against its peers in the same run)
mean() { awk -F'\t' -v j="$1" -v n="$2" '$1 == j && $2 == n { printf "%.4f", $3 * 1000; f = 1 } END { if (!f) printf "" }' <<<"$stats"; }
tgt() { # tgt WHAT MEASURED OK(awk expr over x) TARGET
  local ok
  if [[ -z $2 || $2 == *–* || $2 == '?' ]]; then ok='not measured'
  else ok=$(awk -v x="$2" "BEGIN { print (($3) ? \"met\" : \"**not met**\") }"); fi
  echo "| $1 | $2 | $4 | $ok |"
}
ratio() { local a b; a=$(mean "$1" "$2") b=$(mean "$1" "$3"); [[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'; }
diffms() { local a b; a=$(mean "$1" "$2") b=$(mean "$1" "$3"); [[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a - b }'; }
h_strata=${hangs[strata]:-}
tgt_table="| target | measured | goal | |
|---|--:|--:|---|
$(tgt 'run ÷ crun (mean)' "$(ratio run strata crun)" 'x <= 0.7' '≤ 0.7')
$(tgt 'run ÷ floor (mean)' "$(ratio run strata floor)" 'x <= 1.5' '≤ 1.5')
$(tgt 'run after idle − floor (mean, ms)' "$(diffms run-idle strata floor)" 'x <= 1.5' '≤ 1.5 ms')
$(tgt 'CPU time per run (ms)' "$(field 0 "${cpu_run[strata]:-}")" 'x <= 4' '≤ 4 ms')
$(tgt 'syscalls per run' "$(field 3 "${res[strata]:-}")" 'x <= 400' '≤ 400')
$(tgt 'execve per run' "$(field 4 "${res[strata]:-}")" 'x == 2' '2')
$(tgt 'peak RSS (KiB)' "$(field 2 "${res[strata]:-}")" 'x <= 4096' '≤ 4096')
$(tgt 'PSS of a waiting container (KiB)' "${pss[strata]:-}" 'x <= 512' '≤ 512')
$(tgt 'stripped binary (B)' "$(field 1 "${res[strata]:-}")" 'x <= 3000000' '≤ 3,000,000')
$(tgt 'exec ÷ crun (mean)' "$(ratio exec strata crun)" 'x <= 0.7' '≤ 0.7')
$(tgt 'exec ÷ runc (mean)' "$(ratio exec strata runc)" 'x <= 0.3' '≤ 0.3')
$(tgt "state with $n_state containers (p50, ms)" "$(med state strata)" 'x <= 1' '≤ 1 ms')
$(tgt "$conc concurrent creates, wall (p50, ms)" "$(med conc-create strata)" 'x <= 500' '≤ 500 ms')
$(tgt "$conc concurrent creates ÷ crun (mean)" "$(ratio conc-create strata crun)" 'x < 1' '< 1')
$(tgt "hangs in ${h_strata:+$(field 2 "$h_strata") }runs" "$(field 0 "$h_strata")" 'x == 0' '0')"

# 11. Plot: p50 latency (log scale) by workload and runtime; conc-* are whole batches of $conc.
if [[ -n $plot_out ]]; then
  {
    printf 'workload'; for n in floor "${names[@]}"; do printf '\t%s' "$n"; done; echo
    for job in "${jobs[@]}"; do
      [[ -f $work/hf-$job.json ]] || continue
      printf '%s' "$job"
      for n in floor "${names[@]}"; do printf '\t%s' "$(med "$job" "$n" | sed 's/–/NaN/')"; done; echo
    done
  } >"$work/plot.tsv"
  mkdir -p "$(dirname "$plot_out")"
  gnuplot <<EOF || note "gnuplot failed: no plot"
set terminal pngcairo size 1100,520 font "sans,10"
set output "$plot_out"
set title "p50 latency by workload and runtime ($(date -u +%Y-%m-%d), load $load_start; conc-*: $conc lifecycles at once)"
set datafile separator "\t"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "ms (log scale)"
set yrange [0.1:*]
set grid ytics
set key top left
set xtics rotate by -20
plot for [i=2:$((${#names[@]} + 2))] "$work/plot.tsv" using i:xtic(1) title columnheader
EOF
fi

# 12. markdown
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
md=$(cat <<EOF
### Results $(date -u '+%Y-%m-%d %H:%M UTC') — $(uname -r), $(nproc) × ${cpu:-?}

Load average $load_start at start, $load_end after the timed workloads. Bundle: busybox rootfs,
\`process.args = ["/bin/true"]\`, config from \`$spec_rt spec\` with \`ociVersion\` 1.0.2; floor mode $floor_mode.
Runs: run $runs (warmup $warmup), after idle $idle_runs, create/start/delete/exec/state $op_runs, list
$((op_runs / 5 > 5 ? op_runs / 5 : 5)), state/list with $n_state stopped containers + 1 running, $conc concurrent × $conc_runs, perf stat -r $perf_runs.
Raw times: \`$json_dir/hf-*.json\`.

$sum_table

$tgt_table

$lat_table

$ver_lines
- CPU ms, context switches and page faults: \`perf stat -r $perf_runs -e task-clock,context-switches,page-faults\` of
  one \`run\` (the runtime and every task it starts, payload included).
- syscalls and execve: \`strace -f -c\` of one \`run\`, payload included (\`/bin/true\` alone makes
  $(cut -d' ' -f1 <<<"$payload") syscalls and 1 execve).
- hangs: timeouts ($hang_timeout s, SIGKILL) / runs of \`run\` of /bin/true, two loops at once.
$(for n in "${notes[@]}"; do echo "- $n"; done)
EOF
)
echo "$md"
[[ -z $md_out ]] || { mkdir -p "$(dirname "$md_out")"; echo "$md" >"$md_out"; }
step finished
