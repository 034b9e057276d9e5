#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs are single-quoted on purpose
# Online side, step 2: verifies a sealed import bundle from the offline
# workstation with sha256sum and openssl only, imports each key's material
# into AWS KMS, tests it, rotates on demand or swaps aliases environment by
# environment, tags the keys and writes a receipt. A rerun skips what is done.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SCRIPT_NAME=import-bundle.sh
# shellcheck source=ceremony-scripts/online-lib.sh
source "$here/online-lib.sh"

usage() {
    cat <<'EOF'
Usage: import-bundle.sh --bundle DIR --ceremony-key PEM --expect-digest HEX [options]

1. Verifies the bundle before any AWS call: no links or special files, every
   file listed in SHA256SUMS and none missing (attestation.pdf excepted),
   SHA256SUMS sorted and in coreutils format, its SHA-256 equal to the digest
   typed from the paper attestation (--expect-digest), SHA256SUMS.sig a valid
   RSASSA-PSS SHA-256 signature under the enrolled ceremony key, and
   'sha256sum -c' passes. Any failure: nothing is imported.
2. Checks every key's state (describe-key) before importing any.
3. Environment by environment (dev, int, prod unless --environments says
   otherwise), for each key: import-key-material (NEW_KEY_MATERIAL,
   KEY_MATERIAL_DOES_NOT_EXPIRE unless --valid-to), then a test
   (encrypt/decrypt, generate-mac/verify-mac or sign/verify), then
     on-demand   (key Enabled with material): rotate-key-on-demand, then a
                 ciphertext made before the import must still decrypt;
     alias-swap  (key was PendingImport): after a confirmation per
                 environment, update-alias (or create-alias) to the new key;
                 the old key is tagged KeyRotationStatus=Replaced.
   Keys are tagged KeyRotationStatus, LastKeyRotationDate, AirlockCeremony.
   The receipt (JSON) is rewritten after every step. A rerun skips steps
   already done for this ceremony.

Options:
  --bundle DIR              the import bundle (as copied from the USB medium)
  --ceremony-key PEM        the ceremony signing key's public key, from the
                            enrolled copy (NOT the one inside the bundle)
  --expect-digest HEX       the bundle digest printed on the attestation
                            (spaces, dashes and case are ignored)
  --strategy S              auto (default: by key state), on-demand or alias-swap
  --environments LIST       comma-separated, in order (default: dev,int,prod,
                            then any other environment in the bundle)
  --request DIR             the request bundle this answers: its digest must be
                            the one import.json names; supplies each key's environment
                            (else the key's Environment tag)
  --receipt-dir DIR         where receipts go (default: ./airlock-receipts)
  --valid-to TIMESTAMP      import with KEY_MATERIAL_EXPIRES and this ValidTo
  --yes                     do not ask before each environment's alias swap
  --region REGION           (default: AWS_DEFAULT_REGION / AWS_REGION)
  --endpoint-url URL        send every aws call there (default: real AWS)
  --dry-run                 verify the bundle, then print the aws calls; change nothing
  -h, --help                this text

If the `airlock` CLI is on PATH (or AIRLOCK_BIN names it), `airlock bundle
verify` runs as an extra check.

EOF
    exit_codes_help
}

BUNDLE="" CKEY="" EXPECT="" STRATEGY=auto ENVS="" REQUEST="" RECEIPTS=./airlock-receipts VALID_TO="" YES=0 REGION=""
while (($#)); do
    case "$1" in
        --bundle) BUNDLE=${2:?--bundle needs a folder}; shift 2 ;;
        --ceremony-key) CKEY=${2:?--ceremony-key needs a PEM file}; shift 2 ;;
        --expect-digest) EXPECT=${2:?--expect-digest needs the hex digest}; shift 2 ;;
        --strategy) STRATEGY=${2:?--strategy needs auto, on-demand or alias-swap}; shift 2 ;;
        --environments) ENVS=${2:?--environments needs a list}; shift 2 ;;
        --request) REQUEST=${2:?--request needs a folder}; shift 2 ;;
        --receipt-dir) RECEIPTS=${2:?--receipt-dir needs a folder}; shift 2 ;;
        --valid-to) VALID_TO=${2:?--valid-to needs a timestamp}; shift 2 ;;
        --yes) YES=1; shift ;;
        --region) REGION=${2:?--region needs a region}; shift 2 ;;
        --endpoint-url) ENDPOINT_URL=${2:?--endpoint-url needs a URL}; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "$EX_USAGE" "unknown option '$1' (see --help)" ;;
    esac
