#!/usr/bin/env bash
# Make (or remake) an OCI bundle at DIR: a static busybox rootfs plus a config.json written by
# `RUNTIME spec` and edited with sed only (no python3/jq needed). Safe to run again on the same DIR.
set -euo pipefail

usage() {
  echo "usage: $0 DIR [--runtime PATH] [--oci-version V] [--terminal] [-- ARGS...]  (ARGS default: sh)" >&2
  exit 2
}
die() { echo "mkbundle: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
dir='' runtime='' oci_version='' terminal=false args=(sh)
while (($#)); do
  case $1 in
    --runtime) runtime=${2:?--runtime needs a PATH}; shift 2 ;;
    --oci-version) oci_version=${2:?--oci-version needs a version}; shift 2 ;;
    --terminal) terminal=true; shift ;;
    --) shift; (($#)) && args=("$@"); break ;;
    -h | --help | -*) usage ;;
    *) [[ -z $dir ]] || usage; dir=$1; shift ;;
  esac
done
[[ -n $dir ]] || usage
busybox=${BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || die "$busybox not found (apt-get install busybox-static)"
if command -v readelf >/dev/null && LC_ALL=C readelf -l "$busybox" | grep -q INTERP; then
  die "$busybox is dynamically linked; the rootfs has no libc (apt-get install busybox-static)"
fi

# rootfs: busybox, one symlink per applet, mount points, passwd/group
root=$dir/rootfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,root,run}
chmod 1777 "$root/tmp"
cp -f "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -sfn busybox "$root/bin/$applet"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$root/etc/group"

# config.json from `RUNTIME spec`: explicit --runtime, else strata on PATH or in target/, else runc
spec() { # spec RUNTIME: writes $dir/config.json, fails if the runtime wrote none
  local rt
  rt=$(command -v "$1") || return 1
  [[ $rt == /* ]] || rt=$PWD/$rt
  rm -f "$dir/config.json"
  (cd "$dir" && "$rt" spec) >/dev/null 2>&1 && grep -q '"ociVersion"' "$dir/config.json" 2>/dev/null
}
if [[ -n $runtime ]]; then
  spec "$runtime" || die "'$runtime spec' did not write a config.json"
else
  for rt in strata "$repo"/target/{,x86_64-unknown-linux-gnu/}release/strata runc; do
    if spec "$rt"; then runtime=$rt; break; fi
    [[ $rt == runc ]] && die "no runtime could write a config.json (tried strata, $repo/target/*/strata, runc)"
  done
  [[ $runtime == runc ]] && echo "mkbundle: strata not usable for 'spec', config.json written by runc" >&2
fi

# Edit with sed -z (the whole file is one buffer, so pretty and compact JSON both match).
json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}; printf '"%s"' "$s"; }
list=
for a in "${args[@]}"; do list+=${list:+, }$(json_str "$a"); done
list=${list//\\/\\\\}; list=${list//&/\\&}; list=${list//|/\\|}   # escape for the sed replacement
edits=(-e "s|\"args\":[[:space:]]*\[[^]]*\]|\"args\": [$list]|"
       -e "s|\"terminal\":[[:space:]]*[a-z]*|\"terminal\": $terminal|")
[[ -z $oci_version ]] || edits+=(-e "s|\"ociVersion\":[[:space:]]*\"[^\"]*\"|\"ociVersion\": \"$oci_version\"|")
sed -z -i "${edits[@]}" "$dir/config.json"
grep -q "\"terminal\": $terminal" "$dir/config.json" || die "could not set terminal in $dir/config.json"
if command -v jq >/dev/null; then
  jq -e --argjson a "$(printf '%s\n' "${args[@]}" | jq -R . | jq -s .)" '.process.args == $a' "$dir/config.json" >/dev/null ||
    die "could not set process.args in $dir/config.json"
fi
echo "$dir (spec by $(basename "$runtime"), args: ${args[*]})"
