#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs are single-quoted on purpose
# Online side, step 3: which S3 buckets, DynamoDB tables and RDS instances
# and clusters are not on a rotated key yet. Read-only on AWS (except the
# optional --put-metrics). Exits 1 when anything is NON_COMPLIANT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SCRIPT_NAME=compliance-report.sh
# shellcheck source=ceremony-scripts/online-lib.sh
source "$here/online-lib.sh"

usage() {
    cat <<'EOF'
Usage: compliance-report.sh [options]

Lists S3 buckets (default encryption key), DynamoDB tables
(SSEDescription.KMSMasterKeyArn), RDS DB instances and clusters (KmsKeyId)
in each region, resolves aliases and key ids with describe-key, and marks a
resource NON_COMPLIANT when its key
  - was replaced by an alias-swap rotation (tag KeyRotationStatus=Replaced,
    or named as replaced_key_arn in a receipt given with --receipts), or
  - is an EXTERNAL (BYOK) key whose current material is older than
    --max-age-days (tag LastKeyRotationDate, else the key's CreationDate), or
  - cannot be described (deleted key, or no permission).
Resources without a customer managed key (SSE-S3, AWS owned or AWS managed
keys) are NOT_APPLICABLE unless --require-byok makes them NON_COMPLIANT.
Only NON_COMPLIANT resources are listed unless --all is given.

Options:
  --regions LIST         comma-separated regions (default: AWS_DEFAULT_REGION / AWS_REGION)
  --services LIST        any of s3,dynamodb,rds (default: all three)
  --max-age-days N       material older than N days is NON_COMPLIANT
  --receipts DIR         import-bundle.sh receipts (*.receipt.json) naming replaced keys
  --require-byok         resources not on a customer managed EXTERNAL key are NON_COMPLIANT
  --all                  list every resource, not only the NON_COMPLIANT ones
  --json | --csv         machine-readable output (default: a table)
  --from-json FILE       render a report saved with --json (as a table or --csv)
                         instead of reading AWS; the exit code follows its summary
  --put-metrics          publish counts to CloudWatch (namespace Airlock/KeyRotation,
                         metrics TotalResources and RotatedResources per Service
                         and Environment; dashboard: config-rules/compliance-dashboard.json)
  --cloudtrail-days N    list callers of Decrypt/GenerateDataKey* on replaced keys
                         in the last N days (CloudTrail lookup-events), to stderr
  --endpoint-url URL     send every aws call there (default: real AWS; the aws CLI
                         also honours AWS_ENDPOINT_URL_<SERVICE>)
  --dry-run              print the aws calls that start the report; call nothing
  -h, --help             this text

EOF
    exit_codes_help
}

REGIONS="" SERVICES="s3,dynamodb,rds" MAX_AGE="" RECEIPTS="" REQUIRE_BYOK=0 ALL=0 FORMAT=table METRICS=0 CT_DAYS="" FROM_JSON=""
while (($#)); do
    case "$1" in
        --regions | --region) REGIONS=${2:?$1 needs a list}; shift 2 ;;
        --services) SERVICES=${2:?--services needs a list}; shift 2 ;;
        --max-age-days) MAX_AGE=${2:?--max-age-days needs a number}; shift 2 ;;
        --receipts) RECEIPTS=${2:?--receipts needs a folder}; shift 2 ;;
        --require-byok) REQUIRE_BYOK=1; shift ;;
        --all) ALL=1; shift ;;
        --json) FORMAT=json; shift ;;
        --csv) FORMAT=csv; shift ;;
        --from-json) FROM_JSON=${2:?--from-json needs a file}; shift 2 ;;
        --put-metrics) METRICS=1; shift ;;
        --cloudtrail-days) CT_DAYS=${2:?--cloudtrail-days needs a number}; shift 2 ;;
        --endpoint-url) ENDPOINT_URL=${2:?--endpoint-url needs a URL}; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "$EX_USAGE" "unknown option '$1' (see --help)" ;;
    esac
