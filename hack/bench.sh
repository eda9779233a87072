#!/usr/bin/env bash
# Time `run` of a /bin/true busybox bundle: the floor (shared/bench/floor.c), strata, runc, crun and
# youki (if on PATH), in ONE hyperfine invocation; then peak RSS, binary sizes and syscall counts.
# Prints a markdown section (and writes it to FILE with --markdown). Needs root.
set -euo pipefail

usage() {
  echo "usage: $0 [--markdown FILE] [--json FILE] [--no-cgroup-fix]   env: RUNS=300 WARMUP=20 STRATA=path FLOOR_C=path" >&2
  exit 2
}
repo=$(cd "$(dirname "$0")/.." && pwd)
md_out='' json_out=$repo/target/bench/hyperfine.json cgroup_fix=1
args=("$@")
while (($#)); do
  case $1 in
    --markdown) md_out=${2:?--markdown needs a FILE}; shift 2 ;;
    --json) json_out=${2:?--json needs a FILE}; shift 2 ;;
    --no-cgroup-fix) cgroup_fix=0; shift ;;
    *) usage ;;
  esac
done
runs=${RUNS:-300} warmup=${WARMUP:-20}

# crun 1.8.1 refuses a hybrid host whose cgroup2 mount holds a controller (here hugetlb), even with
# --cgroup-manager=disabled. So the whole benchmark runs in a private mount namespace where
# /dev/null is bound over that cgroup.controllers: every runtime (and the floor) then sees a hybrid
# host with an empty cgroup2 mount. Nothing changes for the rest of the host.
ctl=/sys/fs/cgroup/unified/cgroup.controllers
if ((cgroup_fix)) && [[ -z ${BENCH_NS:-} && -r $ctl && -n $(<"$ctl") ]]; then
  exec env BENCH_NS="$(<"$ctl")" unshare --mount --propagation private "$(readlink -f "$0")" "${args[@]}"