done
[[ -n $BUNDLE ]] || die "$EX_USAGE" "--bundle is required (see --help)"
[[ -n $CKEY ]] || die "$EX_USAGE" "--ceremony-key is required: the enrolled ceremony public key PEM (see --help)"
[[ -n $EXPECT ]] || die "$EX_USAGE" "--expect-digest is required: type the bundle digest printed on the attestation"
case "$STRATEGY" in auto | on-demand | alias-swap) ;; *) die "$EX_USAGE" "--strategy '$STRATEGY' must be auto, on-demand or alias-swap" ;; esac
expect=$(normalise_digest "$EXPECT")
[[ -n $expect ]] || die "$EX_USAGE" "--expect-digest '$EXPECT' is not 64 hex digits; type the bundle digest from the attestation again"
if [[ -n $VALID_TO ]]; then
    VALID_TO=$(date -u -d "$VALID_TO" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null) || die "$EX_USAGE" "--valid-to is not a timestamp (e.g. 2027-11-28T00:00:00Z)"
fi
need aws jq openssl sha256sum base64
[[ -n $REGION ]] || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
[[ -n $REGION ]] || die "$EX_USAGE" "no AWS region: pass --region or set AWS_DEFAULT_REGION"
export AWS_DEFAULT_REGION=$REGION

# --- 1. verify the bundle (no AWS calls) ---------------------------------
bad() { die "$EX_BUNDLE" "bundle $BUNDLE: $*; do not import: copy the bundle again from the medium, or investigate"; }
[[ -d $BUNDLE ]] || die "$EX_IO" "bundle folder $BUNDLE not found"
[[ -r $CKEY ]] || die "$EX_IO" "ceremony key $CKEY not found or not readable"
openssl pkey -pubin -in "$CKEY" -noout 2>/dev/null ||
    die "$EX_USAGE" "ceremony key $CKEY is not a PUBLIC KEY PEM; use the enrolled copy of ceremony-signing-key.pem"
for f in SHA256SUMS SHA256SUMS.sig import.json; do [[ -f $BUNDLE/$f ]] || bad "$f is missing"; done
odd=$(find "$BUNDLE" -mindepth 1 ! -type f ! -type d -printf '%P\n' | head -3)
[[ -z $odd ]] || bad "not a plain file (link, device, FIFO or socket): $odd"
hard=$(find "$BUNDLE" -type f -links +1 -printf '%P\n' | head -3)
[[ -z $hard ]] || bad "hard-linked file: $hard"
big=$(find "$BUNDLE" -type f \( \( \( -name import.json -o -name journal.jsonl -o -name SHA256SUMS \) -size +16M \) \
    -o \( ! -name import.json ! -name journal.jsonl ! -name SHA256SUMS -size +1024k \) \) -printf '%P\n' | head -3)
[[ -z $big ]] || bad "file over its size limit (16 MiB for import.json/journal.jsonl, 1 MiB otherwise): $big"
total=$(du -sb "$BUNDLE" | cut -f1)
((total <= 64 * 1024 * 1024)) || bad "the bundle is $total bytes, over the 64 MiB limit"
digest=$(sha256_of "$BUNDLE/SHA256SUMS")
if [[ $digest != "$expect" ]]; then
    die "$EX_DIGEST" "bundle $BUNDLE: the SHA-256 of SHA256SUMS is $digest, but the attestation digest typed in is $expect; do not import: compare with the paper attestation again, character by character, and with the custodians"
