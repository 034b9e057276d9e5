#!/usr/bin/env bash
# Benchmark: a whole headless ceremony on Kryoptic (release build,
# production Argon2id cost) at SMALL and LARGE keys (default 100 and 1000),
# SYMMETRIC_DEFAULT + RSAES_OAEP_SHA_256 under RSA-4096. Reports wall time
# and peak RSS (/usr/bin/time -v) of each, the marginal cost per key
# (slope) and the fixed cost (intercept: quorum KDFs, verification,
# self-tests, sealing, read-back, wipe). Each size runs on its own fresh
# token so the token's object count is the same at the start.
# WRAPPER=eatmydata runs the ceremony with fsync turned into a no-op (a
# diagnosis of how much of the per-key cost is durability, never a result).
source "$(dirname "$0")/lib.sh"
need /usr/bin/time time
small="${SMALL:-100}"
large="${LARGE:-1000}"
[ "${SKIP_BUILD:-}" = 1 ] || build_release
results="$work/results.txt"
: >"$results"
for n in "$small" "$large"; do
    base="$work"
    work="$base/run-$n"
    mkdir -p "$work"
    custodians=(--custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob")
    bench_token
    make_request "$work/request" "$n" "bench-$n"
    /usr/bin/time -v -o "$work/time.txt" ${WRAPPER:-} "$airlock" --config "$AIRLOCK_CONFIG" ceremony run \
        --request "$work/request" --out "$work/import" --allow-network \
        --request-digest "$(sha256sum "$work/request/SHA256SUMS" | cut -c1-64)" \
        "${custodians[@]}" >"$work/stdout.txt" 2>"$work/stderr.txt" || {
        cat "$work/stderr.txt" >&2
        exit 1
    }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt" |
        awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    echo "$n $wall $rss" | tee -a "$results"
    work="$base"
done
awk -v s="$small" -v l="$large" '
    $1==s {ts=$2; rs=$3} $1==l {tl=$2; rl=$3}
    END {
        slope=(tl-ts)/(l-s); fixed=ts-s*slope
        printf "keys %d: %.2f s, peak RSS %.1f MB\n", s, ts, rs/1024
        printf "keys %d: %.2f s, peak RSS %.1f MB\n", l, tl, rl/1024
        printf "marginal cost per key: %.2f ms\n", slope*1000
        printf "fixed cost (intercept): %.2f s\n", fixed
    }' "$results"
