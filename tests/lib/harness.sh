#!/usr/bin/env bash
# The shell tests' harness: counts passes and failures and prints
# "N passed, M failed" last. Source it after setting $work (a scratch
# folder for command output); it sets an EXIT trap that reports and fails
# the script unless something passed, nothing failed and the script
# itself did not stop on an error. Processes a test
# starts can be listed in the array `mine`; they are ended by id at exit.
#
#   ok NAME / fail NAME [DETAIL] / skip NAME
#   expect NAME CODE CMD...   passes when CMD exits CODE (output in $work/last.out)
#   check NAME CMD...         passes when CMD succeeds (output in $work/check.out)

: "${work:?set work (a scratch folder) before sourcing harness.sh}"
passed=0 failed=0 skipped=0
mine=()
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/      /' | tail -20; }
skip() { skipped=$((skipped + 1)); printf 'skip  %s\n' "$1"; }
expect() {
    local name=$1 code=$2 rc=0
    shift 2
    "$@" >"$work/last.out" 2>&1 || rc=$?
    if ((rc == code)); then ok "$name"; else fail "$name (exit $rc, wanted $code)" "$(cat "$work/last.out")"; fi
}
check() {
    local name=$1
    shift
    if "$@" >"$work/check.out" 2>&1; then ok "$name"; else fail "$name" "$(cat "$work/check.out")"; fi
}
harness_finish() {
    local rc=$? p
    for p in "${mine[@]}"; do kill "$p" 2>/dev/null || true; done
    ((rc == 0)) || fail "the script stopped early (exit $rc)"
    echo
    if ((skipped)); then echo "($skipped skipped)"; fi
    echo "$passed passed, $failed failed"
    if ((failed == 0 && passed > 0)); then exit 0; fi
    exit 1
}
trap harness_finish EXIT
