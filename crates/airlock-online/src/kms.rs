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

/// ListKeyRotations --include-key-material ALL_KEY_MATERIAL.
pub async fn materials(kms: &Client, arn: &str, what: &str) -> Result<Materials> {
    let mut out = Vec::new();
    let mut pages = kms
        .list_key_rotations()
        .key_id(arn)
        .include_key_material(aws_sdk_kms::types::IncludeKeyMaterial::AllKeyMaterial)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                for r in p.rotations.unwrap_or_default() {
                    if let Some(id) = r.key_material_id {
                        out.push((id, r.key_material_description));
                    }
                }
            }
            Err(e) => {
                let code = sdk_code(&e).unwrap_or_default();
                if matches!(
                    code.as_str(),
                    "UnsupportedOperationException"
                        | "InternalFailure"
                        | "NotImplemented"
                        | "InternalError"
                ) || code.is_empty() && sdk_detail(&e).contains("not yet implemented")
                {
                    return Ok(Materials::Unsupported);
                }
                return Err(aws_err("kms:ListKeyRotations", what, &e));
            }
        }
    }
    Ok(Materials::Listed(out))
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
mod tests {
    use super::*;

    #[test]
    fn key_ids_from_arns() {
        assert_eq!(key_id_of("arn:aws:kms:eu-west-1:1:key/abc-def"), "abc-def");
        assert_eq!(key_id_of("abc-def"), "abc-def");
    }
}
