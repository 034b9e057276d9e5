"""AWS Config custom rule (Lambda): is this resource on a rotated BYOK key?

A per-resource check in the spirit of `airlock-online report` (which judges
against plan and receipts; this rule still reads the rotation tags), for AWS Config's
configuration-change triggers on AWS::S3::Bucket, AWS::DynamoDB::Table,
AWS::RDS::DBInstance and AWS::RDS::DBCluster. A resource is NON_COMPLIANT
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


def lambda_handler(event, _context):
    """Entry point for a configuration-change triggered AWS Config rule."""
    invoking = json.loads(event["invokingEvent"])
    params = json.loads(event.get("ruleParameters") or "{}")
    item = invoking["configurationItem"]
    max_age = int(params["max_age_days"]) if params.get("max_age_days") else None
    require_byok = str(params.get("require_byok", "false")).lower() == "true"
    if item.get("resourceType") not in SUPPORTED or item.get("configurationItemStatus") in ("ResourceDeleted", "ResourceDeletedNotRecorded"):
        compliance, note = "NOT_APPLICABLE", "not a supported resource, or deleted"
    else:
        kms = boto3.client("kms", region_name=item.get("awsRegion"))
        compliance, note = evaluate(key_ref_of(item), kms, max_age, require_byok)
    boto3.client("config").put_evaluations(
        Evaluations=[
            {
                "ComplianceResourceType": item["resourceType"],
                "ComplianceResourceId": item["resourceId"],
                "ComplianceType": compliance,
                "Annotation": note[:255],
                "OrderingTimestamp": item["configurationItemCaptureTime"],
            }
        ],
        ResultToken=event["resultToken"],
    )
    return compliance
