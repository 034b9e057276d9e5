"""Checks airlock_key_rotation_rule.evaluate against a real KMS endpoint
(LocalStack in tests/online/run.sh): argv = replaced-key ARN, rotated-key
ARN, a non-BYOK key ARN. Prints one line per case and exits 1 on a mismatch."""
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(__file__))
from airlock_key_rotation_rule import evaluate, key_ref_of  # noqa: E402

replaced, rotated, plain = sys.argv[1:4]
kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL_KMS"], region_name="eu-west-1")
cases = [
    (replaced, {}, "NON_COMPLIANT"),
    (rotated, {}, "COMPLIANT"),
    (rotated, {"now": 4102444800.0, "max_age_days": 30}, "NON_COMPLIANT"),
    (plain, {}, "NOT_APPLICABLE"),
    (plain, {"require_byok": True}, "NON_COMPLIANT"),
    (None, {}, "NOT_APPLICABLE"),
    ("arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-4000-8000-000000000000", {}, "NON_COMPLIANT"),
]
bad = 0
for ref, kw, want in cases:
    got, note = evaluate(ref, kms, **kw)
    print(f"{'ok' if got == want else 'MISMATCH'}: {ref} {kw} -> {got} ({note})")
    bad += got != want
item = {"resourceType": "AWS::RDS::DBInstance", "configuration": {"storageEncrypted": True, "kmsKeyId": replaced}}
if key_ref_of(item) != replaced:
    print("MISMATCH: key_ref_of(RDS item)")
    bad += 1
ddb = {"resourceType": "AWS::DynamoDB::Table",
       "configuration": {"ssedescription": {"status": "ENABLED", "sseType": "KMS", "kmsmasterKeyArn": rotated}}}
if key_ref_of(ddb) != rotated:
    print("MISMATCH: key_ref_of(DynamoDB item) must read configuration.ssedescription.kmsmasterKeyArn")
    bad += 1
sys.exit(1 if bad else 0)
