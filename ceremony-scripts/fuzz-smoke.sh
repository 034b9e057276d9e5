#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ and runs each one
# briefly from the committed seeds (fuzz/seeds/<target>/) plus whatever
# corpus earlier runs left in fuzz/corpus/<target>/. Any crash, panic,
# timeout or out-of-memory fails the script, and libFuzzer leaves the input
# in fuzz/artifacts/<target>/.
#
#   ceremony-scripts/fuzz-smoke.sh                 # every target, 12 s each
#   FUZZ_SECONDS=600 ceremony-scripts/fuzz-smoke.sh journal roster
#
# Installs cargo-fuzz (`cargo install --locked cargo-fuzz`) when missing.
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the
# stable toolchain. fuzz/ has its own workspace and target directory, so
# this never touches the main build.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-12}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "fuzz-smoke: building ${#targets[@]} targets"
cargo fuzz build -O

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "fuzz-smoke: $t for ${seconds}s"
    if ! cargo fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>"artifacts/$t.log"; then
        failed+=("$t")
        tail -n 40 "artifacts/$t.log" >&2
    else
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "artifacts/$t.log" |
            sed "s/^/  $t: /"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-smoke: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets ran ${seconds}s each, no crashes"
