//! `--cloudtrail-days N`: counts Decrypt and GenerateDataKey* events per
//! key and key material id (`additionalEventData.keyMaterialId`) over the
//! last N days with CloudTrail LookupEvents, to show old material (or a
//! replaced key) still in use before anything is deleted.

use std::collections::BTreeMap;

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;

use crate::aws::Clients;
use crate::error::{Error, Result, sdk_detail};

/// (key ARN, key material id or "unknown") -> number of events.
pub type Usage = BTreeMap<(String, String), u64>;

/// Adds one CloudTrailEvent document to `usage`.
pub fn count_event(usage: &mut Usage, event_json: &str) {
    let Ok(e) = serde_json::from_str::<Value>(event_json) else {
        return;
    };
    let material = e
        .pointer("/additionalEventData/keyMaterialId")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    for r in e
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(arn) = r.get("ARN").and_then(Value::as_str)
            && arn.contains(":key/")
        {
            *usage
                .entry((arn.to_string(), material.clone()))
                .or_default() += 1;
        }
    }
}

/// Looks up the events of the last `days` days.
pub async fn usage(c: &Clients, days: u32) -> Result<Usage> {
    let mut usage = Usage::new();
    let start = aws_sdk_cloudtrail::primitives::DateTime::from_secs(
        time::OffsetDateTime::now_utc().unix_timestamp() - i64::from(days) * 86_400,
    );
    for name in [
        "Decrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
    ] {
        let attr = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(name)
            .build()
            .map_err(|e| Error::refused(crate::exit::Exit::Aws, e.to_string()))?;
        let mut pages = c
            .cloudtrail
            .lookup_events()
            .lookup_attributes(attr)
            .start_time(start)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| Error::Aws {
                call: "cloudtrail:LookupEvents",
                what: format!("{name} events"),
                detail: sdk_detail(&e),
            })?;
            for ev in p.events.unwrap_or_default() {
                if let Some(j) = ev.cloud_trail_event {
                    count_event(&mut usage, &j);
                }
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_per_key_and_material() {
        // The shape of a CloudTrail Decrypt record with imported material.
        let ev = r#"{"eventName":"Decrypt","resources":[{"accountId":"1","type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:1:key/k"}],"additionalEventData":{"keyMaterialId":"m-old"}}"#;
        let mut u = Usage::new();
        count_event(&mut u, ev);
        count_event(&mut u, ev);
        count_event(
            &mut u,
            r#"{"resources":[{"ARN":"arn:aws:kms:eu-west-1:1:key/k"}]}"#,
        );
        count_event(&mut u, "garbage");
        assert_eq!(
            u[&("arn:aws:kms:eu-west-1:1:key/k".into(), "m-old".into())],
            2
        );
        assert_eq!(
            u[&("arn:aws:kms:eu-west-1:1:key/k".into(), "unknown".into())],
            1
        );
        assert_eq!(u.len(), 2);
    }
}
