"""Drives airlock_key_rotation_rule.lambda_handler with AWS Config's three
notification kinds, shaped as AWS documents them (configuration-item
change, oversized change, scheduled), against recorded-shape fakes of the
Config and KMS clients: no emulator implements a Config rule's invocation,
so the event and response shapes are what is tested here (the KMS side of
`evaluate` is tested against LocalStack by rule-test.py). Exits 1 on a
mismatch."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from airlock_key_rotation_rule import lambda_handler  # noqa: E402

ACCOUNT = "111122223333"
ROTATED = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-1111-4111-8111-111111111111"
REPLACED = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/22222222-2222-4222-8222-222222222222"
KEYS = {
    ROTATED: ({"KeyRotationStatus": "Rotated"}, "EXTERNAL"),
    REPLACED: ({"KeyRotationStatus": "Replaced", "ReplacedBy": ROTATED}, "EXTERNAL"),
}


class FakeKms:
    def describe_key(self, KeyId):
        if KeyId not in KEYS:
            raise RuntimeError("NotFoundException")
        return {"KeyMetadata": {"Arn": KeyId, "Origin": KEYS[KeyId][1], "KeyManager": "CUSTOMER",
                                "CreationDate": "2026-01-01T00:00:00+00:00"}}

    def list_resource_tags(self, KeyId):
        return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in KEYS[KeyId][0].items()]}


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


def run(invoking, tables):
    config, kms = FakeConfig(tables), FakeKms()
    clients = lambda service, region=None: config if service == "config" else kms  # noqa: E731
    event = {"invokingEvent": json.dumps(invoking), "ruleParameters": "{}", "resultToken": "token-1",
             "eventLeftScope": False, "configRuleName": "airlock-key-rotation", "accountId": ACCOUNT}
    return lambda_handler(event, None, clients=clients), config


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

try:
    run({"messageType": "SomethingElse"}, tables)
    expect("an unknown messageType is refused", False)
except ValueError:
    expect("an unknown messageType is refused", True)

sys.exit(1 if bad else 0)
