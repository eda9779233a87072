#!/usr/bin/env bash
# Runs inside the AppArmor VM (make test-apparmor, test-apparmor-smoke; Debian's kernel enables
# AppArmor by default): the lsm and config_misc groups on a tmpfs, then the OCI conformance file
# linux_process_apparmor_profile with its profile (acme_secure_profile) loaded, then
# hack/docker-apparmor-tests.sh (docker run --runtime gets docker-default) and
# hack/podman-apparmor-tests.sh (podman's containers-default, a named profile, unconfined).
# --smoke: the lsm group only, no conformance, no engines. --runtime PATH (repeatable) picks the runtimes (default: strata).
# CONFORMANCE: the suite's run.sh (default /work/shared/conformance/run.sh; skipped if missing).
set -euo pipefail
out=${OUT:-target/x86_64-unknown-linux-gnu/release}
filters=(--filter lsm:: --filter config_misc::)
smoke=0
# shellcheck source=hack/lib/args.sh
source "$(dirname "$0")/lib/args.sh"
script_opt() { case $1 in --smoke) smoke=1 filters=(--filter lsm::) ;; *) return 1 ;; esac; }
parse_runtime_args "$@"
shift "$nparsed"
die() { echo "apparmor-tests: $*" >&2; exit 1; }
[[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] ||
  die "AppArmor is not enabled in this kernel (boot it with apparmor=1 security=apparmor)"
# apparmor_parser loads policy through securityfs.
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
command -v apparmor_parser >/dev/null || die "apparmor_parser missing (hack/deps.sh vm installs apparmor)"
echo "LSMs: $(cat /sys/kernel/security/lsm)"
mkdir -p /run/rt
mountpoint -q /run/rt || mount -t tmpfs tmpfs /run/rt
rc=0
for rt in "${runtimes[@]}"; do  # every runtime runs, even after a failure; any failure fails the script
  "$out/runtime-tests" --workdir /run/rt --jobs 2 --runtime "$rt" --probe "$PWD/$out/probe" \
    "${filters[@]}" "$@" || rc=1
done
conformance=${CONFORMANCE:-/work/shared/conformance/run.sh} suite=${SUITE:-/tmp/oci-validation}
if ((!smoke)); then
  if [[ -f $conformance && -x $suite/runtimetest ]]; then
    # The suite's runtimetest runs confined by this profile and checks attr/current.
    printf '%s\n' 'profile acme_secure_profile flags=(attach_disconnected,mediate_deleted) {' \
      '  file,' '  capability,' '  network,' '  signal,' '  ptrace,' '  unix,' '  mount,' '  umount,' \
      '  pivot_root,' '}' >/run/rt/acme_secure_profile
    apparmor_parser -r /run/rt/acme_secure_profile
    for rt in "${runtimes[@]}"; do
      bash "$conformance" "$rt" "$suite" "/run/rt/conf-$(basename "$rt")" linux_process_apparmor_profile | tee /run/rt/conf.out
      grep -q '^1 passed, 0 failed' /run/rt/conf.out || rc=1
    done
    apparmor_parser -R /run/rt/acme_secure_profile
  else
    echo "apparmor-tests: no conformance suite ($conformance, $suite): linux_process_apparmor_profile not run" >&2
  fi
fi
if ((!smoke)); then  # docker-default through dockerd, podman's profiles, for the same runtimes
  rtargs=()
  for rt in "${runtimes[@]}"; do rtargs+=(--runtime "$rt"); done
  bash hack/docker-apparmor-tests.sh "${rtargs[@]}" || rc=1
  bash hack/podman-apparmor-tests.sh "${rtargs[@]}" || rc=1
fi
exit $rc
