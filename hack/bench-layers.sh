#!/usr/bin/env bash
# Layered vs plain rootfs (docs/layers.md): `run` of /bin/true from a bundle stacked on 5
# shared layers vs a plain bundle of the same content, in one hyperfine invocation; then 20
# containers created from one shared 5-layer image vs 20 private copies (wall time + disk used).
set -euo pipefail
command -v jq >/dev/null || { echo "bench-layers: needs jq" >&2; exit 1; }

usage() { echo "usage: $0   (env STRATA, RUNS=200, WARMUP=20, N=20)" >&2; exit 2; }
(($# == 0)) || usage
repo=$(cd "$(dirname "$0")/.." && pwd)
strata=${STRATA:-$repo/target/x86_64-unknown-linux-gnu/release/strata}
[[ -x $strata ]] || { echo "bench-layers: $strata missing (make build)" >&2; exit 1; }
runs=${RUNS:-200} warmup=${WARMUP:-20} n=${N:-20}
t=$(mktemp -d /tmp/strata-bench-layers.XXXXXX)
cleanup() {
  for r in "$t"/root*; do
    [[ -d $r ]] || continue
    for id in $("$strata" --root "$r" list -q 2>/dev/null); do "$strata" --root "$r" delete -f "$id" >/dev/null 2>&1 || true; done
  done
  rm -rf --one-file-system "$t"
}
trap cleanup EXIT

# Plain bundle, then the same content split into 5 layers (bin / etc / lib-ish / misc / empty).
bash "$repo/hack/mkbundle.sh" "$t/plain" --runtime "$strata" -- /bin/true >/dev/null
rootfs=$t/plain/rootfs
for i in 1 2 3 4 5; do mkdir -p "$t/layers/l$i"; done
chmod 700 "$t/layers" # the layer store: annotation dirs must lie in it (docs/layers.md)
cp -a "$rootfs/bin" "$t/layers/l1/"
cp -a "$rootfs/etc" "$t/layers/l2/"
for d in "$rootfs"/*; do
  case ${d##*/} in bin | etc) ;; *) cp -a "$d" "$t/layers/l3/" ;; esac
done
echo "layer 4" >"$t/layers/l4/l4.txt"
echo "layer 5" >"$t/layers/l5/l5.txt"
mkdir -p "$t/layered/rootfs"
list=$(printf '%s\n' "$t"/layers/l{1..5} | jq -R . | jq -sc .)
jq --arg l "$list" '.annotations = {"io.strata.layers": $l} | .root.readonly = false' \
  "$t/plain/config.json" >"$t/layered/config.json"
"$strata" --root "$t/root0" --layer-store "$t/layers" run --bundle "$t/layered" probe-layered >/dev/null || { echo "bench-layers: layered bundle does not run" >&2; exit 1; }

echo "## run of /bin/true: plain vs 5 shared layers (hyperfine -N --warmup $warmup --runs $runs)"
hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$t/h.json" \
  -n plain "$strata --root $t/root1 run --bundle $t/plain p" \
  -n layered "$strata --root $t/root2 --layer-store $t/layers run --bundle $t/layered l" 2>&1 | grep -E 'Benchmark|Time|±|faster' || true

echo "## $n containers created and started (sleep 30): one shared 5-layer image vs $n private copies"
for i in $(seq 1 "$n"); do
  mkdir -p "$t/copies/c$i"
  cp -a "$t/plain/rootfs" "$t/copies/c$i/rootfs"
  sed 's|"/bin/true"|"sleep", "30"|' "$t/plain/config.json" >"$t/copies/c$i/config.json"
  mkdir -p "$t/shared/c$i/rootfs"
  sed 's|"/bin/true"|"sleep", "30"|' "$t/layered/config.json" >"$t/shared/c$i/config.json"
done
for kind in copies shared; do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do "$strata" --root "$t/root-$kind" --layer-store "$t/layers" run -d --bundle "$t/$kind/c$i" "$kind-$i"; done
  end=$(date +%s%N)
  disk=$(du -sk --one-file-system "$t/$kind" "$t/root-$kind" | awk '{s+=$1} END {print s}')
  [[ $kind == shared ]] && disk=$((disk + $(du -sk "$t/layers" | awk '{print $1}')))
  echo "$kind: $(((end - start) / 1000000)) ms for $n run -d, ${disk} KiB on disk (rootfs copies or layers + container layers)"
done
