#!/usr/bin/env bash
# Wall time of `airlock-online report` over N resources in moto (S3 buckets,
# DynamoDB tables, RDS instances in 2:2:1), keys in LocalStack; with
# --bash-too also the old bash report when it is still in the tree.
# Usage: online-report.sh [N] [--bash-too]   (docs/performance.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD cs=$root/ceremony-scripts
n=${1:-2000}
work=$root/.work/bench-online
rm -rf "$work" && mkdir -p "$work"
bash "$cs/localstack/emulators.sh" start
trap 'bash "$cs/localstack/emulators.sh" stop >/dev/null 2>&1 || true' EXIT
eval "$(bash "$cs/localstack/emulators.sh" env)"
export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4566 AWS_ENDPOINT_URL_STS=http://127.0.0.1:4566
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:5000 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5000 AWS_ENDPOINT_URL_RDS=http://127.0.0.1:5000
export AWS_REGION=eu-west-1
python - "$n" "$work/plan.json" <<'PY'
import json, sys, boto3
n, plan = int(sys.argv[1]), sys.argv[2]
kms = boto3.client("kms", endpoint_url="http://127.0.0.1:4566")
keys = {}
for e in ("dev", "int", "prod"):
    for s in ("s3", "rds", "dynamodb"):
        arn = kms.create_key(Description=f"{e}-{s}")["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=f"alias/{e}-{s}", TargetKeyId=arn)
        keys[(e, s)] = arn
json.dump({"format": "airlock-plan/1", "request_id": "bench", "aws_region": "eu-west-1",
           "keys": [{"name": f"{e}-{s}", "alias": f"alias/{e}-{s}", "environment": e, "service": s,
                     "key_spec": "SYMMETRIC_DEFAULT", "strategy": "new-key"} for (e, s) in keys]}, open(plan, "w"))
ep = "http://127.0.0.1:5000"
s3, ddb, rds = (boto3.client(x, endpoint_url=ep) for x in ("s3", "dynamodb", "rds"))
envs = ["dev", "int", "prod"]
for i in range(n * 2 // 5):
    e = envs[i % 3]
    b = f"bench-{e}-{i}"
    s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys[(e, "s3")]}}]})
for i in range(n * 2 // 5):
    e = envs[i % 3]
    ddb.create_table(TableName=f"bench-{e}-{i}", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": keys[(e, "dynamodb")]})
for i in range(n - 4 * (n // 5)):
    e = envs[i % 3]
    rds.create_db_instance(DBInstanceIdentifier=f"bench-{e}-{i}", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="u", MasterUserPassword="not-a-real-pass-1", AllocatedStorage=20,
                           StorageEncrypted=True, KmsKeyId=keys[(e, "rds")])
PY
ao=$root/target/debug/airlock-online
[[ -x $ao ]] || cargo build -q --manifest-path crates/airlock-online/Cargo.toml --target-dir target --locked
t0=$(date +%s%N)
rc=0
"$ao" --kms-endpoint-url http://127.0.0.1:4566 --inventory-endpoint-url http://127.0.0.1:5000 report --plan "$work/plan.json" --json >"$work/report.json" || rc=$?
t1=$(date +%s%N)
echo "airlock-online report: $(jq '.resources | length' "$work/report.json") resources in $(((t1 - t0) / 1000000)) ms (exit $rc, $(jq -c .summary "$work/report.json"))"
if [[ ${2:-} == --bash-too && -x $cs/compliance-report.sh ]]; then
    t0=$(date +%s%N)
    rc=0
    bash "$cs/compliance-report.sh" --json --all >"$work/bash.json" 2>/dev/null || rc=$?
    t1=$(date +%s%N)
    echo "compliance-report.sh: $(jq '.resources | length' "$work/bash.json") resources in $(((t1 - t0) / 1000000)) ms (exit $rc)"
fi
