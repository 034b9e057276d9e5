//! Changes to the trust store (who may sign requests) as quorum
//! operations: once custodians are enrolled, adding, removing or sealing
//! request signers needs M custodians in one HSM session; the new store is
//! sealed by the HSM and the change, with every signer the seal now
//! covers, is journaled in the workstation journal. Before enrolment a
//! signer can be added for `airlock request verify`, but the store stays
//! unsealed and no ceremony will trust it until a quorum seals it.

use airlock_core::config::AirlockConfig;
use airlock_core::quorum::ROSTER_FILE_NAME;
use airlock_core::signature::SignerKey;
use airlock_core::trust::{SignerName, TrustStore};
use serde::Serialize;

use crate::enroll::{CustodianSecret, with_quorum_session};
use crate::error::CeremonyError;
use crate::state_auth::{TRUST_STORE_REL, seal_file};

/// One signer as listed in a trust change.
#[derive(Debug, Clone, Serialize)]
pub struct SignerSummary {
    /// Its name.
    pub name: String,
    /// RSA modulus size.
    pub bits: usize,
    /// SHA-256 of its SPKI.
    pub fingerprint: String,
}

/// What a trust change did.
#[derive(Debug, Clone, Serialize)]
pub struct TrustChange {
    /// `add`, `remove` or `seal`.
    pub action: &'static str,
    /// The signer added or removed (none for `seal`).
    pub signer: Option<SignerSummary>,
    /// Every signer in the store afterwards (what the seal covers).
    pub signers: Vec<SignerSummary>,
    /// True when the HSM sealed the store (a quorum did it).
    pub sealed: bool,
}

fn summary(name: &SignerName, key: &SignerKey) -> SignerSummary {
    SignerSummary {
        name: name.to_string(),
        bits: key.bits(),
        fingerprint: key.fingerprint().to_hex(),
    }
}

fn all(store: &TrustStore) -> Vec<SignerSummary> {
    store
        .signers()
        .iter()
        .map(|s| summary(&s.name, &s.key))
        .collect()
}

/// True when custodians are enrolled on this workstation (trust changes
/// then need the quorum).
pub fn quorum_enrolled(config: &AirlockConfig) -> bool {
    config.state_dir.join(ROSTER_FILE_NAME).exists()
}

/// Runs `edit` on the trust store: with a quorum when custodians are
/// enrolled (then the store is sealed and the change journaled), alone
/// only before enrolment (the store stays unsealed).
fn change(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    action: &'static str,
    edit: impl FnOnce(&mut TrustStore) -> Result<Option<SignerSummary>, CeremonyError>,
) -> Result<TrustChange, CeremonyError> {
    if !quorum_enrolled(config) {
        if action == "seal" {
            return Err(CeremonyError::OutOfOrder {
                step: "seal the trust store",
                needs: "enrol the custodians (`airlock enroll`)",
            });
        }
        let mut store = TrustStore::open(&config.state_dir)?;
        let signer = edit(&mut store)?;
        store.save()?;
        return Ok(TrustChange {
            action,
            signer,
            signers: all(&store),
            sealed: false,
        });
    }
    if current.is_empty() {
        return Err(CeremonyError::Quorum(
            airlock_core::quorum::QuorumError::QuorumNotMet {
                have: 0,
                need: 2,
                who: "none: trust-store changes need M custodians (--custodian NAME[=@FILE])"
                    .into(),
            },
        ));
    }
    let state_dir = config.state_dir.clone();
    with_quorum_session(config, current, |session, key| {
        let mut store = TrustStore::open(&state_dir)?;
        let signer = edit(&mut store)?;
        store.save()?;
        seal_file(session, key, &state_dir, TRUST_STORE_REL)?;
        Ok(TrustChange {
            action,
            signer,
            signers: all(&store),
            sealed: true,
        })
    })
}

/// `airlock trust add-signer`.
pub fn add_signer(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    name: SignerName,
    key: SignerKey,
) -> Result<TrustChange, CeremonyError> {
    change(config, current, "add", |store| {
        let now = time::OffsetDateTime::now_utc();
        let added = store.add(name, key, now)?;
        Ok(Some(summary(&added.name, &added.key)))
    })
}

/// `airlock trust remove`.
pub fn remove_signer(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    name: &str,
) -> Result<TrustChange, CeremonyError> {
    change(config, current, "remove", |store| {
        let gone = store.remove(name)?;
        Ok(Some(summary(&gone.name, &gone.key)))
    })
}

/// `airlock trust seal`: the quorum accepts the store as it is (e.g.
/// signers added before enrolment).
pub fn seal_store(
    config: &AirlockConfig,
    current: &[CustodianSecret],
) -> Result<TrustChange, CeremonyError> {
    change(config, current, "seal", |_| Ok(None))
}