fi
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$CKEY" \
    -signature "$BUNDLE/SHA256SUMS.sig" "$BUNDLE/SHA256SUMS" >/dev/null 2>&1 ||
    bad "SHA256SUMS.sig does not verify under the ceremony key $CKEY (RSASSA-PSS SHA-256 salt 32)"
grep -qvE '^[0-9a-f]{64}  [^/ ].*$' "$BUNDLE/SHA256SUMS" && bad "SHA256SUMS has a line not in '<64 lowercase hex><two spaces><path>' form: $(grep -nvE '^[0-9a-f]{64}  [^/ ].*$' "$BUNDLE/SHA256SUMS" | head -1)"
listed=$(cut -c67- "$BUNDLE/SHA256SUMS")
grep -qE '(^|/)\.\.(/|$)' <<<"$listed" && bad "SHA256SUMS names a path with '..'"
[[ $listed == "$(LC_ALL=C sort -u <<<"$listed")" ]] || bad "SHA256SUMS is not sorted in byte order or lists a path twice"
present=$(cd "$BUNDLE" && find . -type f ! -path ./SHA256SUMS ! -path ./SHA256SUMS.sig ! -path ./attestation.pdf -printf '%P\n' | LC_ALL=C sort)
if [[ $listed != "$present" ]]; then
    bad "files differ from SHA256SUMS: $(diff <(echo "$listed") <(echo "$present") | grep '^[<>]' | sed 's/^</listed but missing:/; s/^>/present but not listed:/' | head -3 | tr '\n' ';')"
fi
(cd "$BUNDLE" && sha256sum -c --strict --quiet SHA256SUMS >/dev/null 2>&1) ||
    bad "a file's SHA-256 differs from SHA256SUMS: $(cd "$BUNDLE" && sha256sum -c --quiet SHA256SUMS 2>/dev/null | head -1)"
AIRLOCK_BIN=${AIRLOCK_BIN:-$(command -v airlock || true)}
if [[ -n $AIRLOCK_BIN && -x $AIRLOCK_BIN ]]; then
    "$AIRLOCK_BIN" bundle verify "$BUNDLE" --ceremony-key "$CKEY" >/dev/null ||
        bad "'airlock bundle verify' refused it (its message is above)"
fi

IJ=$BUNDLE/import.json
jq -e '.format == "airlock-import/1" and (.keys | type == "array" and length > 0)' "$IJ" >/dev/null 2>&1 ||
    die "$EX_CONTENT" "$IJ: not an airlock-import/1 document with keys; the workstation writes these, do not edit them"
