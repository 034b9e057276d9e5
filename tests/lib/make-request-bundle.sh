#!/usr/bin/env bash
# Builds a valid, signed Airlock request bundle with openssl, sha256sum and
# jq, exactly as the online side does (docs/formats.md). Tests reuse it to
# make good bundles and then tamper with them.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: make-request-bundle.sh --out DIR --signer-key KEY.pem [options]

Builds a request bundle in DIR (which must not exist or be empty):
  request.json, keys/<name>/WrappingPublicKey.bin, keys/<name>/ImportToken.bin,
  SHA256SUMS (sorted, sha256sum format), SHA256SUMS.sig (RSASSA-PSS SHA-256,
  salt 32, made with `openssl dgst -sign`).

Required:
  --out DIR              where to write the bundle
  --signer-key FILE      the request signer's PRIVATE key (PEM, RSA 3072/4096)

Keys (repeat --key for a mixed bundle, or use --count for many alike):
  --key SPEC             one key: NAME:KEY_SPEC:WRAPPING_ALGORITHM:WRAPPING_KEY_SPEC
                         e.g. prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096
                         optional 5th/6th fields: IMPORT_TYPE:HSM_LABEL
                         (EXISTING_KEY_MATERIAL with a label -> material existing)
  --replica SPEC         a multi-Region replica of a --key (repeatable):
                         NAME:REGION:WRAPPING_ALGORITHM:WRAPPING_KEY_SPEC[:WRAPPING_KEY_PEM]
                         e.g. prod-s3:us-east-1:RSAES_OAEP_SHA_256:RSA_4096
                         A key with replicas gets an mrk- key id; each replica
                         gets keys/NAME/replicas/REGION/{WrappingPublicKey.bin,
                         ImportToken.bin} and, without a PEM, its own wrapping
                         key per region (wrapping-SPEC-REGION.pem in the
                         wrapping-key folder)
  --count N              add N keys named PREFIX-00001 .. (default 0 if --key given, else 1)
  --prefix P             name prefix for --count keys (default: key)
  --key-spec S           key spec for --count keys (default: SYMMETRIC_DEFAULT)
  --algorithm A          wrapping algorithm for --count keys (default: RSAES_OAEP_SHA_256)
  --wrapping-key-spec W  wrapping key spec for --count keys (default: RSA_4096)

Wrapping keys (generation is slow, so one key per size is reused for every key):
  --wrapping-key FILE    public or private PEM of the wrapping key to use for
                         every key (overrides generation; its size should match)
  --wrapping-key-dir D   folder with wrapping-RSA_2048.pem etc. (private or public
                         PEM); missing ones are generated there and reused on
                         later runs (default: .wrapping-keys next to --out)

Request fields:
  --request-id ID        (default: test-request)
  --account ACCOUNT      12 digits (default: 111122223333)
  --region REGION        (default: eu-west-1)
  --environment ENV      (default: test)
  --service SERVICE      (default: s3)
  --created-at TS        RFC 3339 (default: now, UTC)
  --valid-to TS          parameters_valid_to for every key, RFC 3339
                         (default: 24 hours from now, UTC)
  --valid-hours H        parameters_valid_to = now + H hours (may be negative)
  --token-size N         bytes of random ImportToken.bin (default: 64)

Other:
  --no-sign              write SHA256SUMS but no signature (tests sign later)
  -h, --help             this text

Afterwards, `tests/lib/make-request-bundle.sh --resign DIR --signer-key KEY`
recomputes SHA256SUMS over the files present and signs it again (for tests
that change signed content on purpose).
EOF
}

die() { echo "make-request-bundle: $*" >&2; exit 2; }

