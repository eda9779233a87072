# shellcheck shell=bash
# Sourced by the hack/*-tests.sh scripts for the option they share: --runtime PATH, repeatable, the
# runtimes to test (default: strata, $PWD/${OUT:-target/x86_64-unknown-linux-gnu/release}/strata).
#
# parse_runtime_args ARGS...: reads the leading options into the array `runtimes`. An option other
# than --runtime goes to the caller's `script_opt` function, if it has one, with every argument
# left: it returns 0 when it took $1, 1 otherwise, and sets `took` to 2 when it took $2 (a value)
# too. Stops at the first argument neither takes and sets
# `nparsed` to how many were read, so that the caller can `shift "$nparsed"` and pass on the rest.
parse_runtime_args() {
  runtimes=() nparsed=0
  while (($#)); do
    case $1 in
      --runtime) runtimes+=("${2:?--runtime needs a path}"); shift 2; nparsed=$((nparsed + 2)) ;;
      *)
        took=1
        if ! declare -F script_opt >/dev/null || ! script_opt "$@"; then break; fi
        shift "$took"; nparsed=$((nparsed + took)) ;;
    esac
  done
  ((${#runtimes[@]})) || runtimes=("$PWD/${OUT:-target/x86_64-unknown-linux-gnu/release}/strata")
}

# no_more_args SCRIPT ARGS...: for a script that takes nothing but --runtime PATH: fails with its
# usage on anything left after parse_runtime_args.
no_more_args() {
  local script=$1
  shift
  (($# == 0)) || { echo "usage: $script [--runtime PATH]..." >&2; exit 2; }
}