REQUEST_ID=$(jq -r .request_id "$IJ")
CEREMONY_ID=$(jq -r .ceremony_id "$IJ")
[[ $CEREMONY_ID =~ ^[A-Za-z0-9._:-]{1,128}$ ]] || die "$EX_CONTENT" "$IJ: ceremony_id '$CEREMONY_ID' is not a plain identifier"
nkeys=$(jq '.keys | length' "$IJ")
for ((i = 0; i < nkeys; i++)); do
    name=$(jq -r ".keys[$i].name" "$IJ")
    [[ $name =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "$EX_CONTENT" "$IJ: keys[$i].name '$name' is not a valid key name"
    for f in EncryptedKeyMaterial.bin ImportToken.bin; do
        [[ -s $BUNDLE/keys/$name/$f ]] || bad "keys/$name/$f is missing or empty"
    done
done
# Environments: from the request bundle when given (checked against import.json).
declare -A ENV_OF=()
if [[ -n $REQUEST ]]; then
    [[ -f $REQUEST/request.json && -f $REQUEST/SHA256SUMS ]] || die "$EX_IO" "--request $REQUEST has no request.json/SHA256SUMS"
    rdigest=$(sha256_of "$REQUEST/SHA256SUMS")
    [[ $rdigest == "$(jq -r .request_sha256sums_sha256 "$IJ")" ]] ||
        die "$EX_CONTENT" "import.json answers request digest $(jq -r .request_sha256sums_sha256 "$IJ") but $REQUEST/SHA256SUMS has digest $rdigest; pass the request bundle this ceremony used"
    (cd "$REQUEST" && sha256sum -c --strict --quiet SHA256SUMS >/dev/null 2>&1) || die "$EX_CONTENT" "the request bundle $REQUEST no longer matches its SHA256SUMS"
    for ((i = 0; i < nkeys; i++)); do
        name=$(jq -r ".keys[$i].name" "$IJ") arn=$(jq -r ".keys[$i].key_arn" "$IJ")
        rk=$(jq -c --arg n "$name" '.keys[] | select(.name == $n)' "$REQUEST/request.json")
        [[ -n $rk && $(jq -r .key_arn <<<"$rk") == "$arn" ]] ||
            die "$EX_CONTENT" "key $name ($arn) in import.json is not in the request $REQUEST with that ARN"
        cmp -s "$REQUEST/keys/$name/ImportToken.bin" "$BUNDLE/keys/$name/ImportToken.bin" ||
            die "$EX_CONTENT" "key $name: ImportToken.bin differs from the request's"
        ENV_OF[$name]=$(jq -r .environment <<<"$rk")
    done
fi
info "bundle verified: request $REQUEST_ID, ceremony $CEREMONY_ID, $nkeys keys, digest $digest"

# --- helpers ---------------------------------------------------------------
key_field() { jq -r --arg n "$1" --arg f "$2" '.keys[] | select(.name == $n) | .[$f] // empty' "$IJ"; }
tags_of() { aws_call "key $1" kms list-resource-tags --key-id "$2" | jq -c '[.Tags[]? | {(.TagKey): .TagValue}] | add // {}'; }
tag_key() {
    local name=$1 arn=$2
    shift 2
    local t=() kv
    for kv in "$@"; do t+=("TagKey=${kv%%=*},TagValue=${kv#*=}"); done
    aws_call "key $name" kms tag-resource --key-id "$arn" --tags "${t[@]}" >/dev/null
}
mkdir -p -- "$RECEIPTS" 2>/dev/null || die "$EX_IO" "cannot create the receipt folder $RECEIPTS"
RECEIPT="$RECEIPTS/$REQUEST_ID.$CEREMONY_ID.receipt.json"
if [[ $DRY_RUN == 0 ]]; then
    if [[ ! -f $RECEIPT ]]; then
        jq -n --slurpfile ij "$IJ" --arg digest "$digest" --arg at "$(now_utc)" --arg region "$REGION" \
            '{format: "airlock-receipt/1", request_id: $ij[0].request_id, ceremony_id: $ij[0].ceremony_id,
              bundle_sums_sha256: $digest, region: $region, started_at: $at, completed_at: null,
              keys: [$ij[0].keys[] | {name, key_arn, alias, key_spec, status: "pending"}]}' | write_file_atomic "$RECEIPT"
    fi
fi
# receipt_set NAME JQ-ASSIGNMENTS ARGS...: updates one key's receipt entry atomically.
receipt_set() {
    local name=$1 expr=$2
    shift 2
    [[ $DRY_RUN == 1 ]] && return 0
    jq --arg n "$name" "$@" "(.keys[] | select(.name == \$n)) |= ($expr)" "$RECEIPT" | write_file_atomic "$RECEIPT"
}
receipt_get() { jq -r --arg n "$1" --arg f "$2" '.keys[] | select(.name == $n) | .[$f] // empty' "$RECEIPT"; }

# Blob arguments go through files (fileb://): the aws CLI v1 sends a blob given
# inline as its literal text, not base64-decoded.
TMPD=$(mktemp -d)
trap 'rm -rf -- "$TMPD"' EXIT
b64file() { base64 -d >"$TMPD/$1" <<<"$2"; printf 'fileb://%s' "$TMPD/$1"; }

# test_key NAME ARN SPEC USAGE: exercises the key's current material; exits 30 on failure.
test_key() {
    local name=$1 arn=$2 spec=$3 usage=$4 out
    head -c 32 /dev/urandom >"$TMPD/probe"
    local p="fileb://$TMPD/probe" want
    want=$(base64 -w0 "$TMPD/probe")
    if [[ $DRY_RUN == 1 ]]; then
        case "$spec" in
            SYMMETRIC_DEFAULT) aws_call "key $name" kms encrypt --key-id "$arn" --plaintext "$p"
                aws_call "key $name" kms decrypt --key-id "$arn" --ciphertext-blob "fileb://<ciphertext>" ;;
            HMAC_*) aws_call "key $name" kms generate-mac --key-id "$arn" --message "$p" --mac-algorithm "HMAC_SHA_${spec#HMAC_}" ;;
            *) aws_call "key $name" kms sign --key-id "$arn" --message "$p" --signing-algorithm "<algorithm>" ;;
        esac
        return 0
    fi
    case "$spec:$usage" in
        SYMMETRIC_DEFAULT:*)
            out=$(aws_call "key $name" kms encrypt --key-id "$arn" --plaintext "$p" | jq -r .CiphertextBlob)
            [[ $(aws_call "key $name" kms decrypt --key-id "$arn" --ciphertext-blob "$(b64file ct "$out")" | jq -r .Plaintext) == "$want" ]] ||
                die "$EX_KEY_TEST" "key $name ($arn): decrypt did not give back the test plaintext after import; stop and investigate before going on"
            ;;
        HMAC_*)
            local alg="HMAC_SHA_${spec#HMAC_}"
            out=$(aws_call "key $name" kms generate-mac --key-id "$arn" --message "$p" --mac-algorithm "$alg" | jq -r .Mac)
            [[ $(aws_call "key $name" kms verify-mac --key-id "$arn" --message "$p" --mac-algorithm "$alg" --mac "$(b64file mac "$out")" | jq -r .MacValid) == true ]] ||
                die "$EX_KEY_TEST" "key $name ($arn): verify-mac failed after import; stop and investigate"
            ;;
        *:ENCRYPT_DECRYPT)
            out=$(aws_call "key $name" kms encrypt --key-id "$arn" --plaintext "$p" --encryption-algorithm RSAES_OAEP_SHA_256 | jq -r .CiphertextBlob)
            [[ $(aws_call "key $name" kms decrypt --key-id "$arn" --ciphertext-blob "$(b64file ct "$out")" --encryption-algorithm RSAES_OAEP_SHA_256 | jq -r .Plaintext) == "$want" ]] ||
                die "$EX_KEY_TEST" "key $name ($arn): decrypt did not give back the test plaintext after import"
            ;;
        *)
            local alg=ECDSA_SHA_256
            [[ $spec == RSA_* ]] && alg=RSASSA_PSS_SHA_256
            [[ $spec == ECC_NIST_P384 ]] && alg=ECDSA_SHA_384
            [[ $spec == ECC_NIST_P521 ]] && alg=ECDSA_SHA_512
            out=$(aws_call "key $name" kms sign --key-id "$arn" --message "$p" --signing-algorithm "$alg" | jq -r .Signature)
            [[ $(aws_call "key $name" kms verify --key-id "$arn" --message "$p" --signing-algorithm "$alg" --signature "$(b64file sig "$out")" | jq -r .SignatureValid) == true ]] ||
                die "$EX_KEY_TEST" "key $name ($arn): sign/verify failed after import"
            ;;
    esac
}

