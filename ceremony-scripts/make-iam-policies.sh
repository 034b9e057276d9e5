#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs are single-quoted on purpose
# Least privilege for the two online roles, generated from the plan (and,
# for the importer, from the signed request that names the key ARNs):
# preparer-policy.json and importer-policy.json (IAM policy documents).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SCRIPT_NAME=make-iam-policies.sh
# shellcheck source=ceremony-scripts/online-lib.sh
source "$here/online-lib.sh"

usage() {
    cat <<'EOF'
Usage: make-iam-policies.sh --plan PLAN.json --out DIR [--request DIR] [options]

Writes IAM policy documents for the ceremony window (grant them only for the
window, see docs/online-runbook.md):
  DIR/preparer-policy.json  kms:CreateKey only with kms:KeyOrigin=EXTERNAL;
                            kms:GetParametersForImport only with the planned
                            kms:WrappingAlgorithm values and kms:WrappingKeySpec
                            RSA_4096; kms:Sign/GetPublicKey only on the signer
                            key (--signer-key-arn); DescribeKey; TagResource
                            only while creating a key
  DIR/importer-policy.json  (needs --request) kms:ImportKeyMaterial only on the
                            request's key ARNs and with kms:ExpirationModel;
                            RotateKeyOnDemand, the key tests, DescribeKey,
                            ListResourceTags, TagResource on those ARNs;
                            UpdateAlias/CreateAlias only on the planned aliases
                            (and the keys they point at)
Both documents use the plan's account and region (or --account/--region).
DIR must not exist; it is written complete or not at all. This script makes
no AWS call.

Options:
  --plan FILE              the rotation plan (airlock-plan/1)
  --request DIR            the signed request bundle (for the importer policy)
  --out DIR                output folder (must not exist)
  --account ID             12-digit account (default: the plan's aws_account / the request's)
  --region REGION          (default: the plan's aws_region / the request's)
  --signer-key-arn ARN     the KMS signing key of prepare-request.sh --signer kms:...
  --expiration-model M     KEY_MATERIAL_DOES_NOT_EXPIRE (default) or KEY_MATERIAL_EXPIRES
  --dry-run                print the documents instead of writing them
  -h, --help               this text

EOF
    exit_codes_help
}

PLAN="" REQUEST="" OUT="" ACCOUNT="" REGION="" SIGNER_ARN="" EXPMODEL=KEY_MATERIAL_DOES_NOT_EXPIRE
while (($#)); do
    case "$1" in
        --plan) PLAN=${2:?--plan needs a file}; shift 2 ;;
        --request) REQUEST=${2:?--request needs a folder}; shift 2 ;;
        --out) OUT=${2:?--out needs a folder}; shift 2 ;;
        --account) ACCOUNT=${2:?--account needs an id}; shift 2 ;;
        --region) REGION=${2:?--region needs a region}; shift 2 ;;
        --signer-key-arn) SIGNER_ARN=${2:?--signer-key-arn needs an ARN}; shift 2 ;;
        --expiration-model) EXPMODEL=${2:?--expiration-model needs a value}; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "$EX_USAGE" "unknown option '$1' (see --help)" ;;
    esac
done
[[ -n $PLAN ]] || die "$EX_USAGE" "--plan is required (see --help)"
[[ -n $OUT || $DRY_RUN == 1 ]] || die "$EX_USAGE" "--out is required (see --help)"
[[ $EXPMODEL == KEY_MATERIAL_DOES_NOT_EXPIRE || $EXPMODEL == KEY_MATERIAL_EXPIRES ]] ||
    die "$EX_USAGE" "--expiration-model must be KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES"
need jq
[[ -r $PLAN ]] || die "$EX_IO" "plan file $PLAN not found or not readable"
jq -e . "$PLAN" >/dev/null 2>&1 || die "$EX_PLAN" "$PLAN is not valid JSON"
problems=$(jq -r -f "$here/plan-check.jq" "$PLAN")
[[ -z $problems ]] || die "$EX_PLAN" "$PLAN is not a valid plan: $(tr '\n' ';' <<<"$problems")"
[[ -n $ACCOUNT ]] || ACCOUNT=$(jq -r '.aws_account // empty' "$PLAN")
[[ -n $REGION ]] || REGION=$(jq -r '.aws_region // empty' "$PLAN")
if [[ -n $REQUEST ]]; then
    RJ=$REQUEST/request.json
    [[ -r $RJ ]] || die "$EX_IO" "$RJ not found"
    [[ -n $ACCOUNT ]] || ACCOUNT=$(jq -r .aws_account "$RJ")
    [[ -n $REGION ]] || REGION=$(jq -r .aws_region "$RJ")
    [[ $(jq -r .aws_account "$RJ") == "$ACCOUNT" && $(jq -r .aws_region "$RJ") == "$REGION" ]] ||
        die "$EX_CONTENT" "$RJ is for $(jq -r .aws_account "$RJ")/$(jq -r .aws_region "$RJ"), not $ACCOUNT/$REGION"
    missing=$(jq -r --slurpfile r "$RJ" '[.keys[].name] - [$r[0].keys[].name] | join(", ")' "$PLAN")
    [[ -z $missing ]] || die "$EX_CONTENT" "planned keys missing from $RJ: $missing; pass the request made from this plan"