OUT="" SIGNER="" COUNT="" PREFIX="key" KSPEC="SYMMETRIC_DEFAULT" ALG="RSAES_OAEP_SHA_256"
WSPEC="RSA_4096" WKEY="" WKEYDIR="" REQID="test-request" ACCOUNT="111122223333"
REGION="eu-west-1" ENVIRONMENT="test" SERVICE="s3" CREATED="" VALIDTO="" VALIDH=""
TOKSIZE=64 SIGN=1 RESIGN=""
KEYS=()
REPLICAS=()

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --signer-key) SIGNER="$2"; shift 2 ;;
        --key) KEYS+=("$2"); shift 2 ;;
        --replica) REPLICAS+=("$2"); shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --prefix) PREFIX="$2"; shift 2 ;;
        --key-spec) KSPEC="$2"; shift 2 ;;
        --algorithm) ALG="$2"; shift 2 ;;
        --wrapping-key-spec) WSPEC="$2"; shift 2 ;;
        --wrapping-key) WKEY="$2"; shift 2 ;;
        --wrapping-key-dir) WKEYDIR="$2"; shift 2 ;;
        --request-id) REQID="$2"; shift 2 ;;
        --account) ACCOUNT="$2"; shift 2 ;;
        --region) REGION="$2"; shift 2 ;;
        --environment) ENVIRONMENT="$2"; shift 2 ;;
        --service) SERVICE="$2"; shift 2 ;;
        --created-at) CREATED="$2"; shift 2 ;;
        --valid-to) VALIDTO="$2"; shift 2 ;;
        --valid-hours) VALIDH="$2"; shift 2 ;;
        --token-size) TOKSIZE="$2"; shift 2 ;;
        --no-sign) SIGN=0; shift ;;
        --resign) RESIGN="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

# Writes SHA256SUMS over every regular file except SHA256SUMS{,.sig}, sorted
# in byte order, and signs it.
sum_and_sign() {
    local dir="$1"
    ( cd "$dir" && rm -f SHA256SUMS SHA256SUMS.sig &&
      find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0 -r sha256sum -- > SHA256SUMS )
    if [ "$SIGN" = 1 ]; then
        openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
            -sign "$SIGNER" -out "$dir/SHA256SUMS.sig" "$dir/SHA256SUMS"
    fi
}

if [ -n "$RESIGN" ]; then
    [ "$SIGN" = 0 ] || [ -n "$SIGNER" ] || die "--resign needs --signer-key (or --no-sign)"
    sum_and_sign "$RESIGN"
    exit 0
fi

