# Shared setup for the benchmark scripts: release binaries, a fresh Kryoptic
# token initialised with pkcs11-tool, an airlock.toml and state directory,
# two enrolled custodians at the production Argon2id cost, and the test-only
# request signer. Source it; it defines $root, $work, $airlock, $kryoptic and
# the functions below. Test-only keys: never use this on a real workstation.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
airlock="$root/target/release/airlock"
kryoptic="$root/target/release/libairlock_kryoptic.so"
work="${BENCH_WORK:-$(mktemp -d /tmp/airlock-bench.XXXXXX)}"
mkdir -p "$work"

# need CMD PACKAGE: stop with the Debian package to install when CMD is missing.
need() {
    command -v "$1" >/dev/null || {
        echo "bench: $1 is missing; apt-get install $2" >&2
        exit 1
    }
}
need pkcs11-tool opensc

build_release() {
    (cd "$root" && cargo build --release -p airlock-app -p airlock-test-token)
}

# bench_token_init [KIND]: a fresh token under $work/token, KIND kryoptic
# (default) or softhsm, labelled airlock-bench with SO PIN so-pin-1234 and
# user PIN user-pin-5678 ($work/secrets/user-pin), and $AIRLOCK_CONFIG for
# it; sets $module. No enrolment.
bench_token_init() {
    local kind="${1:-kryoptic}"
    mkdir -p "$work/token" "$work/state" "$work/secrets"
    case "$kind" in
    kryoptic)
        module="$kryoptic"
        export KRYOPTIC_CONF="$work/token/kryoptic.conf"
        printf '[[slots]]\nslot = 1\ndbtype = "sqlite"\ndbargs = "%s"\n' \
            "$work/token/token.sql" >"$KRYOPTIC_CONF"
        ;;
    softhsm)
        module=/usr/lib/softhsm/libsofthsm2.so
        mkdir -p "$work/token/tokens"
        export SOFTHSM2_CONF="$work/token/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$work/token/tokens" >"$SOFTHSM2_CONF"
        ;;
    *)
        echo "bench: unknown token kind $kind (kryoptic or softhsm)" >&2
        exit 2
        ;;
    esac
    pkcs11-tool --module "$module" --init-token --label airlock-bench \
        --so-pin so-pin-1234 >/dev/null
    pkcs11-tool --module "$module" --token-label airlock-bench --login --login-type so \
        --so-pin so-pin-1234 --init-pin --pin user-pin-5678 >/dev/null
    printf 'user-pin-5678\n' >"$work/secrets/user-pin"
    export AIRLOCK_CONFIG="$work/airlock.toml"
    printf '[hsm]\nmodule = "%s"\ntoken = "airlock-bench"\n\n[state]\ndir = "%s"\n' \
        "$module" "$work/state" >"$AIRLOCK_CONFIG"
}

# bench_enroll: enrols alice and bob (2 of 2, production Argon2id cost) on
# the token and trusts the test-only request signer.
bench_enroll() {
    printf 'so-pin-1234\n' >"$work/secrets/so-pin"
    for c in alice bob; do
        printf '%s has a long bench passphrase\n' "$c" >"$work/secrets/$c"
    done
    "$airlock" enroll --threshold 2 \
        --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" \
        --so-pin-file "$work/secrets/so-pin" >/dev/null
    "$airlock" trust add-signer \
        "$root/tests/fixtures/test-only-keys/test-only-signer-rsa3072.pub.pem" \
        --name bench-signer \
        --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" >/dev/null
}

# bench_token: a fresh Kryoptic token, config, enrolment (alice, bob; 2 of 2)
# and the trusted signer under $work.
bench_token() {
    bench_token_init kryoptic
    bench_enroll
}

# make_request DIR COUNT ID [WRAPSPEC [ALGORITHM]]: a signed request of COUNT
# SYMMETRIC_DEFAULT keys (default RSA_4096, RSAES_OAEP_SHA_256).
make_request() {
    bash "$root/tests/lib/make-request-bundle.sh" --out "$1" --count "$2" \
        --request-id "$3" --wrapping-key-spec "${4:-RSA_4096}" \
        --algorithm "${5:-RSAES_OAEP_SHA_256}" \
        --signer-key "$root/tests/fixtures/test-only-keys/test-only-signer-rsa3072.key.pem" \
        --wrapping-key-dir "$work/wrapping-keys" >/dev/null
}

custodians=(--custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob")