import_material() {
    local name=$1 arn=$2
    local args=(kms import-key-material --key-id "$arn"
        --import-token "fileb://$BUNDLE/keys/$name/ImportToken.bin"
        --encrypted-key-material "fileb://$BUNDLE/keys/$name/EncryptedKeyMaterial.bin"
        --import-type "$(key_field "$name" import_type)")
    if [[ -n $VALID_TO ]]; then
        args+=(--expiration-model KEY_MATERIAL_EXPIRES --valid-to "$VALID_TO")
    else
        args+=(--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE)
    fi
    aws_call "key $name ($arn)" "${args[@]}" >/dev/null
}

# --- order of work ------------------------------------------------------------
names=$(jq -r '.keys[].name' "$IJ")
if [[ $DRY_RUN == 0 ]]; then
    for name in $names; do
        if [[ -z ${ENV_OF[$name]:-} ]]; then
            ENV_OF[$name]=$(tags_of "$name" "$(key_field "$name" key_arn)" | jq -r '.Environment // "unknown"')
        fi
    done
else
    for name in $names; do ENV_OF[$name]=${ENV_OF[$name]:-unknown}; done
fi
if [[ -n $ENVS ]]; then
    IFS=, read -r -a order <<<"$ENVS"
else
    order=(dev int prod)
    mapfile -t extra < <(for n in $names; do echo "${ENV_OF[$n]}"; done | LC_ALL=C sort -u | grep -vxE 'dev|int|prod' || true)
    order+=("${extra[@]}")
