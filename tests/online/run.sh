#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs are single-quoted on purpose
# The online scripts' tests, against real emulators on 127.0.0.1 only:
# LocalStack KMS (real unwrapping of imported material) and moto (S3,
# DynamoDB, RDS inventories). One whole rotation: on-demand keys behind
# existing aliases and new keys for an alias swap, dev/int/prod x
# s3/rds/dynamodb, a real ceremony with `airlock` on a Kryoptic soft token,
# tampered bundles, import, rerun, and the compliance report.
# Prints "N passed, M failed" last and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cs=$root/ceremony-scripts
work=$root/.work/online-tests
rm -rf "$work"
mkdir -p "$work"/{secrets,token,state}
chmod 700 "$work/secrets"

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/      /' | tail -20; }
# expect NAME CODE CMD...: runs CMD, output in $work/last.out, passes when it exits CODE.
expect() {
    local name=$1 code=$2 rc=0
    shift 2
    "$@" >"$work/last.out" 2>&1 || rc=$?
    if ((rc == code)); then ok "$name"; else fail "$name (exit $rc, wanted $code)" "$(cat "$work/last.out")"; fi
}
# check NAME CMD...: passes when CMD succeeds.
check() {
    local name=$1
    shift
    if "$@" >"$work/check.out" 2>&1; then ok "$name"; else fail "$name" "$(cat "$work/check.out")"; fi
}
finish() {
    bash "$cs/localstack/emulators.sh" stop >/dev/null 2>&1 || true
    echo
    echo "$passed passed, $failed failed"
    ((failed == 0 && passed > 0))
}
trap finish EXIT

# --- tools -----------------------------------------------------------------
for t in jq openssl sha256sum pkcs11-tool shellcheck curl; do
    command -v "$t" >/dev/null || { fail "tool $t is installed (run ceremony-scripts/lib/install-deps.sh --test)"; exit 1; }
done
airlock=${AIRLOCK_BIN:-$root/target/debug/airlock}
export AIRLOCK_BIN=$airlock
module=$root/target/debug/libairlock_kryoptic.so
if [[ ! -x $airlock ]]; then
    cargo build -q -p airlock-app --no-default-features
fi
[[ -f $module ]] || cargo build -q -p airlock-test-token

# --- static checks -----------------------------------------------------------
scripts=("$cs"/prepare-request.sh "$cs"/import-bundle.sh "$cs"/compliance-report.sh "$cs"/make-iam-policies.sh
    "$cs"/online-lib.sh "$cs"/localstack/emulators.sh "$root"/tests/online/run.sh)
check "shellcheck is clean on the online scripts" shellcheck -x "${scripts[@]}"
for s in prepare-request import-bundle compliance-report make-iam-policies; do
    check "$s.sh --help lists the exit codes" bash -c "bash '$cs/$s.sh' --help | grep -q '31  on-demand rotation failed'"
    check "$s.sh uses set -euo pipefail" grep -qx 'set -euo pipefail' "$cs/$s.sh"
    expect "$s.sh refuses an unknown option with exit 2" 2 bash "$cs/$s.sh" --no-such-option
done

# --- emulators (loopback only) --------------------------------------------------
bash "$cs/localstack/emulators.sh" start
eval "$(bash "$cs/localstack/emulators.sh" env)"
export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4566 AWS_ENDPOINT_URL_STS=http://127.0.0.1:4566
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:5000 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5000
export AWS_ENDPOINT_URL_RDS=http://127.0.0.1:5000 AWS_ENDPOINT_URL_CLOUDWATCH=http://127.0.0.1:5000
export AWS_DEFAULT_REGION=eu-west-1
unset AWS_PROFILE AWS_SESSION_TOKEN
check "emulators listen on 127.0.0.1 only" bash -c "! ss -ltn | grep -E ':(4566|5000) ' | grep -vq '127.0.0.1:'"
kms() { aws --output json kms "$@"; }

