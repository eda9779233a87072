#!/usr/bin/env bash
# What the default seccomp profile (runtime-tests/fixtures/seccomp-default.json, ~440 syscall
# names) costs `strata run` of /bin/true: one hyperfine invocation of the same bundle without
# the profile, with it (program from the cache in <root>/.seccomp-cache), and with it but the
# cache made unusable (a file where its directory would be: libseccomp compiles every time).
# Prints means, minimums and user+sys CPU, and the differences to the run without the
# profile. On a shared machine wall times are noisy; CPU time is the steadier signal. Root.
#   hack/bench-seccomp.sh        env: RUNS=300 WARMUP=20 STRATA=path PROFILE=path
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-300} warmup=${WARMUP:-20}
strata=$(readlink -f "${STRATA:-$repo/target/x86_64-unknown-linux-gnu/release/strata}")
profile=${PROFILE:-$repo/runtime-tests/fixtures/seccomp-default.json}
for t in hyperfine jq; do command -v "$t" >/dev/null || { echo "bench-seccomp: $t missing" >&2; exit 1; }; done
[[ -x $strata ]] || { echo "bench-seccomp: $strata not found (make build)" >&2; exit 1; }
((EUID == 0)) || { echo "bench-seccomp: must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/strata-bench-seccomp.XXXXXX)
cleanup() {
  set +e
  for id in plain seccomp; do "$strata" --root "$work/root" delete -f "bsc-$id" >/dev/null 2>&1; done
  "$strata" --root "$work/root-nc" delete -f bsc-nc >/dev/null 2>&1
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
cp "$strata" "$work/strata" # a snapshot: a rebuild during the run changes nothing
"$repo/hack/mkbundle.sh" "$work/plain" --runtime "$work/strata" -- /bin/true >&2
mkdir -p "$work/seccomp"
ln -s ../plain/rootfs "$work/seccomp/rootfs"
jq --slurpfile p "$profile" '.linux.seccomp = $p[0]' "$work/plain/config.json" >"$work/seccomp/config.json"
mkdir -p "$work/root-nc" && touch "$work/root-nc/.seccomp-cache"
# all must really run
for id in plain seccomp; do "$work/strata" --root "$work/root" run --bundle "$work/$id" "bsc-$id"; done
"$work/strata" --root "$work/root-nc" run --bundle "$work/seccomp" bsc-nc

export LOAD="$(cut -d" " -f1-3 /proc/loadavg)"
hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/hf.json" \
  -n plain "$work/strata --root $work/root run --bundle $work/plain bsc-plain" \
  -n cached "$work/strata --root $work/root run --bundle $work/seccomp bsc-seccomp" \
  -n uncached "$work/strata --root $work/root-nc run --bundle $work/seccomp bsc-nc" >&2
jq -r --arg load "$LOAD" '(.results | map({(.command): .}) | add) as $r
  | def ms: . * 1000 * 1000 | round / 1000;
    def cpu(x): (x.user + x.system);
    "runs: \($r.plain.times | length) each; load \($load) at start",
    ("plain", "cached", "uncached") as $n | $r[$n]
    | "\($n): mean \(.mean | ms) ms, min \(.min | ms) ms, user+sys \(cpu(.) | ms) ms"
      + (if $n == "plain" then "" else
         "; added: mean \((.mean - $r.plain.mean) | ms) ms, min \((.min - $r.plain.min) | ms) ms, user+sys \((cpu(.) - cpu($r.plain)) | ms) ms" end)' \
  "$work/hf.json"
echo "target: <= 0.5 ms added" >&2
