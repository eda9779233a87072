#!/usr/bin/env bash
# The OCI runtime conformance suite (runtime-tools validation, shared/conformance) against strata,
# then against a reference runtime (runc) whose result never fails this script. Builds the suite
# first when SUITE has none (shared/conformance/build.sh: root, apt, Go from bookworm-backports).
# Fails when strata passes fewer files than the floor, or fails a file of the expected list.
# Every line is prefixed "conformance", so no line of ours reads like another suite's summary.
# usage: hack/conformance.sh --src DIR --suite DIR --floor N --expect FILE --out DIR --runtime PATH [--reference PATH]
set -uo pipefail

usage() { echo "usage: $0 --src DIR --suite DIR --floor N --expect FILE --out DIR --runtime PATH [--reference PATH]" >&2; exit 2; }
src='' suite='' floor='' expect='' out='' rt='' ref=''
while [ $# -gt 0 ]; do
  case $1 in
    --src) src=$2 ;; --suite) suite=$2 ;; --floor) floor=$2 ;; --expect) expect=$2 ;;
    --out) out=$2 ;; --runtime) rt=$2 ;; --reference) ref=$2 ;;
    *) usage ;;
  esac
  shift 2 || usage
done
for v in "$src" "$suite" "$floor" "$expect" "$out" "$rt"; do [ -n "$v" ] || usage; done
say() { echo "conformance: $*"; }
# run.sh works in the suite's directory: every path it gets must be absolute.
[ -d "$src" ] || { say "no suite source in $src (CONFORMANCE_SRC)"; exit 1; }
mkdir -p "$out" && out=$(cd "$out" && pwd) && src=$(cd "$src" && pwd) || exit 1

if [ ! -x "$suite/runtimetest" ]; then
  [ -x "$src/build.sh" ] || { say "no suite in $suite and no $src/build.sh to build it"; exit 1; }
  say "building the suite into $suite"
  bash "$src/build.sh" "$suite" 2>&1 | sed 's/^/conformance: build: /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || { say "building the suite failed"; exit 1; }
fi

# run NAME RUNTIME: the suite's own runner, every line prefixed; leaves the summary in $OUT/NAME.txt.
run() {
  local name=$1 runtime=$2
  rm -rf "${out:?}/$name" && mkdir -p "$out/$name"
  bash "$src/run.sh" "$runtime" "$suite" "$out/$name" >"$out/$name.txt" 2>&1
  sed "s/^/conformance: $name: /" "$out/$name.txt"
}

run strata "$rt"
read -r passed _ failed _ < <(tail -n 1 "$out/strata.txt")
if [ -n "$ref" ]; then
  run reference "$ref"
  read -r ref_passed _ ref_failed _ < <(tail -n 1 "$out/reference.txt")
fi

status=0
missing=()
while read -r f; do
  f=${f%%#*}; f=${f// /}
  [ -n "$f" ] || continue
  grep -q "^PASS $f " "$out/strata.txt" || missing+=("$f")
done <"$expect"
if [ ${#missing[@]} -gt 0 ]; then
  say "strata fails file(s) of $expect: ${missing[*]} (tap output in $out/strata/)"
  status=1
fi
if ! [ "${passed:-0}" -ge "$floor" ] 2>/dev/null; then
  say "strata passes ${passed:-0} files, below the floor of $floor"
  status=1
fi
[ -n "$ref" ] && say "reference $ref: $ref_passed files passed, $ref_failed failed (not checked)"
say "strata: $passed files passed, $failed failed (floor $floor)"
exit $status
