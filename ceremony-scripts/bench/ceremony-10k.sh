#!/usr/bin/env bash
# Benchmark (issue 17): a whole ceremony end to end (verify, generate, wrap,
# seal, export, attestation, wipe) at SIZES keys (default "1000 10000") on a
# fresh Kryoptic token each, release build, production Argon2id,
# SYMMETRIC_DEFAULT + RSAES_OAEP_SHA_256 under RSA-4096. Reports wall time,
# peak RSS (/usr/bin/time -v), and the attestation's size and page count
# (pdfinfo). BENCH_WORK=DIR keeps the results.
source "$(dirname "$0")/lib.sh"
need /usr/bin/time time
need pdfinfo poppler-utils
sizes="${SIZES:-1000 10000}"
[ "${SKIP_BUILD:-}" = 1 ] || build_release
top="$work"
echo "| keys | wall | peak RSS | RSS per 1,000 keys | attestation | pages |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
    work="$top/run-$n"
    mkdir -p "$work"
    bench_token
    make_request "$work/request" "$n" "bench-e2e-$n"
    /usr/bin/time -v -o "$work/time.txt" "$airlock" --config "$AIRLOCK_CONFIG" ceremony run \
        --request "$work/request" --out "$work/import" --allow-network \
        --request-digest "$(sha256sum "$work/request/SHA256SUMS" | cut -c1-64)" \
        --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" \
        >"$work/stdout.txt" 2>"$work/stderr.txt" || {
        cat "$work/stderr.txt" >&2
        exit 1
    }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    pdf="$work/import/attestation.pdf"
    bytes=$(stat -c %s "$pdf")
    pages=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
    awk -v n="$n" -v w="$wall" -v r="$rss" -v b="$bytes" -v p="$pages" 'BEGIN {
        printf "| %d | %s | %.1f MB | %.1f MB | %.0f KB | %d |\n", n, w, r / 1024, r / 1024 / (n / 1000), b / 1024, p
    }'
done