done
[[ -z $MAX_AGE || $MAX_AGE =~ ^[0-9]+$ ]] || die "$EX_USAGE" "--max-age-days '$MAX_AGE' is not a whole number of days"
[[ -z $CT_DAYS || $CT_DAYS =~ ^[0-9]+$ ]] || die "$EX_USAGE" "--cloudtrail-days '$CT_DAYS' is not a whole number of days"
[[ -n $REGIONS ]] || REGIONS=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
[[ -n $REGIONS ]] || die "$EX_USAGE" "no region: pass --regions or set AWS_DEFAULT_REGION"
IFS=, read -r -a regions <<<"$REGIONS"
IFS=, read -r -a services <<<"$SERVICES"
for s in "${services[@]}"; do
    [[ $s == s3 || $s == dynamodb || $s == rds ]] || die "$EX_USAGE" "--services: '$s' is not one of s3, dynamodb, rds"
done
if [[ -n $RECEIPTS ]]; then [[ -d $RECEIPTS ]] || die "$EX_IO" "receipt folder $RECEIPTS not found"; fi
need aws jq

has_service() { [[ ,$SERVICES, == *,$1,* ]]; }

render() {
    local report=$1
    case "$FORMAT" in
        json) jq . <<<"$report" ;;
        csv)
            echo "service,region,resource,key_arn,environment,status,reason"
            jq -r '.resources[] | [.service, .region, .resource, (.key_arn // .key_ref // ""), .environment, .status, .reason] | @csv' <<<"$report"
            ;;
        table)
            {
                printf 'SERVICE\tREGION\tRESOURCE\tENV\tSTATUS\tKEY\tREASON\n'
                jq -r '.resources[] | [.service, .region, .resource, .environment, .status, (.key_arn // .key_ref // "-"), .reason] | @tsv' <<<"$report"
            } | column -t -s $'\t'
            jq -r '.summary | "\(.non_compliant) non-compliant, \(.compliant) compliant, \(.not_applicable) not applicable, \(.total) resources"' <<<"$report"
            ;;
    esac
}

if [[ -n $FROM_JSON ]]; then
    [[ -r $FROM_JSON ]] || die "$EX_IO" "report $FROM_JSON not found or not readable"
    saved=$(jq -c 'select(.summary.non_compliant != null and (.resources | type) == "array")' "$FROM_JSON" 2>/dev/null) || saved=""
    [[ -n $saved ]] || die "$EX_IO" "$FROM_JSON is not a report written by compliance-report.sh --json"
    render "$saved"
    [[ $(jq .summary.non_compliant <<<"$saved") == 0 ]] || exit "$EX_NONCOMPLIANT"
    exit "$EX_OK"
fi

if [[ $DRY_RUN == 1 ]]; then
    info "dry run: the listing calls per region; per resource it then reads its encryption settings and describe-key/list-resource-tags per distinct key"
    for r in "${regions[@]}"; do
        has_service s3 && aws_call s3 s3api list-buckets --region "$r" && aws_call s3 s3api get-bucket-encryption --bucket "<bucket>" --region "$r"
        has_service dynamodb && aws_call dynamodb dynamodb list-tables --region "$r" && aws_call dynamodb dynamodb describe-table --table-name "<table>" --region "$r"
        has_service rds && aws_call rds rds describe-db-instances --region "$r" && aws_call rds rds describe-db-clusters --region "$r"
        aws_call kms kms describe-key --key-id "<key of each resource>" --region "$r"
        aws_call kms kms list-resource-tags --key-id "<key arn>" --region "$r"
        ((METRICS)) && aws_call cloudwatch cloudwatch put-metric-data --namespace Airlock/KeyRotation --metric-data "<counts>" --region "$r"
        [[ -n $CT_DAYS ]] && aws_call cloudtrail cloudtrail lookup-events --lookup-attributes "AttributeKey=ResourceName,AttributeValue=<replaced key arn>" --region "$r"
    done
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
rows=$work/resources.jsonl
: >"$rows"