# --- fixture: existing EXTERNAL keys behind the s3 aliases (on-demand), and
#     old AWS_KMS keys behind the rds/dynamodb aliases (to be swapped) ----------
seed_material() { # KEY_ARN: imports a first random 32-byte material, wrapped with openssl
    local arn=$1 p
    p=$(kms get-parameters-for-import --key-id "$arn" --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096)
    jq -r .PublicKey <<<"$p" | base64 -d >"$work/wk.der"
    jq -r .ImportToken <<<"$p" | base64 -d >"$work/tok.bin"
    head -c 32 /dev/urandom >"$work/mat.bin"
    openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$work/wk.der" -in "$work/mat.bin" -out "$work/wrapped.bin" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
    rm -f "$work/mat.bin"
    kms import-key-material --key-id "$arn" --import-token "fileb://$work/tok.bin" \
        --encrypted-key-material "fileb://$work/wrapped.bin" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE >/dev/null
}
declare -A OLD=()
for env in dev int prod; do
    arn=$(kms create-key --origin EXTERNAL --description "pre-existing $env-s3" --tags TagKey=Environment,TagValue="$env" | jq -r .KeyMetadata.Arn)
    seed_material "$arn"
    kms create-alias --alias-name "alias/$env-s3" --target-key-id "$arn"
    OLD[$env-s3]=$arn
    for svc in rds dynamodb; do
        arn=$(kms create-key --description "old $env-$svc" | jq -r .KeyMetadata.Arn)
        kms create-alias --alias-name "alias/$env-$svc" --target-key-id "$arn"
        OLD[$env-$svc]=$arn
    done
done
# Data encrypted before the rotation, through the aliases (one key per
# environment and strategy; blobs go through files: aws CLI v1 sends inline
# blob arguments as literal text).
samples=(dev-s3 prod-s3 int-rds prod-dynamodb)
for k in "${samples[@]}"; do
    printf 'secret of %s' "$k" >"$work/plain-$k"
    kms encrypt --key-id "alias/$k" --plaintext "fileb://$work/plain-$k" | jq -r .CiphertextBlob | base64 -d >"$work/ct-$k"
done

# --- plan and request -------------------------------------------------------------
jq -n '{format: "airlock-plan/1", request_id: "online-test-rotation", aws_account: "000000000000", aws_region: "eu-west-1",
        keys: [("dev", "int", "prod") as $e | ("s3", "rds", "dynamodb") as $s
               | {name: "\($e)-\($s)", alias: "alias/\($e)-\($s)", environment: $e, service: $s, key_spec: "SYMMETRIC_DEFAULT",
                  strategy: (if $s == "s3" then "on-demand" else "new-key" end)}]}' >"$work/plan.json"
signer=$root/tests/fixtures/test-only-keys/test-only-signer-rsa3072.key.pem
signer_pub=$root/tests/fixtures/test-only-keys/test-only-signer-rsa3072.pub.pem

jq '.keys[1].strategy = "sometimes" | .keys[2].colour = "red"' "$work/plan.json" >"$work/bad-plan.json"
expect "a bad plan is refused with exit 10 before any AWS call" 10 \
    "$cs/prepare-request.sh" --plan "$work/bad-plan.json" --out "$work/never" --signer "pem:$signer" --create-keys
check "the bad-plan error names the key and the field" bash -c "grep -q \"keys\\[1\\] (dev-rds): field 'strategy'\" '$work/last.out' && grep -q \"unknown field 'colour'\" '$work/last.out' && [ ! -e '$work/never' ]"
jq '.keys[0].strategy = "new-key" | .keys[0].key_spec = "HMAC_256" | .keys[0].strategy = "on-demand"' "$work/plan.json" >"$work/bad-plan2.json"
expect "on-demand for an HMAC key is refused (exit 10)" 10 \
    "$cs/prepare-request.sh" --plan "$work/bad-plan2.json" --out "$work/never" --signer "pem:$signer"

nkeys_before=$(kms list-keys | jq '.Keys | length')
expect "prepare-request --dry-run exits 0" 0 \
    "$cs/prepare-request.sh" --plan "$work/plan.json" --out "$work/dry" --signer "pem:$signer" --create-keys --dry-run
check "prepare-request --dry-run prints the calls and creates nothing" bash -c \
    "[ \$(grep -c '^DRY-RUN: aws .*kms create-key --origin EXTERNAL' '$work/last.out') = 6 ] && [ \$(grep -c 'get-parameters-for-import' '$work/last.out') = 9 ] && [ ! -e '$work/dry' ] && [ \$(aws --output json kms list-keys | jq '.Keys | length') = $nkeys_before ]"

