"""Drives airlock_key_rotation_rule.lambda_handler with AWS Config's three
notification kinds, shaped as AWS documents them (configuration-item
change, oversized change, scheduled), against recorded-shape fakes of the
Config and KMS clients: no emulator implements a Config rule's invocation,
so the event and response shapes are what is tested here (the KMS side of
`evaluate` is tested against LocalStack by rule-test.py). Items of all four
types are shaped like aws-config-resource-schema; the judgement uses a
knowledge document shaped like the one `airlock-online config-rule` writes,
and the fake KMS refuses ListResourceTags (the rule must not read tags).
Exits 1 on a mismatch."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from airlock_key_rotation_rule import lambda_handler  # noqa: E402

ACCOUNT = "111122223333"
ROTATED = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-1111-4111-8111-111111111111"
REPLACED = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/22222222-2222-4222-8222-222222222222"
ON_DEMAND = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/33333333-3333-4333-8333-333333333333"
PLANNED = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/44444444-4444-4444-8444-444444444444"
# What KMS says (DescribeKey): origin and current material. The rotation
# tags are set to lie on purpose: the rule must not read them.
KEYS = {
    ROTATED: ("EXTERNAL", "m-rotated"),
    REPLACED: ("EXTERNAL", None),
    ON_DEMAND: ("EXTERNAL", "m-imported"),
    PLANNED: ("EXTERNAL", None),
}
# What airlock-online config-rule generates from the plan and the receipts.
KNOWLEDGE = {
    "format": "airlock-rule-knowledge/1",
    "rotated": {
        ROTATED: {"name": "dev-dynamodb", "environment": "dev", "strategy": "alias-switch",
                  "material": "m-rotated", "imported_at": "2026-11-30T10:00:00Z"},
        ON_DEMAND: {"name": "dev-s3", "environment": "dev", "strategy": "on-demand",
                    "material": "m-imported", "imported_at": "2026-11-30T10:00:00Z"},
    },
    "replaced": {REPLACED: {"name": "dev-dynamodb", "environment": "dev", "replaced_by": ROTATED}},
    "planned": {},
    "aliases": {"alias/int-rds": {"name": "int-rds", "environment": "int"}},
}


class FakeKms:
    def __init__(self):
        self.alias_pages = 0

    def describe_key(self, KeyId):
        if KeyId not in KEYS:
            raise RuntimeError("NotFoundException")
        origin, material = KEYS[KeyId]
        meta = {"Arn": KeyId, "Origin": origin, "KeyManager": "CUSTOMER", "CreationDate": "2026-01-01T00:00:00+00:00"}
        if material:
            meta["CurrentKeyMaterialId"] = material
        return {"KeyMetadata": meta}

    def list_resource_tags(self, KeyId):
        raise AssertionError("the rule must not read tags")

    def get_paginator(self, name):
        assert name == "list_aliases", name
        kms = self

        class Pages:
            def paginate(self):
                kms.alias_pages += 1
                yield {"Aliases": [{"AliasName": "alias/int-rds", "TargetKeyId": PLANNED.split("/")[-1]},
                                   {"AliasName": "alias/aws/s3", "TargetKeyId": "aws-owned"}]}
        return Pages()


def table_item(name, key, as_string):
    """A DynamoDB table's configuration item (aws-config-resource-schema:
    configuration.ssedescription.kmsmasterKeyArn); the history and batch
    APIs carry `configuration` as a JSON string."""
    conf = {"tableName": name, "ssedescription": {"status": "ENABLED", "sseType": "KMS", "kmsmasterKeyArn": key}}
    return {
        "version": "1.3",
        "accountId": ACCOUNT,
        "configurationItemCaptureTime": "2026-12-01T10:00:00.000Z",
        "configurationItemStatus": "OK",
        "configurationStateId": "1733047200000",
        "arn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/{name}",
        "resourceType": "AWS::DynamoDB::Table",
        "resourceId": name,
        "resourceName": name,
        "awsRegion": "eu-west-1",
        "configuration": json.dumps(conf) if as_string else conf,
        "supplementaryConfiguration": {},
    }


def item(rtype, rid, arn, conf, supp=None):
    """A configuration item of `rtype` (aws-config-resource-schema shapes)."""
    return {"version": "1.3", "accountId": ACCOUNT, "configurationItemCaptureTime": "2026-12-01T10:00:00.000Z",
            "configurationItemStatus": "OK", "configurationStateId": "1733047200000", "arn": arn,
            "resourceType": rtype, "resourceId": rid, "resourceName": rid, "awsRegion": "eu-west-1",
            "configuration": conf, "supplementaryConfiguration": supp or {}}


def bucket_item(name, key, as_string):
    """An S3 bucket: supplementaryConfiguration.ServerSideEncryptionConfiguration
    (a JSON string in the history and batch APIs)."""
    sse = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": key},
                      "bucketKeyEnabled": True}]}
    return item("AWS::S3::Bucket", name, f"arn:aws:s3:::{name}", {"name": name, "owner": {"id": "x"}},
                {"ServerSideEncryptionConfiguration": json.dumps(sse) if as_string else sse})


def rds_item(rtype, name, key):
    conf = {"dBInstanceIdentifier": name, "storageEncrypted": key is not None, "kmsKeyId": key}
    kind = "db" if rtype == "AWS::RDS::DBInstance" else "cluster"
    return item(rtype, f"db-{name.upper()}", f"arn:aws:rds:eu-west-1:{ACCOUNT}:{kind}:{name}", conf)


class FakePaginator:
    def __init__(self, tables):
        self.tables = tables

    def paginate(self, resourceType):
        ids = [{"resourceType": resourceType, "resourceId": t} for t in self.tables] \
            if resourceType == "AWS::DynamoDB::Table" else []
        for i in range(0, max(len(ids), 1), 60):
            yield {"resourceIdentifiers": ids[i:i + 60]}


class FakeConfig:
    def __init__(self, tables):
        self.tables = tables
        self.put = []
        self.batch_sizes = []

    def get_paginator(self, name):
        assert name == "list_discovered_resources", name
        return FakePaginator(self.tables)

    def batch_get_resource_config(self, resourceKeys):
        assert len(resourceKeys) <= 100, "batch_get_resource_config takes at most 100 keys"
        self.batch_sizes.append(len(resourceKeys))
        return {"baseConfigurationItems": [table_item(k["resourceId"], self.tables[k["resourceId"]], True)
                                           for k in resourceKeys], "unprocessedResourceKeys": []}

    def get_resource_config_history(self, resourceType, resourceId, laterTime, limit):
        assert limit == 1 and resourceType == "AWS::DynamoDB::Table"
        return {"configurationItems": [table_item(resourceId, self.tables[resourceId], True)]}

    def put_evaluations(self, Evaluations, ResultToken, TestMode=False):
        assert len(Evaluations) <= 100, "put_evaluations takes at most 100 evaluations"
        assert ResultToken == "token-1"
        self.put.append(Evaluations)
        return {"FailedEvaluations": []}


def run(invoking, tables, params="{}", knowledge=KNOWLEDGE):
    config, kms = FakeConfig(tables), FakeKms()
    clients = lambda service, region=None: config if service == "config" else kms  # noqa: E731
    event = {"invokingEvent": json.dumps(invoking), "ruleParameters": params, "resultToken": "token-1",
             "eventLeftScope": False, "configRuleName": "airlock-key-rotation", "accountId": ACCOUNT}
    got = lambda_handler(event, None, clients=clients, knowledge=knowledge)
    config.kms = kms
    return got, config


def change(ci):
    return {"configurationItem": ci, "messageType": "ConfigurationItemChangeNotification",
            "notificationCreationTime": "2026-12-01T10:00:05.000Z", "recordVersion": "1.3"}


bad = 0


def expect(what, ok):
    global bad
    print(f"{'ok' if ok else 'MISMATCH'}: {what}")
    bad += not ok


tables = {"orders": ROTATED, "legacy": REPLACED}
got, cfg = run({"configurationItem": table_item("legacy", REPLACED, False),
                "messageType": "ConfigurationItemChangeNotification",
                "notificationCreationTime": "2026-12-01T10:00:05.000Z", "recordVersion": "1.3"}, tables)
expect("a change notification on a replaced key is NON_COMPLIANT", got == ["NON_COMPLIANT"])
expect("it is put with the item's capture time",
       cfg.put[0][0]["OrderingTimestamp"] == "2026-12-01T10:00:00.000Z")

got, cfg = run({"configurationItemSummary": {
    "changeType": "UPDATE", "configurationItemVersion": "1.3",
    "configurationItemCaptureTime": "2026-12-01T10:00:00.000Z", "configurationStateId": 1733047200000,
    "awsAccountId": ACCOUNT, "configurationItemStatus": "OK", "resourceType": "AWS::DynamoDB::Table",
    "resourceId": "orders", "resourceName": "orders",
    "ARN": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders", "awsRegion": "eu-west-1",
    "availabilityZone": "Not Applicable", "configurationStateMd5Hash": ""},
    "s3DeliverySummary": {"s3BucketLocation": "bucket/key", "errorCode": None, "errorMessage": None},
    "messageType": "OversizedConfigurationItemChangeNotification",
    "notificationCreationTime": "2026-12-01T10:00:05.000Z", "recordVersion": "1.0"}, tables)
expect("an oversized notification is read from the history and judged (rotated: COMPLIANT)",
       got == ["COMPLIANT"])

many = {f"t{i:03d}": (ROTATED if i % 3 else REPLACED) for i in range(250)}
got, cfg = run({"awsAccountId": ACCOUNT, "notificationCreationTime": "2026-12-02T00:00:00.000Z",
                "messageType": "ScheduledNotification", "recordVersion": "1.0"}, many)
expect("a scheduled run judges every recorded table", len(got) == 250)
expect("... replaced keys NON_COMPLIANT, rotated COMPLIANT",
       got.count("NON_COMPLIANT") == sum(1 for k in many.values() if k == REPLACED)
       and got.count("COMPLIANT") == sum(1 for k in many.values() if k == ROTATED))
expect("... in batches of at most 100 (reads and evaluations)",
       max(cfg.batch_sizes) <= 100 and [len(p) for p in cfg.put] == [100, 100, 50])
expect("... ordered by the notification's time",
       all(e["OrderingTimestamp"] == "2026-12-02T00:00:00.000Z" for p in cfg.put for e in p))

for what, ci, want in [
    ("an S3 bucket on the on-demand key with its imported material", bucket_item("b1", ON_DEMAND, False), "COMPLIANT"),
    ("an S3 bucket through a replaced key (supplementary value as a JSON string)", bucket_item("b2", REPLACED, True),
     "NON_COMPLIANT"),
    ("an RDS instance on the rotated key", rds_item("AWS::RDS::DBInstance", "db1", ROTATED), "COMPLIANT"),
    ("an Aurora cluster on the replaced key", rds_item("AWS::RDS::DBCluster", "c1", REPLACED), "NON_COMPLIANT"),
    ("an unencrypted RDS instance", rds_item("AWS::RDS::DBInstance", "db2", None), "NOT_APPLICABLE"),
    ("an RDS instance on a key behind a planned alias (PENDING)", rds_item("AWS::RDS::DBInstance", "db3", PLANNED),
     "NON_COMPLIANT"),
    ("a key that cannot be described (ERROR, fail closed)",
     rds_item("AWS::RDS::DBInstance", "db4", ROTATED.replace("1111", "9999")), "NON_COMPLIANT"),
]:
    got, cfg = run(change(ci), tables)
    expect(f"{what}: {want}", got == [want])
got, cfg = run(change(rds_item("AWS::RDS::DBInstance", "db3", PLANNED)), tables)
expect("... the pending one says PENDING", cfg.put[0][0]["Annotation"].startswith("PENDING: on int-rds's key"))
stale = json.loads(json.dumps(KNOWLEDGE))
stale["rotated"][ON_DEMAND]["material"] = "m-older"
got, _ = run(change(bucket_item("b1", ON_DEMAND, False)), tables, knowledge=stale)
expect("an on-demand key whose current material is not the imported one is NON_COMPLIANT", got == ["NON_COMPLIANT"])
got, _ = run(change(bucket_item("b1", ON_DEMAND, False)), tables, params='{"max_age_days": "1"}')
expect("max_age_days (rule parameter) against the receipt's import time: too old is NON_COMPLIANT",
       got == ["NON_COMPLIANT"])
got, _ = run(change(bucket_item("b1", ON_DEMAND, False)), tables, params='{"max_age_days": "100000"}')
expect("... and young enough is COMPLIANT", got == ["COMPLIANT"])
sse_s3 = bucket_item("b3", None, False)
sse_s3["supplementaryConfiguration"]["ServerSideEncryptionConfiguration"] = {
    "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}
got, _ = run(change(sse_s3), tables)
expect("an SSE-S3 bucket is NOT_APPLICABLE", got == ["NOT_APPLICABLE"])
got, _ = run(change(sse_s3), tables, params='{"require_byok": "true"}')
expect("... and NON_COMPLIANT when require_byok is true", got == ["NON_COMPLIANT"])
try:
    run(change(sse_s3), tables, knowledge={"format": "airlock-rule-knowledge/0"})
    expect("a knowledge file of another format is refused", False)
except (ValueError, KeyError):
    expect("a knowledge file of another format is refused", True)

try:
    run({"messageType": "SomethingElse"}, tables)
    expect("an unknown messageType is refused", False)
except ValueError:
    expect("an unknown messageType is refused", True)

sys.exit(1 if bad else 0)
