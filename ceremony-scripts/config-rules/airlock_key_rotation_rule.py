"""AWS Config custom rule (Lambda): is this resource on a rotated BYOK key?

A per-resource check in the spirit of `airlock-online report` (which judges
against plan and receipts; this rule still reads the rotation tags), for AWS Config's
configuration-change triggers (including oversized items, read back from
the configuration history) and periodic runs (every recorded resource of
the types below, so a rotation is seen without a change to the resource)
on AWS::S3::Bucket, AWS::DynamoDB::Table, AWS::RDS::DBInstance and
AWS::RDS::DBCluster. A resource is NON_COMPLIANT
when its KMS key
  - was replaced by an alias-swap rotation (tag KeyRotationStatus=Replaced),
  - has no imported material yet (KeyRotationStatus=Pending),
  - is an EXTERNAL key whose material is older than max_age_days (rule
    parameter; tag LastKeyRotationDate, else the key's CreationDate),
  - cannot be described.
Resources without a customer managed key are NOT_APPLICABLE (or
NON_COMPLIANT when the rule parameter require_byok is "true").

Deploy: docs/online-runbook.md, "AWS Config rule".
"""

import datetime
import json

import boto3

SUPPORTED = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::RDS::DBInstance", "AWS::RDS::DBCluster")


def key_ref_of(item):
    """The KMS key id/ARN/alias a configuration item names, or None."""
    rtype = item.get("resourceType")
    conf = item.get("configuration") or {}
    supp = item.get("supplementaryConfiguration") or {}
    if rtype == "AWS::S3::Bucket":
        sse = supp.get("ServerSideEncryptionConfiguration") or {}
        if isinstance(sse, str):
            sse = json.loads(sse)
        for rule in sse.get("rules", sse.get("Rules", [])):
            d = rule.get("applyServerSideEncryptionByDefault", rule.get("ApplyServerSideEncryptionByDefault", {}))
            alg = d.get("sseAlgorithm", d.get("SSEAlgorithm", ""))
            if alg.startswith("aws:kms"):
                return d.get("kmsMasterKeyID", d.get("KMSMasterKeyID")) or "alias/aws/s3"
        return None
    if rtype == "AWS::DynamoDB::Table":
        # AWS Config items: configuration.ssedescription.kmsmasterKeyArn
        # (aws-config-resource-schema); the API's spelling as a fallback.
        sse = conf.get("ssedescription") or conf.get("SSEDescription") or {}
        if str(sse.get("status", sse.get("Status", ""))).upper() == "DISABLED":
            return None
        return sse.get("kmsmasterKeyArn") or sse.get("KMSMasterKeyArn")
    if rtype in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        if conf.get("storageEncrypted", conf.get("StorageEncrypted")):
            return conf.get("kmsKeyId", conf.get("KmsKeyId"))
        return None
    return None


