#!/usr/bin/env bash
# Benchmark: `airlock request verify` of a signed 10,000-key request (target
# < 2 s), release build, hyperfine. Usage: ceremony-scripts/bench/verify-10k.sh
source "$(dirname "$0")/lib.sh"
need hyperfine hyperfine
[ "${SKIP_BUILD:-}" = 1 ] || build_release
mkdir -p "$work/state"
export AIRLOCK_CONFIG="$work/airlock.toml"
printf '[hsm]\nmodule = "%s"\ntoken = "unused-for-verify"\n\n[state]\ndir = "%s"\n' \
    "$kryoptic" "$work/state" >"$AIRLOCK_CONFIG"
"$airlock" trust add-signer \
    "$root/tests/fixtures/test-only-keys/test-only-signer-rsa3072.pub.pem" \
    --name bench-signer >/dev/null
time make_request "$work/req-10k" 10000 bench-10k RSA_2048
"$airlock" request verify "$work/req-10k" | tail -n 3
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$work/verify-10k.md" \
    "$airlock request verify $work/req-10k"
cat "$work/verify-10k.md"