# --- inventory: one JSON line per resource: service, region, resource, key_ref
for r in "${regions[@]}"; do
    if has_service s3; then
        while IFS=$'\t' read -r b loc; do
            [[ -n $b ]] || continue
            [[ -n $loc ]] || loc=$(aws_call "bucket $b" s3api get-bucket-location --bucket "$b" --region "$r" | jq -r '.LocationConstraint // "us-east-1"')
            [[ $loc == EU ]] && loc=eu-west-1
            [[ $loc == "$r" ]] || continue
            enc=$(aws_try s3api get-bucket-encryption --bucket "$b" --region "$r" || echo '{}')
            jq -c --arg b "$b" --arg r "$r" '{service: "s3", region: $r, resource: $b,
                key_ref: ([.ServerSideEncryptionConfiguration.Rules[]?.ApplyServerSideEncryptionByDefault
                           | select(.SSEAlgorithm | startswith("aws:kms")) | .KMSMasterKeyID // "aws/s3"][0] // null)}' \
                <<<"$enc" >>"$rows"
        done < <(aws_call "S3 buckets in $r" s3api list-buckets --region "$r" | jq -r '.Buckets[]? | [.Name, (.BucketRegion // "")] | @tsv')
    fi
    if has_service dynamodb; then
        for t in $(aws_call "DynamoDB tables in $r" dynamodb list-tables --region "$r" | jq -r '.TableNames[]?'); do
            aws_call "table $t" dynamodb describe-table --table-name "$t" --region "$r" |
                jq -c --arg r "$r" '.Table | {service: "dynamodb", region: $r, resource: .TableName,
                    key_ref: (.SSEDescription.KMSMasterKeyArn // null)}' >>"$rows"
        done
    fi
    if has_service rds; then
        aws_call "RDS instances in $r" rds describe-db-instances --region "$r" |
            jq -c --arg r "$r" '.DBInstances[]? | {service: "rds", region: $r, resource: ("db:" + .DBInstanceIdentifier),
                key_ref: (if .StorageEncrypted then .KmsKeyId else null end)}' >>"$rows"
        aws_call "RDS clusters in $r" rds describe-db-clusters --region "$r" |
            jq -c --arg r "$r" '.DBClusters[]? | {service: "rds", region: $r, resource: ("cluster:" + .DBClusterIdentifier),
                key_ref: (if .StorageEncrypted then .KmsKeyId else null end)}' >>"$rows"
    fi
done

# --- keys: describe each distinct key once, with its tags
replaced_from_receipts='[]'
if [[ -n $RECEIPTS ]]; then
    replaced_from_receipts=$(find "$RECEIPTS" -maxdepth 1 -name '*.receipt.json' -print0 | xargs -0 -r cat |
        jq -s -c '[.[].keys[]? | select(.replaced_key_arn != null) | {old: .replaced_key_arn, new: .key_arn}]')
fi
keys=$work/keys.jsonl
: >"$keys"
while IFS=$'\t' read -r region ref; do
    [[ -z $ref || $ref == null ]] && continue
    kref=$ref
    [[ $kref == aws/* ]] && kref="alias/$kref"
    if meta=$(aws_try kms describe-key --key-id "$kref" --region "$region"); then
        arn=$(jq -r .KeyMetadata.Arn <<<"$meta")
        tags=$(aws_try kms list-resource-tags --key-id "$arn" --region "$region" | jq -c '[.Tags[]? | {(.TagKey): .TagValue}] | add // {}' || echo '{}')
        jq -c --arg ref "$ref" --arg region "$region" --argjson tags "$tags" \
            '{ref: $ref, region: $region, found: true, arn: .KeyMetadata.Arn, origin: .KeyMetadata.Origin,
              manager: .KeyMetadata.KeyManager, created: .KeyMetadata.CreationDate, tags: $tags}' <<<"$meta" >>"$keys"
    else
        jq -cn --arg ref "$ref" --arg region "$region" '{ref: $ref, region: $region, found: false}' >>"$keys"
    fi
done < <(jq -r '[.region, (.key_ref // "")] | @tsv' "$rows" | sort -u)

# --- classify
now=$(date -u +%s)
report=$(jq -n --slurpfile rows "$rows" --slurpfile keys "$keys" --argjson replaced "$replaced_from_receipts" \
    --arg maxage "$MAX_AGE" --argjson now "$now" --argjson byok "$REQUIRE_BYOK" --argjson all "$ALL" \
    --arg regions "$REGIONS" '
  def epoch: if type == "number" then floor else (sub("\\.[0-9]+"; "") | sub("\\+00:00$"; "Z") | fromdateiso8601) end;
  ($keys | map({key: "\(.region) \(.ref)", value: .}) | from_entries) as $k
  | [ $rows[] | . as $r | ($k["\($r.region) \($r.key_ref)"] // null) as $key
      | ($replaced | map(select(.old == $key.arn)) | .[0].new) as $rcpt_new
      | (if $r.key_ref == null then {status: "NOT_APPLICABLE", reason: "no customer managed KMS key (SSE-S3 or AWS owned key)"}
         elif ($key.found | not) then {status: "NON_COMPLIANT", reason: "key \($r.key_ref) cannot be described (deleted, or no kms:DescribeKey)"}
         elif $key.tags.KeyRotationStatus == "Replaced" then {status: "NON_COMPLIANT", reason: "key was replaced by \($key.tags.ReplacedBy // "a new key") at \($key.tags.ReplacedAt // "?")"}
         elif $rcpt_new != null then {status: "NON_COMPLIANT", reason: "key was replaced by \($rcpt_new) (receipt)"}
         elif $key.manager == "AWS" or $key.origin != "EXTERNAL" then {status: "NOT_APPLICABLE", reason: "key is not a BYOK (EXTERNAL) key"}
         elif $key.tags.KeyRotationStatus == "Pending" then {status: "NON_COMPLIANT", reason: "key has no imported material yet (KeyRotationStatus=Pending)"}
         elif $maxage != "" and (($now - (($key.tags.LastKeyRotationDate // $key.created) | epoch)) / 86400) > ($maxage | tonumber)
           then {status: "NON_COMPLIANT", reason: "key material is \((($now - (($key.tags.LastKeyRotationDate // $key.created) | epoch)) / 86400) | floor) days old (policy: \($maxage))"}
         else {status: "COMPLIANT", reason: (if $key.tags.LastKeyRotationDate then "rotated \($key.tags.LastKeyRotationDate)" else "BYOK key" end)} end) as $v
      | (if $v.status == "NOT_APPLICABLE" and $byok == 1 then {status: "NON_COMPLIANT", reason: ($v.reason + "; BYOK is required")} else $v end) as $v
      | {service: $r.service, region: $r.region, resource: $r.resource, key_ref: $r.key_ref,
         key_arn: ($key.arn // null), environment: ($key.tags.Environment // "unknown"), status: $v.status, reason: $v.reason} ]
  | sort_by(.service, .region, .resource) as $all_rows
  | {generated_at: (now | todate), regions: ($regions | split(",")), max_age_days: (if $maxage == "" then null else ($maxage | tonumber) end),
     summary: {total: ($all_rows | length),
               compliant: ($all_rows | map(select(.status == "COMPLIANT")) | length),
               non_compliant: ($all_rows | map(select(.status == "NON_COMPLIANT")) | length),
               not_applicable: ($all_rows | map(select(.status == "NOT_APPLICABLE")) | length)},
     counts: ($all_rows | group_by([.service, .environment]) | map({service: .[0].service, environment: .[0].environment,
               total: length, rotated: map(select(.status == "COMPLIANT")) | length})),
     resources: (if $all == 1 then $all_rows else $all_rows | map(select(.status == "NON_COMPLIANT")) end)}')

render "$report"

if ((METRICS)); then
    for r in "${regions[@]}"; do
        data=$(jq -c --arg r "$r" '[.counts[] | {Dimensions: [{Name: "Service", Value: .service}, {Name: "Environment", Value: .environment}]} as $d
            | ($d + {MetricName: "TotalResources", Value: .total, Unit: "Count"}), ($d + {MetricName: "RotatedResources", Value: .rotated, Unit: "Count"})]' <<<"$report")
        [[ $data == "[]" ]] || aws_call "metrics" cloudwatch put-metric-data --region "$r" --namespace Airlock/KeyRotation --metric-data "$data" >/dev/null
    done
    info "metrics published to CloudWatch namespace Airlock/KeyRotation"
fi

if [[ -n $CT_DAYS ]]; then
    start=$(date -u -d "-$CT_DAYS days" +%Y-%m-%dT%H:%M:%SZ)
    while IFS=$'\t' read -r region arn; do
        aws_call "CloudTrail for $arn" cloudtrail lookup-events --region "$region" --start-time "$start" \
            --lookup-attributes "AttributeKey=ResourceName,AttributeValue=$arn" |
            jq -r --arg k "$arn" '.Events[]? | select(.EventName | test("^(Decrypt|GenerateDataKey)"))
                | (.CloudTrailEvent | fromjson) as $e
                | "cloudtrail: \(.EventTime) \(.EventName) on replaced key \($k) by \($e.userIdentity.arn // .Username // "?")"' >&2
    done < <(jq -r '[.[] | select(.found and .tags.KeyRotationStatus == "Replaced") | [.region, .arn] | @tsv] | unique[]' <(jq -s . "$keys"))
fi

[[ $(jq .summary.non_compliant <<<"$report") == 0 ]] || exit "$EX_NONCOMPLIANT"
exit "$EX_OK"
