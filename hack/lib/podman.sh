# shellcheck shell=bash
# Sourced by the hack/podman-*-tests.sh scripts, which run in a VM guest: Debian's podman with
# everything under one directory (a tmpfs), a store for each runtime.
#
# podman_image DIR APPLET...: DIR/img, a busybox rootfs (the host's busybox) with those applets.
# podman_use DIR RUNTIME: sets PODMAN, the podman command for RUNTIME (vfs storage under
#   DIR/<runtime's name>, cgroupfs manager, file events), and RUN, `run --rm` with no network
#   (the guest has none) and ulimits the guest allows; imports DIR/img as strata-bb.
# pm ARGS...: that podman, bounded by a timeout. podman_reset: removes its containers and store.
# check NAME WANT GOT: an ok or FAIL line for runtime $n (WANT is a glob; a FAIL shows $w/err,
#   the last podman's stderr) and counts failures in $fails.
PODMAN=()
pm() { timeout 120 "${PODMAN[@]}" "$@"; }
podman_image() {
  local w=$1 t
  shift
  mkdir -p "$w/img/bin" "$w/img/tmp"
  cp /usr/bin/busybox "$w/img/bin/"
  for t in "$@"; do ln -sf busybox "$w/img/bin/$t"; done
}
podman_use() {
  local w=$1 rt=$2 s
  s=$w/$(basename "$rt")
  mkdir -p "$w/tmp" "$w/net"
  PODMAN=(podman --root "$s/storage" --runroot "$s/run" --tmpdir "$w/tmp" --network-config-dir "$w/net"
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime "$rt")
  # the ulimits: podman asks for 1048576 by default, more than the guest's hard limit
  # shellcheck disable=SC2034  # RUN is for the caller
  RUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
  tar -C "$w/img" -c . | pm import - strata-bb >"$w/import.log" 2>&1 ||
    { cat "$w/import.log" >&2; echo "podman import failed" >&2; return 1; }
}
podman_reset() {
  ((${#PODMAN[@]})) || return 0
  pm rm -af -t 0 >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
}
check() {
  # shellcheck disable=SC2053,SC2154  # want is a glob; n, w and fails are the caller's
  if [[ $3 == $2 ]]; then echo "ok   $n: podman $1"; else
    echo "FAIL $n: podman $1: want $(tr '\n' ' ' <<<"$2"), got: $(tr '\n' ' ' <<<"$3" | cut -c1-400); stderr: $(tr '\n' ' ' <"$w/err" | cut -c1-400)"
    fails=$((fails + 1)); fi
}
