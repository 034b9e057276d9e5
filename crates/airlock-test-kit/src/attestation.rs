//! A filled-in attestation input: the values a verified bundle gives,
//! for tests of the PDF alone (the end-to-end tests build a real bundle).

use airlock_attest::{AttestationInput, CustodianLine, HsmLine, KeyLine, Paper, WipeResult};

/// A plausible attestation input with `keys` keys.
pub fn sample(keys: usize) -> AttestationInput {
    AttestationInput {
        paper: Paper::A4,
        ceremony_id: "0b7e3c1a-5d2f-4c8e-9a61-3f2d1e0c9b8a".into(),
        request_id: "2026-11-28-prod-rotation".into(),
        started_at: "2026-11-28T09:00:00Z".into(),
        completed_at: "2026-11-28T09:12:34Z".into(),
        hostname: "airlock-ws-1".into(),
        air_gapped: true,
        network_override: false,
        sha1_override: false,
        sha1_keys: vec![],
        hsm: HsmLine {
            module_sha256: "ab".repeat(32),
            manufacturer: "Kryoptic Project".into(),
            model: "v1".into(),
            serial: "f8c57de3fa908d55".into(),
            token_label: "airlock".into(),
            wrap_path: "CKM_RSA_PKCS_OAEP".into(),
        },
        custodians: vec![
            CustodianLine {
                name: "alice".into(),
                authenticated_at: "2026-11-28T09:03:00Z".into(),
            },
            CustodianLine {
                name: "bob".into(),
                authenticated_at: "2026-11-28T09:04:10Z".into(),
            },
        ],
        request_signer_name: "online-signer".into(),
        request_signer_fingerprint:
            "3a0bba2acaaf324ed20048e5549c387ed83a339c2201ee2a050c74d4fa6caf7f".into(),
        request_sums_sha256: "7ad465f0237d6c7c92bb2c11c9e0a2ba49a90af85939d4401aaee7c6d727962d"
            .into(),
        bundle_sums_sha256: "b6efbbefa0501eea13e8f698d358d2490269d562046afefaa5d8d79623315bd5"
            .into(),
        keys: (0..keys)
            .map(|i| KeyLine {
                name: format!("prod-key-{i}"),
                alias: format!("alias/prod-key-{i}"),
                key_spec: "SYMMETRIC_DEFAULT".into(),
                wrapping_algorithm: "RSAES_OAEP_SHA_256".into(),
                kcv: Some(format!("{:06X}", 0xA00000 + i)),
                material_sha256_prefix: format!("{:016x}", 0x2dbe_a2ce_60bb_0000u64 + i as u64),
                replicas: Vec::new(),
            })
            .collect(),
        ceremony_key_fingerprint:
            "f8be3961947b0dc5bb550c2cfbc777ad32882fdfbb595744e1a16a30c534dcbb".into(),
        journal_head_sha256: "ffa81c99a0f7faaa51da2945401738aa5d57daab31594bc612d3d099216c92e6"
            .into(),
        journal_entries: 36,
        wipe: WipeResult::InWorkstationJournal,
        seal_serials: vec!["TE-000123".into()],
        no_bags_confirmed: false,
    }
}
