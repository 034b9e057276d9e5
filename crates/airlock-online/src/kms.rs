//! Thin, named wrappers over the KMS calls the subcommands share: key
//! metadata, alias targets, tags, the post-import test and the material
//! listing. Each maps an SDK failure to an `Error::Aws` that names the call
//! and the key.

use std::collections::BTreeMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyMetadata, Tag};

use crate::error::{Error, Result, sdk_code, sdk_detail};
use crate::exit::Exit;

/// Makes an `Error::Aws` for `call` about `what`.
pub fn aws_err<E, R>(
    call: &'static str,
    what: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    Error::Aws {
        call,
        what: what.to_string(),
        detail: sdk_detail(e),
    }
}

/// DescribeKey.
pub async fn describe(kms: &Client, key: &str, what: &str) -> Result<KeyMetadata> {
    let out = kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| aws_err("kms:DescribeKey", what, &e))?;
    out.key_metadata.ok_or_else(|| Error::Aws {
        call: "kms:DescribeKey",
        what: what.to_string(),
        detail: "the answer has no KeyMetadata".into(),
    })
}

/// Every alias name -> target key id in the account and region (ListAliases, paginated).
pub async fn alias_targets(kms: &Client) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut pages = kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err("kms:ListAliases", "the account's aliases", &e))?;
        for a in page.aliases.unwrap_or_default() {
            if let (Some(n), Some(t)) = (a.alias_name, a.target_key_id) {
                out.insert(n, t);
            }
        }
    }
    Ok(out)
}

/// The key id at the end of a key ARN (or the id itself).
pub fn key_id_of(arn_or_id: &str) -> &str {
    arn_or_id.rsplit('/').next().unwrap_or(arn_or_id)
}

/// Writes tags on a key.
pub async fn tag(kms: &Client, arn: &str, what: &str, tags: &[(&str, &str)]) -> Result<()> {
    let mut req = kms.tag_resource().key_id(arn);
    for (k, v) in tags {
        req = req.tags(
            Tag::builder()
                .tag_key(*k)
                .tag_value(*v)
                .build()
                .map_err(|e| Error::refused(Exit::Aws, format!("tag {k}: {e}")))?,
        );
    }
    req.send()
        .await
        .map_err(|e| aws_err("kms:TagResource", what, &e))?;
    Ok(())
}

/// The answer of ListKeyRotations with all key material, where KMS offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Materials {
    /// KMS answered: (KeyMaterialId, KeyMaterialDescription) pairs.
    Listed(Vec<(String, Option<String>)>),
    /// The endpoint does not implement the call (some emulators).
    Unsupported,
}

/// ListKeyRotations --include-key-material ALL_KEY_MATERIAL, every page;
/// None where the endpoint does not implement the call (some emulators).
async fn all_materials(
    kms: &Client,
    arn: &str,
    what: &str,
) -> Result<Option<Vec<aws_sdk_kms::types::RotationsListEntry>>> {
    let mut out = Vec::new();
    let mut pages = kms
        .list_key_rotations()
        .key_id(arn)
        .include_key_material(aws_sdk_kms::types::IncludeKeyMaterial::AllKeyMaterial)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(p.rotations.unwrap_or_default()),
            Err(e) if unsupported(&e) => return Ok(None),
            Err(e) => return Err(aws_err("kms:ListKeyRotations", what, &e)),
        }
    }
    Ok(Some(out))
}

/// Every key material of `arn` with its description.
pub async fn materials(kms: &Client, arn: &str, what: &str) -> Result<Materials> {
    Ok(match all_materials(kms, arn, what).await? {
        None => Materials::Unsupported,
        Some(list) => Materials::Listed(
            list.into_iter()
                .filter_map(|r| r.key_material_id.map(|id| (id, r.key_material_description)))
                .collect(),
        ),
    })
}

/// (KeyMaterialId, KeyMaterialState) for each material of `arn`; None
/// where the endpoint does not implement the call (some emulators).
pub async fn material_states(
    kms: &Client,
    arn: &str,
    what: &str,
) -> Result<Option<Vec<(String, Option<String>)>>> {
    Ok(all_materials(kms, arn, what).await?.map(|list| {
        list.into_iter()
            .filter_map(|r| {
                r.key_material_id
                    .map(|id| (id, r.key_material_state.map(|s| s.as_str().to_string())))
            })
            .collect()
    }))
}