def _epoch(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def evaluate(key_ref, kms, max_age_days=None, require_byok=False, now=None):
    """(compliance type, annotation) for a resource using key_ref."""
    now = now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp()
    if key_ref is None:
        if require_byok:
            return "NON_COMPLIANT", "not encrypted with a customer managed BYOK key; BYOK is required"
        return "NOT_APPLICABLE", "no customer managed KMS key"
    if key_ref.startswith("aws/"):
        key_ref = "alias/" + key_ref
    try:
        meta = kms.describe_key(KeyId=key_ref)["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["Arn"]).get("Tags", [])}
    except Exception as err:  # the key is gone or unreadable: that is the finding
        return "NON_COMPLIANT", f"key {key_ref} cannot be described: {type(err).__name__}"
    status = tags.get("KeyRotationStatus")
    if status == "Replaced":
        return "NON_COMPLIANT", f"key {meta['Arn']} was replaced by {tags.get('ReplacedBy', 'a new key')}"
    if meta.get("KeyManager") == "AWS" or meta.get("Origin") != "EXTERNAL":
        if require_byok:
            return "NON_COMPLIANT", f"key {meta['Arn']} is not a BYOK (EXTERNAL) key; BYOK is required"
        return "NOT_APPLICABLE", "key is not a BYOK (EXTERNAL) key"
    if status == "Pending":
        return "NON_COMPLIANT", f"key {meta['Arn']} has no imported material yet"
    if max_age_days is not None:
        since = tags.get("LastKeyRotationDate") or meta["CreationDate"]
        age = (now - _epoch(since)) / 86400
        if age > max_age_days:
            return "NON_COMPLIANT", f"key material is {int(age)} days old (policy: {max_age_days})"
    return "COMPLIANT", f"on BYOK key {meta['Arn']}"


# put_evaluations takes at most 100 evaluations a call; batch_get_resource_config
# at most 100 resource keys.
BATCH = 100


def _item_of(raw):
    """A configuration item as the rule reads it: the history and batch APIs
    give `configuration` (and supplementary values) as JSON strings, the
    change notification as objects."""
    item = dict(raw)
    conf = item.get("configuration")
    if isinstance(conf, str):
        item["configuration"] = json.loads(conf) if conf else {}
    supp = item.get("supplementaryConfiguration") or {}
    item["supplementaryConfiguration"] = {
        k: (json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v) for k, v in supp.items()
    }
    return item


def _judge(item, params, kms_for):
    """(compliance type, annotation) for one configuration item."""
    max_age = int(params["max_age_days"]) if params.get("max_age_days") else None
    require_byok = str(params.get("require_byok", "false")).lower() == "true"
    if item.get("resourceType") not in SUPPORTED or item.get("configurationItemStatus") in (
        "ResourceDeleted",
        "ResourceDeletedNotRecorded",
    ):
        return "NOT_APPLICABLE", "not a supported resource, or deleted"
    return evaluate(key_ref_of(item), kms_for(item.get("awsRegion")), max_age, require_byok)


def _evaluation(item, compliance, note, ordering):
    return {
        "ComplianceResourceType": item["resourceType"],
        "ComplianceResourceId": item["resourceId"],
        "ComplianceType": compliance,
        "Annotation": note[:255],
        "OrderingTimestamp": ordering,
    }


def _scheduled_items(config):
    """Every recorded resource of the supported types (a periodic run
    re-evaluates them all, so a rotation is seen without a change event)."""
    for rtype in SUPPORTED:
        keys = []
        for page in config.get_paginator("list_discovered_resources").paginate(resourceType=rtype):
            keys += [{"resourceType": rtype, "resourceId": r["resourceId"]} for r in page.get("resourceIdentifiers", [])]
        for i in range(0, len(keys), BATCH):
            got = config.batch_get_resource_config(resourceKeys=keys[i : i + BATCH])
            for raw in got.get("baseConfigurationItems", []):
                yield _item_of(raw)


def lambda_handler(event, _context, clients=None):
    """Entry point for AWS Config: configuration-change, oversized-change and
    periodic (scheduled) notifications. `clients` replaces boto3 in tests:
    a function (service, region) -> client."""
    client = clients or (lambda service, region=None: boto3.client(service, region_name=region))
    kms_cache = {}

    def kms_for(region):
        if region not in kms_cache:
            kms_cache[region] = client("kms", region)
        return kms_cache[region]

    invoking = json.loads(event["invokingEvent"])
    params = json.loads(event.get("ruleParameters") or "{}")
    config = client("config")
    kind = invoking.get("messageType", "ConfigurationItemChangeNotification")
    if kind == "ScheduledNotification":
        ordering = invoking["notificationCreationTime"]
        evaluations = []
        for item in _scheduled_items(config):
            compliance, note = _judge(item, params, kms_for)
            evaluations.append(_evaluation(item, compliance, note, ordering))
    elif kind == "OversizedConfigurationItemChangeNotification":
        # The item was too large for the event: read it from the history.
        summary = invoking["configurationItemSummary"]
        history = config.get_resource_config_history(
            resourceType=summary["resourceType"],
            resourceId=summary["resourceId"],
            laterTime=summary["configurationItemCaptureTime"],
            limit=1,
        )
        item = _item_of(history["configurationItems"][0])
        compliance, note = _judge(item, params, kms_for)
        evaluations = [_evaluation(item, compliance, note, item["configurationItemCaptureTime"])]
    elif kind == "ConfigurationItemChangeNotification":
        item = _item_of(invoking["configurationItem"])
        compliance, note = _judge(item, params, kms_for)
        evaluations = [_evaluation(item, compliance, note, item["configurationItemCaptureTime"])]
    else:
        raise ValueError(f"unexpected AWS Config messageType {kind!r}")
    for i in range(0, len(evaluations), BATCH):
        config.put_evaluations(
            Evaluations=evaluations[i : i + BATCH],
            ResultToken=event["resultToken"],
            TestMode=event["resultToken"] == "TESTMODE",
        )
    return [e["ComplianceType"] for e in evaluations]
