#!/usr/bin/env bash
# Turn an OCI image layout (podman save --format oci-dir, skopeo copy ... oci:DIR) into strata
# layers + a bundle whose config.json points at them through the io.strata.layers annotation.
# Each layer is applied once with `strata layer unpack` into STORE/<digest> and is shared by
# every bundle made from it; OUT/bundle gets config.json (from `strata spec`, with the image's
# Entrypoint/Cmd, Env and WorkingDir) and an empty rootfs/ that overlayfs mounts over.
# STORE is strata's layer store (--layer-store; default strata's own, <root>/layers, i.e.
# /run/strata/layers as root): strata refuses annotation dirs outside it. Pass the same
# --layer-store to strata when it is not the default.
set -euo pipefail

usage() { echo "usage: $0 OCI_LAYOUT_DIR OUT_DIR [--strata PATH] [--ref NAME] [--layer-store DIR]   (needs jq)" >&2; exit 2; }
die() { echo "oci-to-bundle: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
strata=${STRATA:-}
ref=''
store=''
args=()
while (($#)); do
  case $1 in
    --strata) strata=${2:?}; shift 2 ;;
    --ref) ref=${2:?}; shift 2 ;;
    --layer-store) store=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} == 2)) || usage
layout=$(cd "${args[0]}" && pwd) || die "no such directory ${args[0]}"
mkdir -p "${args[1]}"
out=$(cd "${args[1]}" && pwd)
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
if [[ -z $strata ]]; then
  strata=$(command -v strata || true)
  [[ -n $strata ]] || strata=$repo/target/x86_64-unknown-linux-gnu/release/strata
fi
[[ -x $strata ]] || die "strata not found at $strata (make build)"
[[ -f $layout/index.json ]] || die "$layout has no index.json: not an OCI image layout"
if [[ -z $store ]]; then # strata's default: <root>/layers (state::default_root)
  if ((EUID == 0)); then store=/run/strata/layers
  elif [[ -n ${XDG_RUNTIME_DIR:-} ]]; then store=$XDG_RUNTIME_DIR/strata/layers
  else store=/tmp/strata-$EUID/layers; fi
fi
# Only its owner may enter the store (strata refuses it otherwise).
mkdir -p "$store" && chmod 700 "$store"
store=$(cd "$store" && pwd)

blob() { # blob DIGEST -> path of the blob, refusing anything but sha256:<hex>
  [[ $1 =~ ^sha256:[0-9a-f]{64}$ ]] || die "unexpected digest $1"
  echo "$layout/blobs/sha256/${1#sha256:}"
}

if [[ -n $ref ]]; then
  manifest=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$layout/index.json" | head -1)
else
  manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
fi
[[ -n $manifest && $manifest != null ]] || die "no manifest found${ref:+ for $ref}"
mpath=$(blob "$manifest")
config=$(blob "$(jq -r '.config.digest' "$mpath")")

layers=()
while read -r digest; do
  dir=$store/${digest#sha256:}
  if [[ ! -d $dir ]]; then
    # Unpack into a temp dir and rename, so a half-applied layer is never used.
    rm -rf --one-file-system "$dir.partial"
    mkdir -p "$dir.partial"
    "$strata" layer unpack "$(blob "$digest")" "$dir.partial"
    mv "$dir.partial" "$dir"
  fi
  layers+=("$dir")
done < <(jq -r '.layers[].digest' "$mpath")
((${#layers[@]})) || die "the image has no layers"

bundle=$out/bundle
mkdir -p "$bundle/rootfs"
rm -f "$bundle/config.json"
(cd "$bundle" && "$strata" spec)
layers_json=$(printf '%s\n' "${layers[@]}" | jq -R . | jq -sc .)
jq --argjson img "$(jq '.config // {}' "$config")" --arg layers "$layers_json" '
  .process.terminal = false
  | .root.readonly = false
  | .process.args = ((($img.Entrypoint // []) + ($img.Cmd // [])) | if length == 0 then ["sh"] else . end)
  | .process.env = ($img.Env // .process.env)
  | .process.cwd = (if ($img.WorkingDir // "") == "" then "/" else $img.WorkingDir end)
  | .annotations = ((.annotations // {}) + {"io.strata.layers": $layers})
' "$bundle/config.json" > "$bundle/config.json.tmp"
mv "$bundle/config.json.tmp" "$bundle/config.json"
echo "$bundle (${#layers[@]} layer(s) in the layer store $store)"