/// KMS's limit on RotateKeyOnDemand per key over its life (AWS KMS
/// developer guide, "Perform on-demand key rotation": a maximum of 25 times
/// per KMS key; older pages said 10).
pub const ON_DEMAND_ROTATION_LIMIT: u32 = 25;

/// Warn when this many on-demand rotations or fewer are left.
pub const ROTATION_BUDGET_WARN: u32 = 5;

/// What ListKeyRotations said about one key's completed rotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotationCount {
    /// Rotations with RotationType ON_DEMAND.
    pub on_demand: u32,
    /// Rotations with RotationType AUTOMATIC (they do not use the budget).
    pub automatic: u32,
    /// Rotations without a RotationType (some emulators): counted as
    /// on-demand, so the budget shown is never larger than the real one.
    pub untyped: u32,
}

impl RotationCount {
    /// Counts completed rotations by the RotationType KMS gave each.
    pub fn of(types: &[Option<&str>]) -> Self {
        let mut c = RotationCount::default();
        for t in types {
            match t {
                Some("ON_DEMAND") => c.on_demand += 1,
                Some("AUTOMATIC") => c.automatic += 1,
                _ => c.untyped += 1,
            }
        }
        c
    }

    /// On-demand rotations used (untyped ones included).
    pub fn used(&self) -> u32 {
        self.on_demand + self.untyped
    }

    /// On-demand rotations left out of the limit.
    pub fn left(&self) -> u32 {
        ON_DEMAND_ROTATION_LIMIT.saturating_sub(self.used())
    }

    /// Whether few enough are left to warn.
    pub fn low(&self) -> bool {
        self.left() <= ROTATION_BUDGET_WARN
    }

    /// "3 used, 22 left of 25" (with the untyped ones named).
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} used, {} left of {ON_DEMAND_ROTATION_LIMIT} on-demand rotations",
            self.used(),
            self.left()
        );
        if self.untyped > 0 {
            s.push_str(&format!(
                " ({} without a RotationType, counted as on-demand)",
                self.untyped
            ));
        }
        s
    }
}

/// The completed rotations of a key, where KMS offers ListKeyRotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotations {
    /// KMS answered (every page read).
    Counted(RotationCount),
    /// The endpoint does not implement the call (some emulators).
    Unsupported,
}

/// ListKeyRotations (completed rotations only, every page), counted by type.
pub async fn rotations(kms: &Client, arn: &str, what: &str) -> Result<Rotations> {
    let mut types: Vec<Option<String>> = Vec::new();
    let mut pages = kms.list_key_rotations().key_id(arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                for r in p.rotations.unwrap_or_default() {
                    types.push(r.rotation_type.map(|t| t.as_str().to_string()));
                }
            }
            Err(e) => {
                if unsupported(&e) {
                    return Ok(Rotations::Unsupported);
                }
                return Err(aws_err("kms:ListKeyRotations", what, &e));
            }
        }
    }
    let refs: Vec<Option<&str>> = types.iter().map(|t| t.as_deref()).collect();
    Ok(Rotations::Counted(RotationCount::of(&refs)))
}

fn unsupported<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let code = sdk_code(e).unwrap_or_default();
    matches!(
        code.as_str(),
        "UnsupportedOperationException" | "InternalFailure" | "NotImplemented" | "InternalError"
    ) || code.is_empty() && sdk_detail(e).contains("not yet implemented")
}

