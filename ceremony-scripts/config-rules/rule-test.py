"""Checks the Config rule's evaluate() against a real KMS endpoint
(LocalStack in tests/online/run.sh), judged with the knowledge files that
`airlock-online config-rule` wrote, importing the rule from the folder it
wrote (so the shipped copy is what runs). argv: the rule folder made with
the receipts, one made without, the replaced-key ARN, a rotated on-demand
key ARN, a rotated new-key ARN, a non-BYOK key ARN. Prints one line per
case and exits 1 on a mismatch."""
import os
import sys

import boto3

with_receipts, without_receipts, replaced, on_demand, new_key, plain = sys.argv[1:7]
sys.path.insert(0, os.path.join(with_receipts, "lambda"))
from airlock_key_rotation_rule import evaluate, key_ref_of, load_knowledge  # noqa: E402

know = load_knowledge(os.path.join(with_receipts, "lambda", "airlock_rule_knowledge.json"))
bare = load_knowledge(os.path.join(without_receipts, "lambda", "airlock_rule_knowledge.json"))
kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL_KMS"], region_name="eu-west-1")
bad = 0


def expect(what, ok):
    global bad
    print(f"{'ok' if ok else 'MISMATCH'}: {what}")
    bad += not ok


# Tags that lie: the rotated key says Replaced, the replaced key says Rotated.
kms.tag_resource(KeyId=on_demand, Tags=[{"TagKey": "KeyRotationStatus", "TagValue": "Replaced"}])
kms.tag_resource(KeyId=replaced, Tags=[{"TagKey": "KeyRotationStatus", "TagValue": "Rotated"}])
try:
    cases = [
        (replaced, know, {}, "NON_COMPLIANT", "replaced key (tagged Rotated)"),
        (on_demand, know, {}, "COMPLIANT", "on-demand key with the imported material (tagged Replaced)"),
        (new_key, know, {}, "COMPLIANT", "new key behind the switched alias"),
        (on_demand, know, {"now": 4102444800.0, "max_age_days": 30}, "NON_COMPLIANT", "material older than 30 days"),
        (on_demand, bare, {}, "NON_COMPLIANT", "without receipts the key behind a planned alias is PENDING"),
        (plain, know, {}, "NOT_APPLICABLE", "non-BYOK key outside the plan"),
        (plain, know, {"require_byok": True}, "NON_COMPLIANT", "non-BYOK key with require_byok"),
        (None, know, {}, "NOT_APPLICABLE", "no key"),
        ("arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-4000-8000-000000000000", know, {}, "NON_COMPLIANT",
         "a key that cannot be described"),
    ]
    for ref, k, kw, want, what in cases:
        got, note = evaluate(ref, kms, k, **kw)
        expect(f"{what}: {got} ({note})", got == want)
    got, note = evaluate(on_demand, kms, bare)
    expect("... and says PENDING", note.startswith("PENDING: "))
    stale = dict(know, rotated={a: dict(r, material="not-the-current-one") for a, r in know["rotated"].items()})
    got, note = evaluate(on_demand, kms, stale)
    expect(f"an on-demand key whose current material is not the receipt's: {got} ({note})", got == "NON_COMPLIANT")
finally:
    kms.untag_resource(KeyId=on_demand, TagKeys=["KeyRotationStatus"])
    kms.untag_resource(KeyId=replaced, TagKeys=["KeyRotationStatus"])
item = {"resourceType": "AWS::RDS::DBInstance", "configuration": {"storageEncrypted": True, "kmsKeyId": replaced}}
expect("key_ref_of(RDS item)", key_ref_of(item) == replaced)
ddb = {"resourceType": "AWS::DynamoDB::Table",
       "configuration": {"ssedescription": {"status": "ENABLED", "sseType": "KMS", "kmsmasterKeyArn": on_demand}}}
expect("key_ref_of(DynamoDB item) reads configuration.ssedescription.kmsmasterKeyArn", key_ref_of(ddb) == on_demand)
sys.exit(1 if bad else 0)
