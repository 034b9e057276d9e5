#!/usr/bin/env bash
# Online side, step 1: turns a rotation plan into a signed Airlock request
# bundle (docs/formats.md): resolves or creates the EXTERNAL-origin KMS keys,
# fetches their import parameters, writes request.json, the wrapping keys and
# import tokens, SHA256SUMS and SHA256SUMS.sig, atomically.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SCRIPT_NAME=prepare-request.sh
# shellcheck source=ceremony-scripts/online-lib.sh
source "$here/online-lib.sh"

usage() {
    cat <<'EOF'
Usage: prepare-request.sh --plan PLAN.json --out DIR --signer pem:FILE|kms:KEY_ID [options]

Builds the request bundle the offline workstation verifies (airlock request
verify): request.json, keys/<name>/WrappingPublicKey.bin and ImportToken.bin
(the base64-decoded PublicKey and ImportToken of get-parameters-for-import),
SHA256SUMS and SHA256SUMS.sig (RSASSA-PSS SHA-256, salt 32). DIR must not
exist; the bundle is written to a temporary sibling folder and renamed into
place only when complete and its signature verifies.

Per plan key:
  strategy new-key    a new key with Origin EXTERNAL (create-key, with
                      --create-keys; tags KeyRotationStatus=Pending), or the
                      PendingImport key named by the plan's key_id
  strategy on-demand  the key the alias points to (must be EXTERNAL,
                      SYMMETRIC_DEFAULT, Enabled); new material is imported
                      later as NEW_KEY_MATERIAL and rotated on demand
Then get-parameters-for-import with the preferred algorithm for the key spec
(RSAES_OAEP_SHA_256 for symmetric/HMAC, RSA_AES_KEY_WRAP_SHA_256 for RSA/ECC)
and RSA_4096.

Options:
  --plan FILE          the rotation plan (format airlock-plan/1, see docs/online-runbook.md)
  --out DIR            where the bundle goes (must not exist)
  --signer pem:FILE    sign with an RSA 3072/4096 private key PEM (openssl)
  --signer kms:KEY_ID  sign with an AWS KMS RSA_3072/RSA_4096 SIGN_VERIFY key
                       (kms sign --message-type DIGEST --signing-algorithm RSASSA_PSS_SHA_256)
  --create-keys        allow create-key for new-key entries without key_id
  --region REGION      AWS region (default: plan aws_region, else AWS_DEFAULT_REGION/AWS_REGION)
  --endpoint-url URL   send every aws call there (default: real AWS; the aws CLI
                       also honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_KMS)
  --dry-run            print the aws calls it would make, write nothing
  -h, --help           this text

Prints the signer fingerprint (SHA-256 of its public key DER) and the
request digest (SHA-256 of SHA256SUMS): read both aloud to the custodians.

EOF
    exit_codes_help
}

PLAN="" OUT="" SIGNER="" CREATE=0 REGION=""
while (($#)); do
    case "$1" in
        --plan) PLAN=${2:?--plan needs a file}; shift 2 ;;
        --out) OUT=${2:?--out needs a folder}; shift 2 ;;
        --signer) SIGNER=${2:?--signer needs pem:FILE or kms:KEY_ID}; shift 2 ;;
        --create-keys) CREATE=1; shift ;;
        --region) REGION=${2:?--region needs a region}; shift 2 ;;
        --endpoint-url) ENDPOINT_URL=${2:?--endpoint-url needs a URL}; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "$EX_USAGE" "unknown option '$1' (see --help)" ;;
    esac
done
[[ -n $PLAN ]] || die "$EX_USAGE" "--plan is required (see --help)"
[[ -n $OUT ]] || die "$EX_USAGE" "--out is required (see --help)"
[[ -n $SIGNER ]] || die "$EX_USAGE" "--signer pem:FILE or kms:KEY_ID is required (see --help)"
case "$SIGNER" in
    pem:?*) SIGNER_PEM=${SIGNER#pem:}; SIGNER_KMS="" ;;
    kms:?*) SIGNER_KMS=${SIGNER#kms:}; SIGNER_PEM="" ;;
    *) die "$EX_USAGE" "--signer '$SIGNER' must be pem:FILE or kms:KEY_ID" ;;
esac