[ -n "$OUT" ] || die "--out is required (see --help)"
[ "$SIGN" = 0 ] || [ -n "$SIGNER" ] || die "--signer-key is required (see --help)"
if [ -z "$COUNT" ]; then
    if [ ${#KEYS[@]} -eq 0 ]; then COUNT=1; else COUNT=0; fi
fi
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then die "$OUT exists and is not empty"; fi
mkdir -p "$OUT"
[ -n "$WKEYDIR" ] || WKEYDIR="$(dirname "$OUT")/.wrapping-keys"
mkdir -p "$WKEYDIR"

NOW_EPOCH=$(date -u +%s)
[ -n "$CREATED" ] || CREATED=$(date -u -d "@$NOW_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
if [ -z "$VALIDTO" ]; then
    h=${VALIDH:-24}
    VALIDTO=$(date -u -d "@$((NOW_EPOCH + h * 3600))" +%Y-%m-%dT%H:%M:%SZ)
fi

# DER SPKI of the wrapping key for a size, made once per size and cached
# (or, with a second argument, one per size and region).
spki_for() {
    local wspec="$1" region="${2:-}" der
    if [ -n "$region" ]; then
        local bits="${wspec#RSA_}" pem="$WKEYDIR/wrapping-$wspec-$region.pem"
        der="$WKEYDIR/wrapping-$wspec-$region.der"
        if [ ! -s "$der" ]; then
            [ -s "$pem" ] || openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" \
                -out "$pem" 2>/dev/null
            openssl pkey -in "$pem" -pubout -outform DER -out "$der"
        fi
    elif [ -n "$WKEY" ]; then
        der="$WKEYDIR/given-$(basename "$WKEY").der"
        if [ ! -s "$der" ]; then
            if grep -q "PUBLIC KEY" "$WKEY"; then
                openssl pkey -pubin -in "$WKEY" -pubout -outform DER -out "$der"
            else
                openssl pkey -in "$WKEY" -pubout -outform DER -out "$der"
            fi
        fi
    else
        local bits="${wspec#RSA_}" pem="$WKEYDIR/wrapping-$wspec.pem"
        der="$WKEYDIR/wrapping-$wspec.der"
        if [ ! -s "$der" ]; then
            [ -s "$pem" ] || openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" \
                -out "$pem" 2>/dev/null
            if grep -q "BEGIN PUBLIC KEY" "$pem"; then
                openssl pkey -pubin -in "$pem" -pubout -outform DER -out "$der"
            else
                openssl pkey -in "$pem" -pubout -outform DER -out "$der"
            fi
        fi
    fi
    printf '%s' "$der"
}

ARN_SEQ=0
KEYS_JSON="$OUT/.keys.jsonl"
: > "$KEYS_JSON"
add_key() {
    local name="$1" kspec="$2" alg="$3" wspec="$4" itype="${5:-NEW_KEY_MATERIAL}" label="${6:-}"
    ARN_SEQ=$((ARN_SEQ + 1))
    local uuid material replicas='[]' r rn rr ra rw rp rdir rder
    uuid=$(printf '%08x-0000-4000-8000-%012x' "$ARN_SEQ" "$ARN_SEQ")
    for r in "${REPLICAS[@]}"; do
        IFS=: read -r rn rr ra rw rp <<< "$r"
        [ "$rn" = "$name" ] || continue
        uuid=$(printf 'mrk-%032x' "$ARN_SEQ")
    done
    for r in "${REPLICAS[@]}"; do
        IFS=: read -r rn rr ra rw rp <<< "$r"
        [ "$rn" = "$name" ] || continue
        [ -n "$rr" ] && [ -n "$ra" ] && [ -n "$rw" ] || die "--replica $r: need NAME:REGION:ALGORITHM:WRAPPING_KEY_SPEC"
        rdir="$OUT/keys/$name/replicas/$rr"
        mkdir -p "$rdir"
        if [ -n "$rp" ]; then
            rder="$WKEYDIR/given-$(basename "$rp").der"
            [ -s "$rder" ] || openssl pkey -in "$rp" -pubout -outform DER -out "$rder"
        else
            rder=$(spki_for "$rw" "$rr")
        fi
        cp "$rder" "$rdir/WrappingPublicKey.bin"
        head -c "$TOKSIZE" /dev/urandom > "$rdir/ImportToken.bin"
        replicas=$(jq -c --arg region "$rr" --arg arn "arn:aws:kms:$rr:$ACCOUNT:key/$uuid" \
            --arg alg "$ra" --arg wspec "$rw" --arg valid "$VALIDTO" \
            '. + [{region: $region, key_arn: $arn, wrapping_algorithm: $alg,
                   wrapping_key_spec: $wspec, parameters_valid_to: $valid}]' <<< "$replicas")
    done
    if [ -n "$label" ]; then
        material=$(printf '{"source":"existing","hsm_label":"%s"}' "$label")
    else
        material='{"source":"generate"}'
    fi
    mkdir -p "$OUT/keys/$name"
    cp "$(spki_for "$wspec")" "$OUT/keys/$name/WrappingPublicKey.bin"
    head -c "$TOKSIZE" /dev/urandom > "$OUT/keys/$name/ImportToken.bin"
    printf '{"name":"%s","alias":"alias/%s","environment":"%s","service":"%s","key_arn":"arn:aws:kms:%s:%s:key/%s","key_spec":"%s","import_type":"%s","material":%s,"wrapping_algorithm":"%s","wrapping_key_spec":"%s","parameters_valid_to":"%s"}\n' \
        "$name" "$name" "$ENVIRONMENT" "$SERVICE" "$REGION" "$ACCOUNT" "$uuid" "$kspec" "$itype" \
        "$material" "$alg" "$wspec" "$VALIDTO" |
        if [ "$replicas" = '[]' ]; then cat; else jq -c --argjson r "$replicas" '. + {replicas: $r}'; fi >> "$KEYS_JSON"
}

for r in "${REPLICAS[@]}"; do
    IFS=: read -r rn _ <<< "$r"
    printf '%s\n' "${KEYS[@]}" | grep -q "^$rn:" || die "--replica $r: no --key named $rn"
done
for k in "${KEYS[@]}"; do
    IFS=: read -r n s a w it lb <<< "$k"
    [ -n "$n" ] && [ -n "$s" ] && [ -n "$a" ] && [ -n "$w" ] || die "--key $k: need NAME:KEY_SPEC:ALGORITHM:WRAPPING_KEY_SPEC"
    add_key "$n" "$s" "$a" "$w" "$it" "$lb"
done
if [ "$COUNT" -gt 0 ]; then
    # Many keys (e.g. a 10,000-key benchmark): a handful of processes in
    # total. One cached SPKI is copied to every key with batched `tee`; the
    # import tokens are random hex text (opaque to the workstation) written
    # by awk, one line of `od` output per key.
    spki=$(spki_for "$WSPEC")
    list="$OUT/.names"
    awk -v n="$COUNT" -v p="$PREFIX" 'BEGIN { for (i = 1; i <= n; i++) printf "%s-%05d\n", p, i }' > "$list"
    ( cd "$OUT" && sed 's|^|keys/|' "$list" | xargs mkdir -p &&
      sed 's|^\(.*\)$|keys/\1/WrappingPublicKey.bin|' "$list" |
        xargs sh -c 'tee "$@" < "$0" > /dev/null' "$spki" )
    head -c "$((COUNT * TOKSIZE))" /dev/urandom | od -An -v -tx1 -w"$TOKSIZE" | tr -d ' ' |
        paste -d ' ' "$list" - |
        awk -v out="$OUT" '{ f = out "/keys/" $1 "/ImportToken.bin"; printf "%s", $2 > f; close(f) }'
    awk -v seq="$ARN_SEQ" -v env="$ENVIRONMENT" -v svc="$SERVICE" -v region="$REGION" \
        -v account="$ACCOUNT" -v kspec="$KSPEC" -v alg="$ALG" -v wspec="$WSPEC" -v valid="$VALIDTO" '
        { seq++
          printf "{\"name\":\"%s\",\"alias\":\"alias/%s\",\"environment\":\"%s\",\"service\":\"%s\",", $1, $1, env, svc
          printf "\"key_arn\":\"arn:aws:kms:%s:%s:key/%08x-0000-4000-8000-%012x\",", region, account, seq, seq
          printf "\"key_spec\":\"%s\",\"import_type\":\"NEW_KEY_MATERIAL\",\"material\":{\"source\":\"generate\"},", kspec
          printf "\"wrapping_algorithm\":\"%s\",\"wrapping_key_spec\":\"%s\",\"parameters_valid_to\":\"%s\"}\n", alg, wspec, valid }
        ' "$list" >> "$KEYS_JSON"
    rm -f "$list"
fi

jq -n --arg id "$REQID" --arg created "$CREATED" --arg account "$ACCOUNT" --arg region "$REGION" \
    --slurpfile keys "$KEYS_JSON" \
    '{format: "airlock-request/1", request_id: $id, created_at: $created,
      aws_account: $account, aws_region: $region, keys: $keys}' > "$OUT/request.json"
rm -f "$KEYS_JSON"
sum_and_sign "$OUT"
