#!/usr/bin/env bash
# Benchmark (issue 17): a whole ceremony's marginal cost per key against the
# bare PKCS#11 floor, on the same token kind in the same run, on an empty
# token and on one already holding FILL other objects.
#
# For each token kind in TOKENS (default "kryoptic softhsm") and each FILL in
# FILLS (default "0 3000"): one token is made and filled once (FILL AES-256
# token keys), and its store is copied aside; then, each from that same
# copy, the bare loop (examples/token_floor.rs: import the wrapping public
# key, generate an AES-256 token key, CMAC KCV, RSA-OAEP-SHA-256 wrap,
# destroy the session object) runs SMALL and LARGE keys (default 40 and
# 240), and `airlock ceremony run` (release build, production Argon2id,
# SYMMETRIC_DEFAULT + RSAES_OAEP_SHA_256 under RSA-4096; on SoftHSM2, which
# has no OAEP but SHA-1, RSAES_OAEP_SHA_1 with --allow-sha1) runs SMALL and
# LARGE keys after an untimed enrolment, REPEAT times (default 3) in turn;
# each time is the fastest of its REPEAT runs. Prints each slope and the ratio.
# The bare loop runs twice: as above, and with the one extra token-object
# access per key the ceremony keeps (the attribute read-back), "checked".
# Results go to $work/results.txt; BENCH_WORK=DIR keeps them. OUT_BASE=DIR
# puts the ceremonies' output folders there instead (e.g. /dev/shm, to see
# how much of the per-key cost is the file system creating the bundle's
# three inodes per key: a diagnosis, never the result).
source "$(dirname "$0")/lib.sh"
need /usr/bin/time time
small="${SMALL:-40}"
large="${LARGE:-240}"
tokens="${TOKENS:-kryoptic softhsm}"
fills="${FILLS:-0 3000}"
repeat="${REPEAT:-3}"
floor="$root/target/release/examples/token_floor"
if [ "${SKIP_BUILD:-}" != 1 ]; then
    build_release
    (cd "$root" && cargo build --release -p airlock-hsm --features testing --example token_floor)
fi
results="$work/results.txt"
: >"$results"
top="$work"

# seconds_of TIME_V_FILE: the wall-clock line of /usr/bin/time -v, in seconds.
seconds_of() {
    awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1" |
        awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}

# restore: the token store and state as the snapshot has them.
restore() {
    rm -rf "$work/token" "$work/state"
    cp -a "$work/snapshot/token" "$work/token"
    mkdir -p "$work/state"
}

for kind in $tokens; do
    for fill in $fills; do
        work="$top/$kind-$fill"
        mkdir -p "$work"
        custodians=(--custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob")
        bench_token_init "$kind"
        # SoftHSM2 refuses every OAEP hash but SHA-1 (docs/hsm-compatibility.md).
        hash=sha256 alg=RSAES_OAEP_SHA_256 extra=()
        if [ "$kind" = softhsm ]; then
            hash=sha1 alg=RSAES_OAEP_SHA_1 extra=(--allow-sha1)
        fi
        if [ "$fill" -gt 0 ]; then
            "$floor" fill "$module" airlock-bench "$work/secrets/user-pin" "$fill"
        fi
        mkdir -p "$work/snapshot"
        cp -a "$work/token" "$work/snapshot/token"
        for n in "$small" "$large"; do
            make_request "$work/request-$n" "$n" "bench-$kind-$fill-$n" RSA_4096 "$alg"
        done
        for round in $(seq "$repeat"); do
        for mode in loop checked; do
            for n in "$small" "$large"; do
                restore
                t=$("$floor" "$mode" "$module" airlock-bench "$work/secrets/user-pin" "$n" "$hash")
                echo "$kind $fill $mode $n $t $round" | tee -a "$results"
            done
        done
        for n in "$small" "$large"; do
            restore
            bench_enroll
            out="${OUT_BASE:-$work}/$kind-$fill-import-$n"
            rm -rf "$out"
            /usr/bin/time -v -o "$work/time-$n.txt" "$airlock" --config "$AIRLOCK_CONFIG" ceremony run \
                --request "$work/request-$n" --out "$out" --allow-network \
                --request-digest "$(sha256sum "$work/request-$n/SHA256SUMS" | cut -c1-64)" \
                "${extra[@]}" "${custodians[@]}" >"$work/stdout-$n.txt" 2>"$work/stderr-$n.txt" || {
                cat "$work/stderr-$n.txt" >&2
                exit 1
            }
            rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time-$n.txt")
            echo "$kind $fill ceremony $n $(seconds_of "$work/time-$n.txt") $round $rss" | tee -a "$results"
        done
        done
    done
done

echo
echo "| token | other objects | Airlock per key | bare loop per key | ratio | bare + read-back per key | ratio to it |"
echo "|---|---|---|---|---|---|---|"
awk -v s="$small" -v l="$large" '
    {
        key = $1 " " $2; m = key " " $3 " " $4
        if (!(m in t) || $5 < t[m]) t[m] = $5
        if (!(key in seen)) { seen[key] = 1; order[++k] = key }
    }
    END {
        for (i = 1; i <= k; i++) {
            split(order[i], a, " ")
            c = (t[order[i]" ceremony "l] - t[order[i]" ceremony "s]) / (l - s) * 1000
            b = (t[order[i]" loop "l] - t[order[i]" loop "s]) / (l - s) * 1000
            r = (t[order[i]" checked "l] - t[order[i]" checked "s]) / (l - s) * 1000
            printf "| %s | %d | %.2f ms | %.2f ms | %.2fx | %.2f ms | %.2fx |\n", a[1], a[2], c, b, c / b, r, c / r
        }
    }' "$results"