t0=$(date +%s)
expect "prepare-request builds the request (9 keys, dev/int/prod x s3/rds/dynamodb)" 0 \
    "$cs/prepare-request.sh" --plan "$work/plan.json" --out "$work/request" --signer "pem:$signer" --create-keys
echo "      prepare-request took $(($(date +%s) - t0)) s"
cp "$work/last.out" "$work/prepare.out"
req=$work/request
fp=$(openssl pkey -pubin -in "$signer_pub" -outform DER | sha256sum | cut -d' ' -f1)
check "prepare-request prints the signer fingerprint and the request digest" bash -c \
    "grep -q 'signer fingerprint  $fp' '$work/prepare.out' && grep -q \"request digest      \$(sha256sum '$req/SHA256SUMS' | cut -c1-64)\" '$work/prepare.out'"
check "request: SHA256SUMS sorted coreutils format, sha256sum -c passes" bash -c \
    "cd '$req' && sha256sum -c --strict --quiet SHA256SUMS && cut -c67- SHA256SUMS | LC_ALL=C sort -c && [ \$(wc -l <SHA256SUMS) = 19 ]"
check "request: signature verifies with openssl (PSS salt 32)" openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$signer_pub" -signature "$req/SHA256SUMS.sig" "$req/SHA256SUMS"
check "request: on-demand keys are the keys behind the s3 aliases" bash -c \
    "[ \"\$(jq -r '.keys[] | select(.service == \"s3\") | .key_arn' '$req/request.json' | sort)\" = \"\$(printf '%s\n' '${OLD[dev-s3]}' '${OLD[int-s3]}' '${OLD[prod-s3]}' | sort)\" ]"
check "request: new keys are EXTERNAL, PendingImport, tagged Pending" bash -c '
    for arn in $(jq -r ".keys[] | select(.service != \"s3\") | .key_arn" "'"$req"'/request.json"); do
      m=$(aws --output json kms describe-key --key-id "$arn" | jq -r ".KeyMetadata | .Origin + \" \" + .KeyState")
      [ "$m" = "EXTERNAL PendingImport" ] || { echo "$arn: $m"; exit 1; }
      aws --output json kms list-resource-tags --key-id "$arn" | jq -e ".Tags[] | select(.TagKey == \"KeyRotationStatus\" and .TagValue == \"Pending\")" >/dev/null || exit 1
    done'
check "request: wrapping keys are RSA 4096 SPKI DER" bash -c \
    "openssl pkey -pubin -inform DER -in '$req/keys/prod-rds/WrappingPublicKey.bin' -noout -text | grep -q '4096 bit'"
expect "prepare-request refuses an existing output folder (exit 4)" 4 \
    "$cs/prepare-request.sh" --plan "$work/plan.json" --out "$work/request" --signer "pem:$signer" --create-keys

# --- IAM policies --------------------------------------------------------------------
expect "make-iam-policies writes both documents" 0 "$cs/make-iam-policies.sh" --plan "$work/plan.json" --request "$req" \
    --out "$work/iam" --signer-key-arn arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-3333-4444-555555555555