need aws jq openssl sha256sum base64
[[ -f $PLAN && -r $PLAN ]] || die "$EX_IO" "plan file $PLAN not found or not readable"
jq -e . "$PLAN" >/dev/null 2>&1 || die "$EX_PLAN" "$PLAN is not valid JSON ($(jq . "$PLAN" 2>&1 >/dev/null | head -1)); fix the file"
problems=$(jq -r -f "$here/plan-check.jq" "$PLAN")
if [[ -n $problems ]]; then
    printf '%s: error: in %s: %s\n' "$SCRIPT_NAME" "$PLAN" "$problems" | sed '2,$s/^/  /' >&2
    die "$EX_PLAN" "$PLAN is not a valid plan (see the lines above); fix it and run again"
fi
if [[ -n $SIGNER_PEM ]]; then
    [[ -r $SIGNER_PEM ]] || die "$EX_IO" "signer key $SIGNER_PEM not found or not readable"
    bits=$(openssl pkey -in "$SIGNER_PEM" -noout -text 2>/dev/null | sed -n 's/^Private-Key: (\([0-9]*\) bit.*/\1/p' | head -1)
    [[ $bits == 3072 || $bits == 4096 ]] ||
        die "$EX_USAGE" "signer key $SIGNER_PEM is not an RSA 3072/4096 private key PEM (found: ${bits:-unreadable}); use the enrolled request signer's key"
fi
[[ -e $OUT ]] && die "$EX_IO" "output $OUT already exists; choose a new folder (bundles are never overwritten)"

REQUEST_ID=$(jq -r .request_id "$PLAN")
[[ -n $REGION ]] || REGION=$(jq -r '.aws_region // empty' "$PLAN")
[[ -n $REGION ]] || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
[[ -n $REGION ]] || die "$EX_USAGE" "no AWS region: pass --region, set aws_region in the plan, or set AWS_DEFAULT_REGION"
export AWS_DEFAULT_REGION=$REGION
nkeys=$(jq '.keys | length' "$PLAN")

if [[ $DRY_RUN == 1 ]]; then
    info "dry run: the aws calls for request $REQUEST_ID ($nkeys keys) in $REGION; nothing is called or written"
    aws_call "the account" sts get-caller-identity
    for ((i = 0; i < nkeys; i++)); do
        k=$(jq -c ".keys[$i]" "$PLAN")
        name=$(jq -r .name <<<"$k") spec=$(jq -r .key_spec <<<"$k") strategy=$(jq -r .strategy <<<"$k")
        alg=$(preferred_wrapping_algorithm "$spec")
        keyref="<key id of $name>"
        if [[ $strategy == on-demand ]]; then
            aws_call "$name" kms describe-key --key-id "$(jq -r .alias <<<"$k")"
        elif [[ $(jq -r '.key_id // empty' <<<"$k") != "" ]]; then
            keyref=$(jq -r .key_id <<<"$k")
            aws_call "$name" kms describe-key --key-id "$keyref"
        else
            aws_call "$name" kms create-key --origin EXTERNAL --key-spec "$spec" \
                --key-usage "$(jq -r --arg d "$(default_key_usage "$spec")" '.key_usage // $d' <<<"$k")" \
                --description "<description>" --tags "<tags>"
        fi
        aws_call "$name" kms get-parameters-for-import --key-id "$keyref" \
            --wrapping-algorithm "$alg" --wrapping-key-spec RSA_4096
    done
    if [[ -n $SIGNER_KMS ]]; then
        aws_call "the signer" kms get-public-key --key-id "$SIGNER_KMS"
        aws_call "the signer" kms sign --key-id "$SIGNER_KMS" --message "fileb://<SHA-256 of SHA256SUMS>" \
            --message-type DIGEST --signing-algorithm RSASSA_PSS_SHA_256
    fi
    exit 0
fi

ident=$(aws_call "the account" sts get-caller-identity)
ACCOUNT=$(jq -r .Account <<<"$ident")
plan_account=$(jq -r '.aws_account // empty' "$PLAN")
if [[ -n $plan_account && $plan_account != "$ACCOUNT" ]]; then
    die "$EX_KEY_STATE" "the plan is for account $plan_account but the credentials are for account $ACCOUNT; switch to the right account's role"
fi

