"""AWS Config custom rule (Lambda): is this resource on a rotated BYOK key?

It judges like `airlock-online report`: against the plan and the receipts,
never against tags. `airlock-online config-rule --plan FILE [--receipt-dir
DIR] --out DIR` writes this file into the Lambda's zip next to
`airlock_rule_knowledge.json` (format airlock-rule-knowledge/1), which
holds, by key ARN, the rotated keys (with the KeyMaterialId the receipt
recorded for on-demand keys and when it was imported), the keys they
replaced, the planned keys not rotated yet, and the plan's aliases. A
resource on a key (resolved to its ARN with kms:DescribeKey) is
  - COMPLIANT on a rotated key (new key with the alias switched, or an
    on-demand key whose CurrentKeyMaterialId is the imported one),
  - NON_COMPLIANT on a replaced key, on old material, on a planned key not
    yet imported (annotation "PENDING: ..."; AWS Config has no pending
    state), on a key that cannot be described (annotation "ERROR: ...";
    fail closed), or when the imported material is older than max_age_days
    (age from the receipt's import time, else the key's CreationDate),
  - NOT_APPLICABLE without a customer managed key, on an AWS managed key,
    a non-BYOK key or a BYOK key outside the plan (NON_COMPLIANT for the
    first three when require_byok is true).
A key behind one of the plan's aliases is "planned" (kms:ListAliases, once
per invocation) unless the knowledge says it is rotated or replaced.

Triggers: configuration-change (including oversized items, read back from
the configuration history) and periodic runs (every recorded resource of
the types below, so a rotation is seen without a change to the resource)
on AWS::S3::Bucket, AWS::DynamoDB::Table, AWS::RDS::DBInstance and
AWS::RDS::DBCluster. Rule parameters `require_byok` ("true"/"false") and
`max_age_days` override the knowledge file's values.

Python stdlib + boto3 only. Deploy: docs/online-runbook.md, "AWS Config rule".
"""

import datetime
import json
import os

import boto3

SUPPORTED = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
KNOWLEDGE_FORMAT = "airlock-rule-knowledge/1"
KNOWLEDGE_FILE = "airlock_rule_knowledge.json"


def load_knowledge(path=None):
    """The knowledge file config-rule wrote next to this module; refuses
    any other format (a rule that cannot know the plan must not judge)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), KNOWLEDGE_FILE)
    with open(path, encoding="utf-8") as f:
        return checked_knowledge(json.load(f), path)


def checked_knowledge(know, path="knowledge"):
    """`know` when it is an airlock-rule-knowledge/1 document, else ValueError."""
    if know.get("format") != KNOWLEDGE_FORMAT:
        raise ValueError(f"{path}: format {know.get('format')!r} is not {KNOWLEDGE_FORMAT!r}; "
                         "regenerate it with airlock-online config-rule")
    for field in ("rotated", "replaced", "planned", "aliases"):
        if not isinstance(know.get(field), dict):
            raise ValueError(f"{path}: field {field!r} is missing or not an object")
    return know


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
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


class AliasTargets:
    """The plan's aliases resolved to key ARNs with kms:ListAliases, once."""

    def __init__(self, kms, know):
        self.kms, self.know, self.arns = kms, know, None

    def planned(self, arn):
        """(name, environment) when `arn` is behind one of the plan's aliases."""
        if not self.know["aliases"]:
            return None
        if self.arns is None:
            self.arns = {}
            prefix = arn.split(":key/")[0] + ":key/"
            for page in self.kms.get_paginator("list_aliases").paginate():
                for a in page.get("Aliases", []):
                    target = a.get("TargetKeyId")
                    if a.get("AliasName") in self.know["aliases"] and target:
                        full = target if target.startswith("arn:") else prefix + target
                        self.arns[full] = self.know["aliases"][a["AliasName"]]
        p = self.arns.get(arn)
        return (p["name"], p["environment"]) if p else None