fi
[[ $ACCOUNT =~ ^[0-9]{12}$ ]] || die "$EX_USAGE" "no 12-digit account: set aws_account in the plan or pass --account"
[[ -n $REGION ]] || die "$EX_USAGE" "no region: set aws_region in the plan or pass --region"
if [[ -n $SIGNER_ARN && ! $SIGNER_ARN =~ ^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$ ]]; then
    die "$EX_USAGE" "--signer-key-arn '$SIGNER_ARN' is not a KMS key ARN"
fi
if [[ -z $OUT ]]; then :; elif [[ -e $OUT ]]; then die "$EX_IO" "output $OUT already exists; choose a new folder"; fi

prefix="arn:aws:kms:$REGION:$ACCOUNT"
algs=$(jq -c '[.keys[].key_spec | if test("^(SYMMETRIC_DEFAULT|HMAC_)") then "RSAES_OAEP_SHA_256" else "RSA_AES_KEY_WRAP_SHA_256" end] | unique' "$PLAN")
aliases=$(jq -c --arg p "$prefix" '[.keys[].alias | "\($p):\(.)"] | sort' "$PLAN")
alias_names=$(jq -c '[.keys[].alias] | sort' "$PLAN")
specs=$(jq -c '[.keys[].key_spec] | unique' "$PLAN")

preparer=$(jq -n --arg p "$prefix" --argjson algs "$algs" --argjson specs "$specs" --arg signer "$SIGNER_ARN" '
{Version: "2012-10-17", Statement: ([
  {Sid: "CreateExternalKeysOnly", Effect: "Allow", Action: "kms:CreateKey", Resource: "*",
   Condition: {StringEquals: {"kms:KeyOrigin": "EXTERNAL", "aws:RequestedRegion": ($p | split(":")[3])},
               "ForAllValues:StringEquals": {"kms:KeySpec": $specs}}},
  {Sid: "TagOnlyWhileCreating", Effect: "Allow", Action: "kms:TagResource", Resource: "\($p):key/*",
   Condition: {StringEquals: {"kms:CallerAction": "CreateKey"}}},
  {Sid: "ImportParametersPlannedAlgorithmsOnly", Effect: "Allow", Action: "kms:GetParametersForImport", Resource: "\($p):key/*",
   Condition: {"ForAnyValue:StringEquals": {"kms:WrappingAlgorithm": $algs}, StringEquals: {"kms:WrappingKeySpec": "RSA_4096"}}},
  {Sid: "ReadKeysAndPlannedAliases", Effect: "Allow", Action: ["kms:DescribeKey", "kms:ListResourceTags"], Resource: "\($p):key/*"},
  {Sid: "ListAliases", Effect: "Allow", Action: "kms:ListAliases", Resource: "*"},
  {Sid: "WhoAmI", Effect: "Allow", Action: "sts:GetCallerIdentity", Resource: "*"}
] + (if $signer == "" then [] else [
  {Sid: "SignRequestsWithSignerKeyOnly", Effect: "Allow", Action: ["kms:Sign", "kms:GetPublicKey"], Resource: $signer,
   Condition: {StringEquals: {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256", "kms:MessageType": "DIGEST"}}}] end))}')

importer=""
if [[ -n $REQUEST ]]; then
    arns=$(jq -c '[.keys[].key_arn] | sort' "$RJ")
    importer=$(jq -n --arg p "$prefix" --argjson arns "$arns" --argjson aliases "$aliases" \
        --argjson aliasnames "$alias_names" --arg exp "$EXPMODEL" '
{Version: "2012-10-17", Statement: [
  {Sid: "ImportIntoPlannedKeysOnly", Effect: "Allow", Action: "kms:ImportKeyMaterial", Resource: $arns,
   Condition: {StringEquals: {"kms:ExpirationModel": $exp}}},
  {Sid: "RotateAndTestPlannedKeys", Effect: "Allow",
   Action: ["kms:RotateKeyOnDemand", "kms:DescribeKey", "kms:ListResourceTags", "kms:TagResource",
            "kms:Encrypt", "kms:Decrypt", "kms:GenerateMac", "kms:VerifyMac", "kms:Sign", "kms:Verify"],
   Resource: $arns},
  {Sid: "SwapPlannedAliasesOnly", Effect: "Allow", Action: ["kms:UpdateAlias", "kms:CreateAlias"], Resource: ($aliases + $arns)},
  {Sid: "OldKeysBehindPlannedAliases", Effect: "Allow", Action: ["kms:UpdateAlias", "kms:DescribeKey", "kms:TagResource"],
   Resource: "\($p):key/*", Condition: {"ForAnyValue:StringEquals": {"kms:ResourceAliases": $aliasnames}}}
]}')
fi

if [[ $DRY_RUN == 1 ]]; then
    echo "# preparer-policy.json"
    jq . <<<"$preparer"
    if [[ -n $importer ]]; then echo "# importer-policy.json"; jq . <<<"$importer"; fi
    exit 0
fi
staging=$(make_staging "$OUT")
trap 'rm -rf -- "$staging"' EXIT
jq . <<<"$preparer" >"$staging/preparer-policy.json"
[[ -z $importer ]] || jq . <<<"$importer" >"$staging/importer-policy.json"
trap - EXIT
publish_dir "$staging" "$OUT"
info "wrote $OUT/preparer-policy.json${importer:+ and $OUT/importer-policy.json}"