/// Encrypts and decrypts a fresh probe under `arn` (symmetric), or makes and
/// verifies a MAC (HMAC), or signs and verifies (asymmetric signing keys).
pub async fn test_key(kms: &Client, arn: &str, name: &str, key_spec: &str) -> Result<()> {
    let probe = format!(
        "airlock post-import probe {name} {}",
        crate::receipt::now_rfc3339()
    );
    let fail = |m: &str| {
        Error::refused(
            Exit::KeyTest,
            format!("key {name} ({arn}): {m} after import; stop and investigate before going on"),
        )
    };
    if key_spec == "SYMMETRIC_DEFAULT" {
        let ct = kms
            .encrypt()
            .key_id(arn)
            .encryption_context(crate::iam::TEST_CONTEXT_KEY, crate::iam::TEST_CONTEXT_VALUE)
            .plaintext(Blob::new(probe.as_bytes()))
            .send()
            .await
            .map_err(|e| aws_err("kms:Encrypt", name, &e))?
            .ciphertext_blob
            .ok_or_else(|| fail("encrypt returned no ciphertext"))?;
        let pt = kms
            .decrypt()
            .key_id(arn)
            .encryption_context(crate::iam::TEST_CONTEXT_KEY, crate::iam::TEST_CONTEXT_VALUE)
            .ciphertext_blob(ct)
            .send()
            .await
            .map_err(|e| aws_err("kms:Decrypt", name, &e))?
            .plaintext;
        if pt.as_ref().map(|b| b.as_ref()) != Some(probe.as_bytes()) {
            return Err(fail("decrypt did not give back the test plaintext"));
        }
        return Ok(());
    }
    if let Some(bits) = key_spec.strip_prefix("HMAC_") {
        let alg = aws_sdk_kms::types::MacAlgorithmSpec::from(format!("HMAC_SHA_{bits}").as_str());
        let mac = kms
            .generate_mac()
            .key_id(arn)
            .message(Blob::new(probe.as_bytes()))
            .mac_algorithm(alg.clone())
            .send()
            .await
            .map_err(|e| aws_err("kms:GenerateMac", name, &e))?
            .mac
            .ok_or_else(|| fail("generate-mac returned no MAC"))?;
        let ok = kms
            .verify_mac()
            .key_id(arn)
            .message(Blob::new(probe.as_bytes()))
            .mac_algorithm(alg)
            .mac(mac)
            .send()
            .await
            .map_err(|e| aws_err("kms:VerifyMac", name, &e))?
            .mac_valid;
        return if ok {
            Ok(())
        } else {
            Err(fail("verify-mac failed"))
        };
    }
    // The signing algorithm comes from airlock-core's one key-spec table.
    let alg = airlock_core::spec::parse_key_spec(key_spec)
        .ok()
        .and_then(|k| k.test_signing_algorithm())
        .ok_or_else(|| {
            fail(&format!(
                "key spec {key_spec} has no test signing algorithm, so the key cannot be tested"
            ))
        })?;
    let alg = aws_sdk_kms::types::SigningAlgorithmSpec::from(alg);
    let sig = kms
        .sign()
        .key_id(arn)
        .message(Blob::new(probe.as_bytes()))
        .signing_algorithm(alg.clone())
        .send()
        .await
        .map_err(|e| aws_err("kms:Sign", name, &e))?
        .signature
        .ok_or_else(|| fail("sign returned no signature"))?;
    let ok = kms
        .verify()
        .key_id(arn)
        .message(Blob::new(probe.as_bytes()))
        .signing_algorithm(alg)
        .signature(sig)
        .send()
        .await
        .map_err(|e| aws_err("kms:Verify", name, &e))?
        .signature_valid;
    if ok {
        Ok(())
    } else {
        Err(fail("sign/verify failed"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn rotations_are_counted_by_type_and_untyped_ones_use_the_budget() {
        let c = RotationCount::of(&[Some("ON_DEMAND"), Some("AUTOMATIC"), Some("ON_DEMAND")]);
        assert_eq!((c.on_demand, c.automatic, c.untyped), (2, 1, 0));
        assert_eq!((c.used(), c.left()), (2, 23));
        assert!(!c.low());
        let c = RotationCount::of(&[None, Some("ON_DEMAND")]);
        assert_eq!((c.used(), c.left()), (2, 23));
        assert!(c.describe().contains("1 without a RotationType"));
        let twenty: Vec<Option<&str>> = vec![Some("ON_DEMAND"); 20];
        let c = RotationCount::of(&twenty);
        assert_eq!(c.left(), 5);
        assert!(c.low(), "5 left is the warning threshold");
        let c = RotationCount::of(&twenty[..19]);
        assert!(!c.low(), "6 left is not");
        let thirty: Vec<Option<&str>> = vec![Some("ON_DEMAND"); 30];
        assert_eq!(RotationCount::of(&thirty).left(), 0, "never below zero");
        assert_eq!(
            RotationCount::of(&[]).describe(),
            "0 used, 25 left of 25 on-demand rotations"
        );
    }

    /// A loopback HTTP server answering each request with the next of
    /// `answers` (status, JSON body): recorded KMS response shapes.
    pub(crate) fn replay(
        answers: Vec<(u16, String)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            let mut answers = answers.into_iter();
            'conn: for stream in l.incoming() {
                let stream = stream.unwrap();
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            continue 'conn;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    bodies.push(String::from_utf8(body).unwrap());
                    let Some((code, json)) = answers.next() else {
                        return bodies;
                    };
                    write!(
                        w,
                        "HTTP/1.1 {code} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{json}",
                        json.len()
                    )
                    .unwrap();
                    w.flush().unwrap();
                    if answers.len() == 0 {
                        return bodies;
                    }
                }
            }
            bodies
        });
        (url, h)
    }

    pub(crate) fn client(url: &str) -> Client {
        use aws_sdk_kms::config;
        Client::from_conf(
            config::Builder::new()
                .behavior_version(config::BehaviorVersion::latest())
                .region(config::Region::new("eu-west-1"))
                .endpoint_url(url)
                .credentials_provider(config::Credentials::new(
                    "AKIDTEST", "test", None, None, "test",
                ))
                .retry_config(config::retry::RetryConfig::disabled())
                .build(),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn list_key_rotations_is_read_page_by_page_and_counted_by_type() {
        // Shapes of the KMS API reference (ListKeyRotations): two pages.
        let page1 = r#"{"Rotations":[{"KeyId":"k","KeyMaterialId":"m1","RotationDate":1.7E9,"RotationType":"ON_DEMAND"},
            {"KeyId":"k","KeyMaterialId":"m2","RotationDate":1.71E9,"RotationType":"AUTOMATIC"}],"NextMarker":"p2","Truncated":true}"#;
        let page2 = r#"{"Rotations":[{"KeyId":"k","KeyMaterialId":"m3","RotationDate":1.72E9,"RotationType":"ON_DEMAND"},
            {"KeyId":"k","KeyMaterialId":"m4","RotationDate":1.73E9}],"Truncated":false}"#;
        let (url, h) = replay(vec![(200, page1.into()), (200, page2.into())]);
        let got = rotations(&client(&url), "arn:k", "key k").await.unwrap();
        let bodies = h.join().unwrap();
        assert_eq!(bodies.len(), 2, "both pages were asked for");
        assert!(bodies[1].contains("\"Marker\":\"p2\""), "{}", bodies[1]);
        assert!(
            !bodies[0].contains("IncludeKeyMaterial"),
            "completed rotations only"
        );
        let Rotations::Counted(n) = got else {
            panic!("{got:?}")
        };
        assert_eq!((n.on_demand, n.automatic, n.untyped), (2, 1, 1));
        assert_eq!(n.left(), 22);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_endpoint_without_list_key_rotations_is_unsupported_not_an_error() {
        // LocalStack 2026.3 (community) answers exactly this.
        let body = r#"{"__type":"InternalFailure","message":"The API for service kms is either not included in your current license plan or has not yet been emulated by LocalStack."}"#;
        let (url, h) = replay(vec![(501, body.into())]);
        let got = rotations(&client(&url), "arn:k", "key k").await.unwrap();
        h.join().unwrap();
        assert_eq!(got, Rotations::Unsupported);
        // A real refusal is an error that names the call.
        let denied = r#"{"__type":"AccessDeniedException","message":"not authorized"}"#;
        let (url, h) = replay(vec![(400, denied.into())]);
        let e = rotations(&client(&url), "arn:k", "key k")
            .await
            .unwrap_err();
        h.join().unwrap();
        assert!(e.to_string().contains("kms:ListKeyRotations"), "{e}");
        assert_eq!(e.exit(), Exit::Aws);
    }

    #[test]
    fn key_ids_from_arns() {
        assert_eq!(key_id_of("arn:aws:kms:eu-west-1:1:key/abc-def"), "abc-def");
        assert_eq!(key_id_of("abc-def"), "abc-def");
    }
}