fi

if [[ $DRY_RUN == 1 ]]; then
    info "dry run: the bundle verifies; the aws calls it would make follow (strategy $STRATEGY); nothing is changed"
    for env in "${order[@]}"; do
        for name in $names; do
            [[ ${ENV_OF[$name]} == "$env" || ${ENV_OF[$name]} == unknown ]] || continue
            arn=$(key_field "$name" key_arn)
            echo "# key $name (environment ${ENV_OF[$name]})"
            aws_call "key $name" kms describe-key --key-id "$arn"
            aws_call "key $name" kms list-resource-tags --key-id "$arn"
            [[ $STRATEGY != alias-swap ]] && echo "# on-demand (key Enabled): probe, import, rotate, old probe decrypts" &&
                aws_call "key $name" kms encrypt --key-id "$arn" --plaintext "fileb://<probe>"
            import_material "$name" "$arn"
            test_key "$name" "$arn" "$(key_field "$name" key_spec)" ENCRYPT_DECRYPT
            if [[ $STRATEGY != alias-swap ]]; then
                aws_call "key $name" kms rotate-key-on-demand --key-id "$arn"
                aws_call "key $name" kms decrypt --key-id "$arn" --ciphertext-blob "fileb://<probe made before import>"
            fi
            if [[ $STRATEGY != on-demand ]]; then
                echo "# alias-swap (key was PendingImport), after confirming environment ${ENV_OF[$name]}"
                aws_call "key $name" kms update-alias --alias-name "$(key_field "$name" alias)" --target-key-id "$arn"
            fi
            tag_key "$name" "$arn" KeyRotationStatus=Rotated "LastKeyRotationDate=<now>" "AirlockCeremony=$CEREMONY_ID"
        done
    done
    exit 0
fi

# --- 2. preflight: every key's state, before any import ---------------------
declare -A MODE=() USAGE=() STATUS=() MATERIAL=()
selected=()
for env in "${order[@]}"; do
    for name in $names; do
        [[ ${ENV_OF[$name]} == "$env" ]] && selected+=("$name")
    done
done
for name in $names; do
    if [[ -n $ENVS ]]; then continue; fi
    printf '%s\n' "${selected[@]}" | grep -qxF "$name" || die "$EX_CONTENT" "key $name has no environment among ${order[*]}; pass --environments or --request"