staging=$(make_staging "$OUT")
created=()
cleanup() {
    local rc=$?
    rm -rf -- "$staging"
    if ((rc != 0 && ${#created[@]})); then
        warn "keys created before the failure (PendingImport, no material): ${created[*]}; put them in the plan as key_id of their new-key entries, or schedule their deletion"
    fi
}
trap cleanup EXIT

: >"$staging/.keys.jsonl"
for ((i = 0; i < nkeys; i++)); do
    k=$(jq -c ".keys[$i]" "$PLAN")
    name=$(jq -r .name <<<"$k") alias=$(jq -r .alias <<<"$k") spec=$(jq -r .key_spec <<<"$k")
    env=$(jq -r .environment <<<"$k") svc=$(jq -r .service <<<"$k") strategy=$(jq -r .strategy <<<"$k")
    usage_=$(jq -r --arg d "$(default_key_usage "$spec")" '.key_usage // $d' <<<"$k")
    alg=$(preferred_wrapping_algorithm "$spec")
    if [[ $strategy == on-demand ]]; then
        meta=$(aws_try kms describe-key --key-id "$alias") ||
            die "$EX_KEY_STATE" "key $name: alias $alias does not exist in $ACCOUNT/$REGION; strategy on-demand needs the alias to point at an EXTERNAL key (use new-key to create one)"
        meta=$(jq -c .KeyMetadata <<<"$meta")
        [[ $(jq -r .Origin <<<"$meta") == EXTERNAL ]] ||
            die "$EX_KEY_STATE" "key $name: $alias points at $(jq -r .Arn <<<"$meta") whose origin is $(jq -r .Origin <<<"$meta"), not EXTERNAL; imported material can only go into EXTERNAL keys: use strategy new-key"
        [[ $(jq -r .KeyState <<<"$meta") == Enabled ]] ||
            die "$EX_KEY_STATE" "key $name: $(jq -r .Arn <<<"$meta") is $(jq -r .KeyState <<<"$meta"), on-demand rotation needs it Enabled with material; re-import its material first or use new-key"
    else
        key_id=$(jq -r '.key_id // empty' <<<"$k")
        if [[ -n $key_id ]]; then
            meta=$(aws_call "$name" kms describe-key --key-id "$key_id" | jq -c .KeyMetadata)
            [[ $(jq -r .Origin <<<"$meta") == EXTERNAL && $(jq -r .KeyState <<<"$meta") == PendingImport ]] ||
                die "$EX_KEY_STATE" "key $name: key_id $key_id is $(jq -r .Origin <<<"$meta")/$(jq -r .KeyState <<<"$meta"); new-key needs an EXTERNAL key in PendingImport; remove key_id to create one with --create-keys"
        else
            ((CREATE)) || die "$EX_PLAN" "key $name: strategy new-key needs --create-keys (or a key_id of a PendingImport EXTERNAL key in the plan)"
            desc=$(jq -r --arg d "Airlock BYOK $name ($env $svc), request $REQUEST_ID" '.description // $d' <<<"$k")
            meta=$(aws_call "$name" kms create-key --origin EXTERNAL --key-spec "$spec" --key-usage "$usage_" \
                --description "$desc" --tags \
                "TagKey=KeyRotationStatus,TagValue=Pending" "TagKey=Environment,TagValue=$env" \
                "TagKey=Service,TagValue=$svc" "TagKey=AirlockKeyName,TagValue=$name" \
                "TagKey=AirlockAlias,TagValue=$alias" "TagKey=AirlockRequestId,TagValue=$REQUEST_ID" |
                jq -c .KeyMetadata)
            created+=("$(jq -r .Arn <<<"$meta")")
        fi
    fi
    arn=$(jq -r .Arn <<<"$meta")
    [[ $(jq -r .KeySpec <<<"$meta") == "$spec" ]] ||
        die "$EX_KEY_STATE" "key $name: $arn has key spec $(jq -r .KeySpec <<<"$meta"), the plan says $spec; fix the plan"
    [[ $arn == arn:*:kms:"$REGION":"$ACCOUNT":key/* ]] ||
        die "$EX_KEY_STATE" "key $name: $arn is not in account $ACCOUNT region $REGION"
    params=$(aws_call "$name" kms get-parameters-for-import --key-id "$arn" \
        --wrapping-algorithm "$alg" --wrapping-key-spec RSA_4096)
    mkdir -p "$staging/keys/$name"
    jq -r .PublicKey <<<"$params" | base64 -d >"$staging/keys/$name/WrappingPublicKey.bin" ||
        die "$EX_AWS" "key $name: PublicKey of get-parameters-for-import is not base64"
    jq -r .ImportToken <<<"$params" | base64 -d >"$staging/keys/$name/ImportToken.bin" ||
        die "$EX_AWS" "key $name: ImportToken of get-parameters-for-import is not base64"
    valid_raw=$(jq -r .ParametersValidTo <<<"$params")
    if [[ $valid_raw =~ ^[0-9]+(\.[0-9]+)?$ ]]; then valid_raw="@${valid_raw%.*}"; fi
    valid_to=$(date -u -d "$valid_raw" +%Y-%m-%dT%H:%M:%SZ) ||
        die "$EX_AWS" "key $name: ParametersValidTo '$valid_raw' is not a timestamp"
    jq -cn --arg name "$name" --arg alias "$alias" --arg env "$env" --arg svc "$svc" --arg arn "$arn" \
        --arg spec "$spec" --arg alg "$alg" --arg valid "$valid_to" \
        '{name: $name, alias: $alias, environment: $env, service: $svc, key_arn: $arn, key_spec: $spec,
          import_type: "NEW_KEY_MATERIAL", material: {source: "generate"}, wrapping_algorithm: $alg,
          wrapping_key_spec: "RSA_4096", parameters_valid_to: $valid}' >>"$staging/.keys.jsonl"
    info "key $name: $arn ($strategy, $alg, parameters valid to $valid_to)"
done

jq -n --arg id "$REQUEST_ID" --arg created "$(now_utc)" --arg account "$ACCOUNT" --arg region "$REGION" \
    --slurpfile keys "$staging/.keys.jsonl" \
    '{format: "airlock-request/1", request_id: $id, created_at: $created,
      aws_account: $account, aws_region: $region, keys: $keys}' >"$staging/request.json"
rm -f "$staging/.keys.jsonl"
write_sha256sums "$staging"

# Sign SHA256SUMS, then verify the signature with openssl before publishing.
pub="$staging/.signer.pub.pem"
if [[ -n $SIGNER_PEM ]]; then
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
        -sign "$SIGNER_PEM" -out "$staging/SHA256SUMS.sig" "$staging/SHA256SUMS" ||
        die "$EX_IO" "openssl could not sign with $SIGNER_PEM"
    openssl pkey -in "$SIGNER_PEM" -pubout -out "$pub"
else
    pk=$(aws_call "the signer $SIGNER_KMS" kms get-public-key --key-id "$SIGNER_KMS")
    [[ $(jq -r .KeySpec <<<"$pk") =~ ^RSA_(3072|4096)$ && $(jq -r .KeyUsage <<<"$pk") == SIGN_VERIFY ]] ||
        die "$EX_KEY_STATE" "signer $SIGNER_KMS is $(jq -r .KeySpec <<<"$pk")/$(jq -r .KeyUsage <<<"$pk"); it must be an RSA_3072 or RSA_4096 SIGN_VERIFY key"
    jq -r .PublicKey <<<"$pk" | base64 -d | openssl pkey -pubin -inform DER -out "$pub"
    openssl dgst -sha256 -binary "$staging/SHA256SUMS" >"$staging/.digest"
    jq -r .Signature <<<"$(aws_call "the signer $SIGNER_KMS" kms sign --key-id "$SIGNER_KMS" \
        --message "fileb://$staging/.digest" --message-type DIGEST --signing-algorithm RSASSA_PSS_SHA_256)" |
        base64 -d >"$staging/SHA256SUMS.sig"
    rm -f "$staging/.digest"
fi
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$pub" \
    -signature "$staging/SHA256SUMS.sig" "$staging/SHA256SUMS" >/dev/null ||
    die "$EX_KEY_STATE" "the signature made by $SIGNER does not verify under its own public key; check the signer key"
fingerprint=$(spki_fingerprint_pem "$pub")
rm -f "$pub"
(cd "$staging" && sha256sum -c --quiet --strict SHA256SUMS) || die "$EX_IO" "the staged bundle does not re-verify; check the disk"
digest=$(sha256_of "$staging/SHA256SUMS")
earliest=$(jq -r '[.keys[].parameters_valid_to] | min' "$staging/request.json")
trap - EXIT
publish_dir "$staging" "$OUT"

cat <<EOF
Request bundle written: $OUT
  request id          $REQUEST_ID
  account / region    $ACCOUNT / $REGION
  keys                $nkeys
  valid until         $earliest (import parameters expire then)
  signer fingerprint  $fingerprint
  request digest      $digest   (SHA-256 of SHA256SUMS)
Read the signer fingerprint and the request digest aloud to the custodians;
they compare them with what 'airlock request verify' shows.
EOF
