#!/usr/bin/env bash
# Benchmark: cold start of the CLI (`airlock --version`, `airlock config
# check`), target < 100 ms each; hyperfine, release build.
source "$(dirname "$0")/lib.sh"
need hyperfine hyperfine
[ "${SKIP_BUILD:-}" = 1 ] || build_release
mkdir -p "$work/state"
export AIRLOCK_CONFIG="$work/airlock.toml"
printf '[hsm]\nmodule = "%s"\ntoken = "airlock-bench"\n\n[state]\ndir = "%s"\n' \
    "$kryoptic" "$work/state" >"$AIRLOCK_CONFIG"
"$airlock" config check
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-markdown "$work/cold-start.md" \
    "$airlock --version" "$airlock config check"
cat "$work/cold-start.md"