check "importer policy names exactly the planned key ARNs and aliases" bash -c "
    jq -e . '$work/iam/importer-policy.json' >/dev/null &&
    [ \"\$(jq -c '.Statement[] | select(.Sid == \"ImportIntoPlannedKeysOnly\") | .Resource' '$work/iam/importer-policy.json')\" = \"\$(jq -c '[.keys[].key_arn] | sort' '$req/request.json')\" ] &&
    [ \"\$(jq -c '[.Statement[] | select(.Sid == \"SwapPlannedAliasesOnly\") | .Resource[] | select(contains(\":alias/\"))]' '$work/iam/importer-policy.json')\" = \"\$(jq -c '[.keys[].alias | \"arn:aws:kms:eu-west-1:000000000000:\" + .] | sort' '$work/plan.json')\" ] &&
    jq -e '.Statement[] | select(.Sid == \"ImportIntoPlannedKeysOnly\") | .Condition.StringEquals[\"kms:ExpirationModel\"] == \"KEY_MATERIAL_DOES_NOT_EXPIRE\"' '$work/iam/importer-policy.json' >/dev/null"
check "preparer policy: CreateKey only EXTERNAL, planned wrapping algorithm, Sign only on the signer" bash -c "
    p='$work/iam/preparer-policy.json'
    jq -e '.Statement[] | select(.Action == \"kms:CreateKey\") | .Condition.StringEquals[\"kms:KeyOrigin\"] == \"EXTERNAL\"' \$p &&
    jq -e '.Statement[] | select(.Action == \"kms:GetParametersForImport\") | .Condition[\"ForAnyValue:StringEquals\"][\"kms:WrappingAlgorithm\"] == [\"RSAES_OAEP_SHA_256\"]' \$p &&
    jq -e '[.Statement[] | select(.Action | tostring | contains(\"kms:Sign\")) | .Resource] == [\"arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-3333-4444-555555555555\"]' \$p &&
    ! jq -e '.Statement[] | select(.Action | tostring | test(\"ImportKeyMaterial|UpdateAlias\"))' \$p" 

# --- the ceremony on a Kryoptic soft token ---------------------------------------------
cat >"$work/kryoptic.conf" <<CONF
[[slots]]
slot = 1
dbtype = "sqlite"
dbargs = "$work/token/token.sql"
description = "Airlock online test token"
CONF
export KRYOPTIC_CONF=$work/kryoptic.conf AIRLOCK_INSECURE_TEST_KDF=1
printf 'online-so-pin-%s\n' "$RANDOM$RANDOM" >"$work/secrets/so-pin"
pkcs11-tool --module "$module" --init-token --label airlock-online --so-pin "$(cat "$work/secrets/so-pin")" >/dev/null
cat >"$work/airlock.toml" <<CONF
[hsm]
module = "$module"
token = "airlock-online"
[state]
dir = "$work/state"
CONF
export AIRLOCK_CONFIG=$work/airlock.toml
printf 'alice online test passphrase\n' >"$work/secrets/alice"
printf 'bob online test passphrase\n' >"$work/secrets/bob"
"$airlock" trust add-signer "$signer_pub" --name online-test >/dev/null
expect "airlock request verify accepts the request" 0 "$airlock" request verify "$req"
check "airlock shows the same request digest" grep -q "$(sha256sum "$req/SHA256SUMS" | cut -c1-64)" "$work/last.out"
"$airlock" enroll --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" \
    --threshold 2 --so-pin-file "$work/secrets/so-pin" >/dev/null
"$airlock" trust seal --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" >/dev/null
expect "airlock ceremony run writes the import bundle" 0 "$airlock" --config "$AIRLOCK_CONFIG" ceremony run --request "$req" --out "$work/import" \
    --custodian "alice=@$work/secrets/alice" --custodian "bob=@$work/secrets/bob" --allow-network
bundle=$work/import
ckey=$work/state/ceremony-signing-key.pem
digest=$(sha256sum "$bundle/SHA256SUMS" | cut -c1-64)

# --- refusals: nothing is imported ----------------------------------------------------------
untouched() { # no key of the request was imported or tagged by a ceremony
    local arn
    for arn in $(jq -r '.keys[] | select(.service != "s3") | .key_arn' "$req/request.json"); do
        [[ $(kms describe-key --key-id "$arn" | jq -r .KeyMetadata.KeyState) == PendingImport ]] || return 1
    done
    for arn in $(jq -r '.keys[] | select(.service == "s3") | .key_arn' "$req/request.json"); do
        kms list-resource-tags --key-id "$arn" | jq -e '[.Tags[] | select(.TagKey == "AirlockCeremony")] == []' >/dev/null || return 1
    done
}
cp -r "$bundle" "$work/flipped"
f=$work/flipped/keys/prod-dynamodb/EncryptedKeyMaterial.bin
byte=$(od -An -tu1 -j100 -N1 "$f" | tr -d ' ')
# shellcheck disable=SC2059  # the format is the octal escape of one byte
printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$f" bs=1 seek=100 conv=notrunc status=none
expect "a bundle with one flipped byte is refused (exit 20)" 20 "$cs/import-bundle.sh" --bundle "$work/flipped" \
    --ceremony-key "$ckey" --expect-digest "$digest" --request "$req" --receipt-dir "$work/receipts" --yes
check "the flipped-byte refusal names the file" grep -q 'keys/prod-dynamodb/EncryptedKeyMaterial.bin' "$work/last.out"
wrong=$(printf '%s' "$digest" | tr '0123456789abcdef' '123456789abcdef0')
expect "a wrong expected digest is refused (exit 21)" 21 "$cs/import-bundle.sh" --bundle "$bundle" \
    --ceremony-key "$ckey" --expect-digest "$wrong" --request "$req" --receipt-dir "$work/receipts" --yes
cp -r "$bundle" "$work/extra" && echo surprise >"$work/extra/keys/dev-s3/notes.txt"
expect "a bundle with an unlisted file is refused (exit 20)" 20 "$cs/import-bundle.sh" --bundle "$work/extra" \
    --ceremony-key "$ckey" --expect-digest "$digest" --receipt-dir "$work/receipts" --yes
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 2>/dev/null | openssl pkey -pubout -out "$work/other.pub.pem"
expect "a bundle under another ceremony key is refused (exit 20)" 20 "$cs/import-bundle.sh" --bundle "$bundle" \
    --ceremony-key "$work/other.pub.pem" --expect-digest "$digest" --receipt-dir "$work/receipts" --yes
expect "import-bundle --dry-run verifies and prints the calls" 0 "$cs/import-bundle.sh" --bundle "$bundle" \
    --ceremony-key "$ckey" --expect-digest "$digest" --request "$req" --receipt-dir "$work/receipts" --dry-run
check "the dry run names import-key-material with KEY_MATERIAL_DOES_NOT_EXPIRE for all 9 keys" bash -c \
    "[ \$(grep -c 'DRY-RUN: aws .*kms import-key-material .*--import-type NEW_KEY_MATERIAL --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE' '$work/last.out') = 9 ]"
check "after the refusals and the dry run nothing was imported" untouched

# --- import: dev first, declining its alias swap, then everything ------------------------------
grouped=$(fold -w4 <<<"$digest" | paste -sd' ' | tr a-f A-F)
t0=$(date +%s)
expect "declining dev's alias swap stops with exit 5" 5 bash -c "echo no | '$cs/import-bundle.sh' --bundle '$bundle' \
    --ceremony-key '$ckey' --expect-digest '$grouped' --request '$req' --receipt-dir '$work/receipts' --environments dev"
check "after the declined swap dev-rds is imported but alias/dev-rds still points at the old key" bash -c \
    "[ \"\$(aws --output json kms describe-key --key-id alias/dev-rds | jq -r .KeyMetadata.Arn)\" = '${OLD[dev-rds]}' ] &&
     [ \"\$(aws --output json kms describe-key --key-id \"\$(jq -r '.keys[] | select(.name == \"dev-rds\") | .key_arn' '$req/request.json')\" | jq -r .KeyMetadata.KeyState)\" = Enabled ] &&
     [ \"\$(aws --output json kms describe-key --key-id alias/int-rds | jq -r .KeyMetadata.Arn)\" = '${OLD[int-rds]}' ]"
expect "import-bundle imports, tests, rotates and swaps all 9 keys" 0 "$cs/import-bundle.sh" --bundle "$bundle" \
    --ceremony-key "$ckey" --expect-digest "$grouped" --request "$req" --receipt-dir "$work/receipts" --yes
echo "      import-bundle took $(($(date +%s) - t0)) s (both runs)"
cp "$work/last.out" "$work/import.out"
check "the rerun part skipped dev's imports already done" grep -q 'dev-rds: material already imported' "$work/import.out"
receipt=$(tail -1 "$work/import.out")
check "the receipt records every key done, with replaced keys for the swaps" bash -c \
    "jq -e '.completed_at != null and ([.keys[] | select(.status == \"done\")] | length) == 9 and
            ([.keys[] | select(.strategy == \"alias-swap\") | .replaced_key_arn] | length) == 6 and
            ([.keys[] | select(.strategy == \"on-demand\") | .old_ciphertext_decrypts] | all)' '$receipt'"
roundtrip() {
    local k n want got
    for k in "${samples[@]}"; do
        n=$(kms decrypt --ciphertext-blob "fileb://$work/ct-$k" | jq -r .Plaintext | base64 -d)
        [[ $n == "secret of $k" ]] || { echo "$k: old ciphertext gives '$n'"; return 1; }
        want=$(jq -r --arg n "$k" '.keys[] | select(.name == $n) | .key_arn' "$req/request.json")
        got=$(kms encrypt --key-id "alias/$k" --plaintext "fileb://$work/plain-$k" | jq -r .KeyId)
        [[ $got == "$want" ]] || { echo "$k: alias encrypts under $got, want $want"; return 1; }
    done
    # Every alias points at the key the request named (one list-aliases call).
    kms list-aliases | jq -e --slurpfile r "$req/request.json" '
        ([.Aliases[] | select(.TargetKeyId != null) | {(.AliasName): .TargetKeyId}] | add) as $a
        | all($r[0].keys[]; ($a[.alias] // "none") as $t | .key_arn | endswith($t))' >/dev/null ||
        { echo "an alias does not point at its planned key"; return 1; }
}
check "data encrypted before the rotation decrypts after it; aliases encrypt under the planned keys" roundtrip
check "swapped-out keys are tagged Replaced, rotated keys Rotated with a date" bash -c "
    aws --output json kms list-resource-tags --key-id '${OLD[prod-rds]}' | jq -e '[.Tags[] | select(.TagKey == \"KeyRotationStatus\")][0].TagValue == \"Replaced\"' &&
    aws --output json kms list-resource-tags --key-id '${OLD[prod-s3]}' | jq -e 'any(.Tags[]; .TagKey == \"KeyRotationStatus\" and .TagValue == \"Rotated\") and any(.Tags[]; .TagKey == \"LastKeyRotationDate\")'"
t0=$(date +%s)
expect "a rerun of a finished import changes nothing and exits 0" 0 "$cs/import-bundle.sh" --bundle "$bundle" \
    --ceremony-key "$ckey" --expect-digest "$digest" --request "$req" --receipt-dir "$work/receipts" --environments prod
echo "      rerun took $(($(date +%s) - t0)) s"
check "the rerun skipped every prod key" bash -c "[ \$(grep -c 'already rotated by ceremony' '$work/last.out') = 3 ] && ! grep -q 'material imported' '$work/last.out'"

# --- compliance report on a moto inventory ---------------------------------------------------------
new() { jq -r --arg n "$1" '.keys[] | select(.name == $n) | .key_arn' "$req/request.json"; }
s3b() { # BUCKET KEY
    aws s3api create-bucket --bucket "$1" --create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null
    aws s3api put-bucket-encryption --bucket "$1" --server-side-encryption-configuration \
        "{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"$2\"}}]}"
}
s3b dev-logs-rotated "${OLD[dev-s3]}"          # on-demand: same ARN, new material: compliant
s3b prod-data-alias alias/prod-s3              # through the alias: compliant
aws s3api create-bucket --bucket plain-sse-s3 --create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null
ddb() {
    aws dynamodb create-table --table-name "$1" --attribute-definitions AttributeName=id,AttributeType=S \
        --key-schema AttributeName=id,KeyType=HASH --billing-mode PAY_PER_REQUEST \
        --sse-specification "Enabled=true,SSEType=KMS,KMSMasterKeyId=$2" >/dev/null
}
ddb int-orders-old "${OLD[int-dynamodb]}"      # replaced key: NON_COMPLIANT
ddb prod-orders-new "$(new prod-dynamodb)"     # new key: compliant
rdsi() {
    aws rds create-db-instance --db-instance-identifier "$1" --db-instance-class db.t3.micro --engine postgres \
        --master-username u --master-user-password 'not-a-real-pass-1' --allocated-storage 20 --storage-encrypted --kms-key-id "$2" >/dev/null
}
rdsi prod-db-old "${OLD[prod-rds]}"            # replaced key: NON_COMPLIANT
rdsi dev-db-new "$(new dev-rds)"               # new key: compliant
aws rds create-db-cluster --db-cluster-identifier int-cluster-old --engine aurora-postgresql --master-username u \
    --master-user-password 'not-a-real-pass-1' --storage-encrypted --kms-key-id "${OLD[int-rds]}" >/dev/null
expect "compliance-report --json exits 1 when something is non-compliant" 1 "$cs/compliance-report.sh" --json --receipts "$work/receipts"
cp "$work/last.out" "$work/report.json"
check "--json names exactly the three non-compliant resources with their environment" bash -c \
    "jq -e '[.resources[] | .resource] | sort == [\"cluster:int-cluster-old\", \"db:prod-db-old\", \"int-orders-old\"]' '$work/report.json' &&
     jq -e '[.resources[] | select(.resource == \"db:prod-db-old\") | .environment] == [\"prod\"]' '$work/report.json' &&
     jq -e '.summary == {total: 8, compliant: 4, non_compliant: 3, not_applicable: 1}' '$work/report.json'"
expect "the table (rendered from the saved report) exits 1" 1 "$cs/compliance-report.sh" --from-json "$work/report.json"
check "the table lists exactly the non-compliant resources" bash -c "
    o='$work/last.out'; grep -q prod-db-old \$o && grep -q int-orders-old \$o && grep -q int-cluster-old \$o &&
    ! grep -qE 'dev-logs-rotated|prod-data-alias|prod-orders-new|dev-db-new|plain-sse-s3' \$o && grep -q '^3 non-compliant, 4 compliant, 1 not applicable' \$o"
expect "--csv exits 1" 1 "$cs/compliance-report.sh" --from-json "$work/report.json" --csv
check "--csv has a header and three rows" bash -c \
    "head -1 '$work/last.out' | grep -qx 'service,region,resource,key_arn,environment,status,reason' && [ \$(grep -c NON_COMPLIANT '$work/last.out') = 3 ] && [ \$(wc -l <'$work/last.out') = 4 ]"
aws kms tag-resource --key-id "$(new dev-rds)" --tags TagKey=LastKeyRotationDate,TagValue=2020-01-01T00:00:00Z
expect "--max-age-days flags material older than the policy (and --put-metrics publishes)" 1 \
    bash -c "'$cs/compliance-report.sh' --json --max-age-days 365 --put-metrics 2>'$work/metrics.err'"
check "the too-old key's resource is listed with its age" bash -c \
    "jq -e '[.resources[] | select(.resource == \"db:dev-db-new\") | .reason | test(\"days old\")] == [true]' '$work/last.out'"
check "CloudWatch has the rotation metrics" bash -c \
    "aws --output json --endpoint-url http://127.0.0.1:5000 cloudwatch list-metrics --namespace Airlock/KeyRotation | jq -e '[.Metrics[].MetricName] | unique == [\"RotatedResources\", \"TotalResources\"]'"
# Move the stragglers to the new keys: the report is clean.
aws kms tag-resource --key-id "$(new dev-rds)" --tags "TagKey=LastKeyRotationDate,TagValue=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
aws dynamodb delete-table --table-name int-orders-old >/dev/null
aws rds delete-db-instance --db-instance-identifier prod-db-old --skip-final-snapshot >/dev/null
aws rds delete-db-cluster --db-cluster-identifier int-cluster-old --skip-final-snapshot >/dev/null
expect "compliance-report exits 0 when everything is on rotated keys" 0 "$cs/compliance-report.sh" --max-age-days 365
expect "compliance-report --require-byok flags the SSE-S3 bucket" 1 "$cs/compliance-report.sh" --json --require-byok
check "--require-byok lists only the bucket without a BYOK key" jq -e '[.resources[].resource] == ["plain-sse-s3"]' "$work/last.out"
expect "compliance-report --dry-run calls nothing and exits 0" 0 "$cs/compliance-report.sh" --dry-run
check "compliance-report --dry-run prints the listing calls" grep -q 'DRY-RUN: aws .*rds describe-db-clusters' "$work/last.out"

# --- the AWS Config rule's evaluation, against the same KMS ------------------------------------------
plain=$(kms create-key --description "not BYOK" | jq -r .KeyMetadata.Arn)
check "the Config rule's evaluate() agrees with the report (replaced, rotated, too old, not BYOK, missing key)" \
    python "$cs/config-rules/rule-test.py" "${OLD[prod-rds]}" "${OLD[prod-s3]}" "$plain"