done
((${#selected[@]})) || die "$EX_CONTENT" "no key of the bundle is in the environments ${order[*]}"
for name in "${selected[@]}"; do
    arn=$(key_field "$name" key_arn) spec=$(key_field "$name" key_spec)
    [[ $arn == arn:*:kms:"$REGION":*:key/* ]] ||
        die "$EX_CONTENT" "key $name: $arn is not in region $REGION; run with --region of the request"
    meta=$(aws_call "key $name" kms describe-key --key-id "$arn" | jq -c .KeyMetadata)
    state=$(jq -r .KeyState <<<"$meta")
    [[ $(jq -r .Origin <<<"$meta") == EXTERNAL ]] || die "$EX_KEY_STATE" "key $name: $arn has origin $(jq -r .Origin <<<"$meta"), not EXTERNAL"
    [[ $(jq -r .KeySpec <<<"$meta") == "$spec" ]] || die "$EX_KEY_STATE" "key $name: $arn is $(jq -r .KeySpec <<<"$meta") but import.json says $spec"
    USAGE[$name]=$(jq -r .KeyUsage <<<"$meta")
    tags='{}'
    [[ $state == PendingImport ]] || tags=$(tags_of "$name" "$arn")
    done_for=$(jq -r --arg c "$CEREMONY_ID" 'if .AirlockCeremony == $c then .KeyRotationStatus else "" end' <<<"$tags")
    case "$state" in
        PendingImport) mode="alias-swap" ;;
        Enabled)
            if [[ $done_for == Imported || $done_for == Rotated ]]; then
                mode=$(receipt_get "$name" strategy)
                [[ -n $mode ]] || mode=$([[ $(jq -r '.AirlockStrategy // empty' <<<"$tags") == alias-swap ]] && echo alias-swap || echo on-demand)
            else
                mode=on-demand
            fi
            ;;
        *) die "$EX_KEY_STATE" "key $name: $arn is $state; it must be PendingImport (new key) or Enabled (on-demand rotation); enable it or cancel its deletion first" ;;
    esac
    if [[ $STRATEGY != auto && $STRATEGY != "$mode" ]]; then
        die "$EX_KEY_STATE" "key $name: $arn is $state, which means $mode, but --strategy $STRATEGY was given; check that the bundle answers the request you meant"
    fi
    if [[ $mode == on-demand && $spec != SYMMETRIC_DEFAULT ]]; then
        die "$EX_KEY_STATE" "key $name: on-demand rotation of imported material is only for SYMMETRIC_DEFAULT keys; $spec needs a new key and an alias swap"
    fi
    MODE[$name]=$mode
    STATUS[$name]=$done_for
    MATERIAL[$name]=$(jq -r '.CurrentKeyMaterialId // empty' <<<"$meta")
    receipt_set "$name" '.strategy = $m | .environment = $e' --arg m "$mode" --arg e "${ENV_OF[$name]}"
done
info "preflight passed for ${#selected[@]} keys"

# --- 3. environment by environment ---------------------------------------------
for env in "${order[@]}"; do
    env_keys=()
    for name in "${selected[@]}"; do [[ ${ENV_OF[$name]} == "$env" ]] && env_keys+=("$name"); done
    ((${#env_keys[@]})) || continue
    info "environment $env: ${env_keys[*]}"
    for name in "${env_keys[@]}"; do
        arn=$(key_field "$name" key_arn) spec=$(key_field "$name" key_spec) mode=${MODE[$name]}
        status=${STATUS[$name]}
        if [[ $status == Rotated ]]; then
            info "key $name: already rotated by ceremony $CEREMONY_ID, skipped"
            receipt_set "$name" '.status = "done"'
            continue
        fi
        if [[ $status != Imported ]]; then
            if [[ $mode == on-demand ]]; then
                printf 'airlock pre-rotation probe %s' "$name" >"$TMPD/pre"
                old=$(aws_call "key $name" kms encrypt --key-id "$arn" --plaintext "fileb://$TMPD/pre" | jq -r .CiphertextBlob)
                receipt_set "$name" '.pre_rotation_ciphertext = $c | .previous_key_material_id = $m' --arg c "$old" --arg m "${MATERIAL[$name]}"
            fi
            import_material "$name" "$arn"
            tag_key "$name" "$arn" KeyRotationStatus=Imported "AirlockCeremony=$CEREMONY_ID" "AirlockStrategy=$mode"
            STATUS[$name]=Imported
            receipt_set "$name" '.status = "imported" | .imported_at = $t' --arg t "$(now_utc)"
            info "key $name: material imported ($mode)"
        else
            info "key $name: material already imported by ceremony $CEREMONY_ID, import skipped"
        fi
        if [[ $mode == on-demand ]]; then
            aws_call "key $name" kms rotate-key-on-demand --key-id "$arn" >/dev/null
            test_key "$name" "$arn" "$spec" "${USAGE[$name]}"
            old=$(receipt_get "$name" pre_rotation_ciphertext)
            if [[ -n $old ]]; then
                got=$(aws_call "key $name" kms decrypt --key-id "$arn" --ciphertext-blob "$(b64file old "$old")" | jq -r .Plaintext | base64 -d)
                [[ $got == "airlock pre-rotation probe $name" ]] ||
                    die "$EX_ROTATION" "key $name ($arn): a ciphertext made before the rotation no longer decrypts; stop: data encrypted earlier is at risk. Do not delete anything; open an AWS support case"
            else
                warn "key $name: no pre-rotation ciphertext in $RECEIPT (receipt lost?); the old-ciphertext check is skipped"
            fi
            now=$(now_utc)
            tag_key "$name" "$arn" KeyRotationStatus=Rotated "LastKeyRotationDate=$now" "AirlockCeremony=$CEREMONY_ID"
            STATUS[$name]=Rotated
            receipt_set "$name" '.status = "done" | .rotated_at = $t | .tested = true | .old_ciphertext_decrypts = true' --arg t "$now"
            info "key $name: rotated on demand, tested, old ciphertext still decrypts"
        else
            test_key "$name" "$arn" "$spec" "${USAGE[$name]}"
            receipt_set "$name" '.tested = true'
            info "key $name: tested"
        fi
    done
    # Alias swaps for this environment, after one confirmation.
    swaps=()
    for name in "${env_keys[@]}"; do
        [[ ${MODE[$name]} == alias-swap ]] || continue
        [[ ${STATUS[$name]} == Rotated ]] || swaps+=("$name")
    done
    ((${#swaps[@]})) || continue
    if ((!YES)); then
        echo "About to point these aliases in environment $env at their new keys:" >&2
        for name in "${swaps[@]}"; do echo "  $(key_field "$name" alias) -> $(key_field "$name" key_arn)" >&2; done
        printf 'Type "yes" to swap the %s aliases of %s: ' "${#swaps[@]}" "$env" >&2
        answer=""
        read -r answer || true
        [[ $answer == yes ]] || die "$EX_DECLINED" "alias swap for environment $env declined; nothing in $env was swapped (imports stay; rerun to continue)"
    fi
    for name in "${swaps[@]}"; do
        arn=$(key_field "$name" key_arn) alias=$(key_field "$name" alias)
        cur=$(aws_try kms describe-key --key-id "$alias" | jq -r '.KeyMetadata.Arn // empty' || true)
        now=$(now_utc)
        if [[ -z $cur ]]; then
            aws_call "alias $alias" kms create-alias --alias-name "$alias" --target-key-id "${arn##*/}" >/dev/null
        elif [[ $cur != "$arn" ]]; then
            aws_call "alias $alias" kms update-alias --alias-name "$alias" --target-key-id "${arn##*/}" >/dev/null
            tag_key "$name (old key)" "$cur" KeyRotationStatus=Replaced "ReplacedBy=$arn" "ReplacedAt=$now" "Environment=$env"
        fi
        tag_key "$name" "$arn" KeyRotationStatus=Rotated "LastKeyRotationDate=$now" "AirlockCeremony=$CEREMONY_ID"
        receipt_set "$name" '.status = "done" | .alias_swapped_at = $t | .replaced_key_arn = (if $o == "" then null else $o end)' \
            --arg t "$now" --arg o "${cur:-}"
        info "alias $alias now points at $arn${cur:+ (was $cur)}"
    done
done
jq --arg t "$(now_utc)" '.completed_at = (if all(.keys[]; .status == "done") then $t else null end)' "$RECEIPT" | write_file_atomic "$RECEIPT"
info "done; receipt: $RECEIPT"
echo "$RECEIPT"