fi
for t in hyperfine strace jq gcc strip size readelf /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (run hack/deps.sh)" >&2; exit 1; }
done
((EUID == 0)) || { echo "bench: must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/strata-bench.XXXXXX)
bundle=$work/bundle
declare -A bin=()   # runtime name -> binary
# youki 0.7 blocks SIGCHLD only after starting the container, so a quick payload's SIGCHLD is lost and
# `run` hangs (~2% of runs here); started with SIGCHLD already blocked it never does. Costs ~0.7 ms.
declare -A wrap=([youki]="env --block-signal=CHLD ")
names=()            # runtimes that passed the probe, in table order
notes=()

note() { notes+=("$*"); echo "bench: $*" >&2; }
rt_cmd() { echo "${wrap[$1]:-}${bin[$1]} --root $work/root-$1 run --bundle $2 $3"; }   # for hyperfine/time/strace

cleanup() {
  set +e
  local n
  for n in "${!bin[@]}"; do
    for id in "bench-$n" "probe-$n"; do "${bin[$n]}" --root "$work/root-$n" delete -f "$id" >/dev/null 2>&1 || true; done
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Bundles (spec from runc: floor.c mirrors runc's default spec; ociVersion 1.0.2 for crun 1.8.1)
spec_rt=${SPEC_RUNTIME:-runc}
"$repo/hack/mkbundle.sh" "$bundle" --runtime "$spec_rt" --oci-version 1.0.2 -- /bin/true >&2
"$repo/hack/mkbundle.sh" "$work/probe" --runtime "$spec_rt" --oci-version 1.0.2 -- sh -c 'exit 7' >&2
floor=$("$repo/hack/floor.sh" --out "$work/floor")
floor_mode=${FLOOR_MODE:-$("$repo/hack/floor.sh" --mode)}
if [[ -n ${BENCH_NS:-} ]]; then
  mount --bind /dev/null "$ctl"
  note "ran in a private mount namespace where $ctl (\"$BENCH_NS\") reads empty, so that crun 1.8.1 accepts this hybrid host; the host is unchanged"
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)

# Runtimes: each must really run the probe container and return its exit code 7.
newest() { local f best=''; for f; do [[ -x $f && (-z $best || $f -nt $best) ]] && best=$f; done; echo "$best"; }
strata=${STRATA:-$(command -v strata || newest "$repo"/target/{,x86_64-unknown-linux-gnu/}release/strata)}
for n in strata runc crun youki; do
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
  mkdir -p "$work/root-$n"
  rc=0
  # shellcheck disable=SC2046  # rt_cmd is split on purpose (paths have no spaces)
  out=$(timeout -s KILL 30 $(rt_cmd "$n" "$work/probe" "probe-$n") 2>&1) || rc=$?
  if ((rc != 7)); then
    note "$n skipped: probe container exited $rc, not 7${out:+: $(echo "$out" | tail -1)}"
    continue
  fi
  names+=("$n")
  [[ -z ${wrap[$n]:-} ]] || note "$n is started as \`${wrap[$n]}$n ...\` (in every row; env adds ~0.7 ms, 1 execve, ~40 syscalls)"
done

# 1. One hyperfine invocation
hf=(hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/hf.json" -n floor "$floor $floor_mode $bundle/rootfs")
for n in "${names[@]}"; do hf+=(-n "$n" "$(rt_cmd "$n" "$bundle" "bench-$n")"); done
echo "+ ${hf[*]}" >&2
"${hf[@]}" >&2
mkdir -p "$(dirname "$json_out")" && cp "$work/hf.json" "$json_out"
load="$load at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"

# 2. mean/median/p90/p99 (ms) and ratios of means
stats=$(jq -r '.results[] | (.times | sort) as $t | ($t | length) as $n
  | [.command, .mean, .stddev, .min, .median, $t[($n * 0.9 | ceil) - 1], $t[($n * 0.99 | ceil) - 1]] | @tsv' "$work/hf.json")
time_table=$(awk -F'\t' '
  { name[NR] = $1; for (i = 2; i <= 7; i++) v[NR, i] = $i * 1000; mean[$1] = $2 * 1000 }
  function r(n, d) { return (d in mean) ? sprintf("%.2f", mean[n] / mean[d]) : "–" }
  END {
    print "| command | mean ms | σ ms | min ms | median ms | p90 ms | p99 ms | ÷ strata | ÷ crun | ÷ floor |"
    print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for (k = 1; k <= NR; k++)
      printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |\n", name[k], v[k,2], v[k,3], v[k,4], v[k,5], v[k,6], v[k,7],
        r(name[k], "strata"), r(name[k], "crun"), r(name[k], "floor")
  }' <<<"$stats")
target=$(awk -F'\t' '{ m[$1] = $2 } END { if (("strata" in m) && ("crun" in m)) {
  x = m["strata"] / m["crun"]; printf "strata ÷ crun = %.2f (target ≤ 0.80: %s)", x, (x <= 0.8 ? "met" : "NOT met") } }' <<<"$stats")

# 3. peak RSS (median of 5 runs), binary size, syscalls (strace -f -c follows the runtime AND the payload)
median5() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
peak_rss() { for _ in 1 2 3 4 5; do timeout -s KILL 30 /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true; tail -1 "$work/rss"; done | median5; }
syscalls() { # prints: total execve clone*
  timeout -s KILL 60 strace -f -c -o "$work/st" "$@" >/dev/null 2>&1 || true
  awk '$NF == "total" { t = $4 } $NF == "execve" { e = $4 } $NF ~ /^(clone|clone3|fork|vfork)$/ { c += $4 }
       END { print t + 0, e + 0, c + 0 }' "$work/st"
}
row() { # row NAME BINARY VERSION CMD...
  local n=$1 b=$2 v=$3 sz text data bss libs; shift 3
  strip -o "$work/stripped" "$b"
  read -r text data bss _ < <(size "$b" | awk 'NR == 2')
  libs=$(readelf -d "$b" 2>/dev/null | grep -c NEEDED || true)
  sz=$(stat -c %s "$b")
  printf '| %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |\n' "$n" "$v" "$sz" "$(stat -c %s "$work/stripped")" \
    "$text" "$data" "$bss" "$libs" "$(peak_rss "$@")" "$(syscalls "$@" | sed 's/ / | /g')"
}
res_table="| binary | version | size B | stripped B | text / data / bss B | shared libs | peak RSS KiB | syscalls | execve | clone |
|---|---|--:|--:|--:|--:|--:|--:|--:|--:|
$(row floor "$floor" "floor.c mode $floor_mode" "$floor" "$floor_mode" "$bundle/rootfs")"
for n in "${names[@]}"; do
  v=$("${bin[$n]}" --version 2>/dev/null | head -1 || true)
  # shellcheck disable=SC2046  # rt_cmd is split on purpose (paths have no spaces)
  res_table+=$'\n'$(row "$n" "${bin[$n]}" "${v:-?}" $(rt_cmd "$n" "$bundle" "bench-$n"))
done
payload=$(syscalls "$bundle/rootfs/bin/true")

# 4. markdown
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
md=$(cat <<EOF
### Results $(date -u +%Y-%m-%d) — $(uname -r), $(nproc) × ${cpu:-?}

\`hyperfine -N --warmup $warmup --runs $runs\`, one invocation, bundle: busybox rootfs, \`process.args = ["/bin/true"]\`,
config from \`$spec_rt spec\` with \`ociVersion\` 1.0.2; floor mode $floor_mode; load average $load.
Raw times: \`$json_out\`. Ratios are of means.

$time_table

${target:-strata ÷ crun: no strata row (strata was skipped), target ≤ 0.80.}

$res_table

Peak RSS is \`/usr/bin/time -f %M\` (largest process of the tree, payload included), median of 5 runs.
Syscalls, execve and clone are \`strace -f -c\` totals for one \`run\`, payload included: \`/bin/true\`
(static busybox) alone makes $(cut -d' ' -f1 <<<"$payload") syscalls and 1 execve; clone counts threads as well as processes.
$(for n in "${notes[@]}"; do echo "- $n"; done)
EOF
)
echo "$md"
[[ -z $md_out ]] || echo "$md" >"$md_out"
