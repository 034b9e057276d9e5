#!/usr/bin/env bash
# Release-binary hygiene (issue 13, point 6): the fault-injection hook
# `AIRLOCK_FAULT_FAIL_CALL` exists only in debug builds (the tests and the
# demo), never in a release binary such as the offline kit's.
#   - the CLI-only release binary (target/release/airlock, built with
#     `cargo build --release -p airlock-app --no-default-features --locked`
#     only if it is not there yet, or with --rebuild) does not contain the
#     variable's name;
#   - airlock-hsm's unit test of the gate passes in the release profile,
#     where the variable's value is ignored;
#   - as a control that the search works: a debug airlock binary, if one is
#     built, does contain the name.
#
# Not wired into ceremony-scripts/test-all.sh: a release build costs CI time.
# Usage: tests/release-hygiene/run.sh [--rebuild]
# Prints `N passed, M failed` last; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/airlock
name=AIRLOCK_FAULT_FAIL_CALL

passed=0 failed=0
pass() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; ((failed == 0)); exit $?; }

# Occurrences of the variable's name among the printable strings of $1.
count_in() { strings -a "$1" | grep -c "$name"; }

if [[ ${1:-} == --rebuild || ! -x $bin ]]; then
  start=$SECONDS
  if ! cargo build --release -p airlock-app --no-default-features --locked; then
    fail "release build of the CLI"
    finish
  fi
  echo "     (release build took $((SECONDS - start)) s)"
fi

n=$(count_in "$bin")
if [[ $n == 0 ]]; then
  pass "release binary does not contain $name"
else
  fail "release binary contains $name $n time(s)"
fi

if cargo test --release -p airlock-hsm --lib --locked -- fault:: >"$target/release-hygiene-test.log" 2>&1; then
  pass "airlock-hsm fault gate unit tests pass in the release profile"
else
  cat "$target/release-hygiene-test.log"
  fail "airlock-hsm fault gate unit tests in the release profile"
fi

dbg=$target/debug/airlock
if [[ -x $dbg ]]; then
  n=$(count_in "$dbg")
  if [[ $n -gt 0 ]]; then
    pass "control: the debug binary does contain $name"
  else
    fail "control: the debug binary should contain $name (is the search broken?)"
  fi
else
  echo "skip control: no debug binary at $dbg"
fi

finish