def evaluate(key_ref, kms, know, max_age_days=None, require_byok=False, now=None, aliases=None):
    """(compliance type, annotation) for a resource using key_ref, judged
    against `know` (load_knowledge), never against the key's tags."""
    now = now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp()

    def not_byok(why):
        if require_byok:
            return "NON_COMPLIANT", f"{why}; BYOK is required"
        return "NOT_APPLICABLE", why

    if key_ref is None:
        return not_byok("no customer managed KMS key")
    if key_ref.startswith("aws/"):
        key_ref = "alias/" + key_ref
    try:
        meta = kms.describe_key(KeyId=key_ref)["KeyMetadata"]
    except Exception as err:  # the key is gone or unreadable: fail closed
        return "NON_COMPLIANT", f"ERROR: key {key_ref} cannot be described: {type(err).__name__}"
    arn = meta["Arn"]
    rot = know["rotated"].get(arn)
    if rot:
        if rot["strategy"] == "on-demand":
            current = meta.get("CurrentKeyMaterialId")
            if not rot.get("material") or current != rot["material"]:
                return ("NON_COMPLIANT", f"on {rot['name']}'s key but its current material {current!r} "
                        f"is not the imported {rot.get('material')!r}")
        if max_age_days is not None:
            since = rot.get("imported_at") or meta["CreationDate"]
            age = (now - _epoch(since)) / 86400
            if age > max_age_days:
                return "NON_COMPLIANT", f"{rot['name']}'s material is {int(age)} days old (policy: {max_age_days})"
        how = "new key, alias switched" if rot["strategy"] == "alias-switch" else "current material is the imported one"
        return "COMPLIANT", f"on {rot['name']}'s rotated key ({how})"
    rep = know["replaced"].get(arn)
    if rep:
        return "NON_COMPLIANT", f"on {rep['name']}'s replaced key {arn}; move it to {rep['replaced_by']}"
    plan = know["planned"].get(arn)
    planned = (plan["name"], plan["environment"]) if plan else None
    if planned is None and meta.get("KeyManager") != "AWS":
        planned = (aliases or AliasTargets(kms, know)).planned(arn)
    if planned:
        return "NON_COMPLIANT", f"PENDING: on {planned[0]}'s key, planned but not yet imported"
    if meta.get("KeyManager") == "AWS":
        return not_byok(f"AWS managed key {arn}")
    if meta.get("Origin") != "EXTERNAL":
        return not_byok(f"customer key {arn} outside the plan, not BYOK ({meta.get('Origin')})")
    return "NOT_APPLICABLE", f"BYOK key {arn} outside the plan"


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


def _settings(params, know):
    """(max_age_days, require_byok): rule parameters over the knowledge file."""
    max_age = params.get("max_age_days", know.get("max_age_days"))
    max_age = int(max_age) if max_age not in (None, "") else None
    byok = params.get("require_byok", know.get("require_byok", False))
    return max_age, str(byok).lower() == "true"


def _judge(item, settings, kms_for, know, aliases_for):
    """(compliance type, annotation) for one configuration item."""
    if item.get("resourceType") not in SUPPORTED or item.get("configurationItemStatus") in (
        "ResourceDeleted",
        "ResourceDeletedNotRecorded",
    ):
        return "NOT_APPLICABLE", "not a supported resource, or deleted"
    region = item.get("awsRegion")
    max_age, require_byok = settings
    return evaluate(key_ref_of(item), kms_for(region), know, max_age, require_byok, aliases=aliases_for(region))


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


def lambda_handler(event, _context, clients=None, knowledge=None):
    """Entry point for AWS Config: configuration-change, oversized-change and
    periodic (scheduled) notifications. `clients` replaces boto3 in tests:
    a function (service, region) -> client; `knowledge` replaces the
    knowledge file."""
    client = clients or (lambda service, region=None: boto3.client(service, region_name=region))
    know = checked_knowledge(knowledge) if knowledge is not None else load_knowledge()
    kms_cache, alias_cache = {}, {}

    def kms_for(region):
        if region not in kms_cache:
            kms_cache[region] = client("kms", region)
        return kms_cache[region]

    def aliases_for(region):
        if region not in alias_cache:
            alias_cache[region] = AliasTargets(kms_for(region), know)
        return alias_cache[region]

    invoking = json.loads(event["invokingEvent"])
    settings = _settings(json.loads(event.get("ruleParameters") or "{}"), know)
    config = client("config")
    kind = invoking.get("messageType", "ConfigurationItemChangeNotification")

    def judge(item):
        return _judge(item, settings, kms_for, know, aliases_for)

    if kind == "ScheduledNotification":
        ordering = invoking["notificationCreationTime"]
        evaluations = [_evaluation(item, *judge(item), ordering) for item in _scheduled_items(config)]
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
        evaluations = [_evaluation(item, *judge(item), item["configurationItemCaptureTime"])]
    elif kind == "ConfigurationItemChangeNotification":
        item = _item_of(invoking["configurationItem"])
        evaluations = [_evaluation(item, *judge(item), item["configurationItemCaptureTime"])]
    else:
        raise ValueError(f"unexpected AWS Config messageType {kind!r}")
    for i in range(0, len(evaluations), BATCH):
        config.put_evaluations(
            Evaluations=evaluations[i : i + BATCH],
            ResultToken=event["resultToken"],
            TestMode=event["resultToken"] == "TESTMODE",
        )
    return [e["ComplianceType"] for e in evaluations]
