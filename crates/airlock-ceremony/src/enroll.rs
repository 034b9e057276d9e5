//! Enrolment and rehearsal of the custodian quorum against the HSM:
//! set a random user PIN nobody sees (C_InitPIN as security officer), split
//! it among the custodians (sealed shares in the roster), create the
//! ceremony signing key and record its public half; re-enrol with the
//! current quorum; rehearse a quorum login without a ceremony. Everything
//! is journaled in `enrollment.jsonl` in the state directory, without
//! secrets.

use std::fs;
use std::path::{Path, PathBuf};

use airlock_core::config::AirlockConfig;
use airlock_core::journal::{Actor, JournalWriter};
use airlock_core::quorum::{
    AuthOutcome, Enrollment, KdfParams, MAX_CUSTODIANS, MIN_THRESHOLD, PinRotation, QuorumError,
    QuorumLogin, ROSTER_FILE_NAME, Roster, TokenRef, generate_user_pin, reenroll,
};
use airlock_core::signature::SignerKey;
use airlock_hsm::Hsm;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::CeremonyError;
use crate::runner::ENROLLED_SIGNING_KEY_FILE;

/// A custodian's name and passphrase, as collected by a face.
pub struct CustodianSecret {
    /// The name as typed.
    pub name: String,
    /// The passphrase.
    pub passphrase: Zeroizing<String>,
}

impl std::fmt::Debug for CustodianSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustodianSecret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What enrolment did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnrollOutcome {
    /// The roster file.
    pub roster_path: PathBuf,
    /// The roster id (hex).
    pub roster_id: String,
    /// Custodians, in roster order.
    pub custodians: Vec<String>,
    /// M.
    pub threshold: usize,
    /// The Argon2id parameters used.
    pub kdf: KdfParams,
    /// SHA-256 of the ceremony signing key's SPKI.
    pub signing_key_fingerprint: String,
    /// True when enrolment created the signing key.
    pub signing_key_created: bool,
    /// The enrolled PEM's path.
    pub signing_key_path: PathBuf,
}

fn journal(state_dir: &Path) -> Result<JournalWriter, CeremonyError> {
    fs::create_dir_all(state_dir)
        .map_err(CeremonyError::io("creating the state directory", state_dir))?;
    let path = state_dir.join("enrollment.jsonl");
    if path.exists() {
        Ok(JournalWriter::open(&path)?.0)
    } else {
        Ok(JournalWriter::create(&path)?)
    }
}

/// M >= 2 and M <= N <= 10, checked before anything is changed.
fn check_counts(threshold: usize, n: usize) -> Result<(), CeremonyError> {
    if threshold < MIN_THRESHOLD || threshold > n || n > MAX_CUSTODIANS {
        return Err(CeremonyError::Quorum(QuorumError::ThresholdOutOfRange {
            threshold,
            custodians: n,
        }));
    }
    Ok(())
}

fn names(custodians: &[CustodianSecret]) -> Vec<String> {
    custodians
        .iter()
        .map(|c| c.name.trim().to_string())
        .collect()
}

/// Writes the enrolled signing key PEM, or checks it matches the one there.
fn record_signing_key(
    state_dir: &Path,
    pem: &str,
    spki_der: &[u8],
) -> Result<PathBuf, CeremonyError> {
    let path = state_dir.join(ENROLLED_SIGNING_KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(existing) => {
            let same = SignerKey::from_pem(&existing)
                .map(|k| k.spki_der() == spki_der)
                .unwrap_or(false);
            if !same {
                return Err(CeremonyError::SigningKeyMismatch {
                    enrolled: path,
                    expected: "the enrolled copy".into(),
                    found: hex::encode(Sha256::digest(spki_der)),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = path.with_extension("pem.tmp");
            fs::write(&tmp, pem).map_err(CeremonyError::io("writing", &tmp))?;
            fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(CeremonyError::io("syncing", &tmp))?;
            fs::rename(&tmp, &path).map_err(CeremonyError::io("writing", &path))?;
        }
        Err(e) => return Err(CeremonyError::io("reading", &path)(e)),
    }
    Ok(path)
}

/// First enrolment on a token: see the module docs. Refuses when a roster
/// exists (use [`reenroll_custodians`]).
pub fn enroll(
    config: &AirlockConfig,
    threshold: usize,
    custodians: Vec<CustodianSecret>,
    so_pin: &Zeroizing<String>,
) -> Result<EnrollOutcome, CeremonyError> {
    let roster_path = config.state_dir.join(ROSTER_FILE_NAME);
    if roster_path.exists() {
        return Err(CeremonyError::Quorum(QuorumError::RosterExists {
            path: roster_path,
        }));
    }
    // Every policy check before the HSM is touched.
    check_counts(threshold, custodians.len())?;
    let listed = names(&custodians);
    let mut enrollment = Enrollment::new(threshold)?;
    for c in custodians {
        enrollment.add_custodian(&c.name, c.passphrase)?;
    }
    let kdf = KdfParams::for_enrolment();
    let mut j = journal(&config.state_dir)?;
    j.append(
        "enrollment_started",
        &Actor::System,
        json!({ "custodians": listed, "threshold": threshold, "kdf": kdf }),
    )?;
    let result = (|| -> Result<EnrollOutcome, CeremonyError> {
        let hsm = Hsm::open_for_so(&config.module, &config.token)?;
        let id = hsm.identity().clone();
        let pin = generate_user_pin()?;
        hsm.init_user_pin(so_pin, &pin)?;
        j.append(
            "user_pin_set",
            &Actor::System,
            json!({ "token_label": id.label, "token_serial": id.serial }),
        )?;
        let roster = enrollment.build(&pin, TokenRef::new(&id.label, &id.serial)?, kdf)?;
        let (info, signing_key_path) = {
            let mut session = hsm.login_user(&pin)?;
            let info = session.ensure_signing_key()?;
            session.close()?;
            let path = record_signing_key(&config.state_dir, &info.pem, &info.spki_der)?;
            (info, path)
        };
        drop(pin);
        let fingerprint = hex::encode(Sha256::digest(&info.spki_der));
        j.append(
            "signing_key_enrolled",
            &Actor::System,
            json!({ "fingerprint": fingerprint, "created": info.created }),
        )?;
        roster.write_new(&roster_path)?;
        let outcome = EnrollOutcome {
            roster_path: roster_path.clone(),
            roster_id: roster.id_hex(),
            custodians: roster
                .custodians()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            threshold: roster.threshold(),
            kdf,
            signing_key_fingerprint: fingerprint,
            signing_key_created: info.created,
            signing_key_path,
        };
        j.append(
            "roster_written",
            &Actor::System,
            json!({ "roster_id": outcome.roster_id, "custodians": outcome.custodians, "threshold": outcome.threshold }),
        )?;
        Ok(outcome)
    })();
    if let Err(e) = &result {
        let _ = j.append(
            "enrollment_failed",
            &Actor::System,
            json!({ "error": e.to_string() }),
        );
    }
    result
}

/// Authenticates `current` custodians against the roster (each failure
/// named, none reaching the HSM) and returns the satisfied login.
fn authenticate_all(
    roster: &Roster,
    current: &[CustodianSecret],
    j: &mut JournalWriter,
    on_auth: &mut dyn FnMut(&AuthOutcome),
) -> Result<QuorumLogin, CeremonyError> {
    let mut login = QuorumLogin::new(roster);
    for c in current {
        match login.authenticate(&c.name, &c.passphrase) {
            Ok(outcome) => {
                let (who, again) = match &outcome {
                    AuthOutcome::Accepted { custodian, .. } => (custodian.clone(), false),
                    AuthOutcome::AlreadyCounted { custodian, .. } => (custodian.clone(), true),
                };
                j.append(
                    "custodian_authenticated",
                    &Actor::Custodian(who),
                    json!({ "again": again }),
                )?;
                on_auth(&outcome);
            }
            Err(e) => {
                let _ = j.append(
                    "custodian_auth_failed",
                    &Actor::System,
                    json!({ "custodian": c.name.trim(), "error": e.to_string() }),
                );
                return Err(e.into());
            }
        }
    }
    Ok(login)
}

/// Replaces the custodians (new shares of the same PIN) once `current`
/// custodians of the existing roster satisfy its quorum. Checks the rebuilt
/// PIN against the token before writing the new roster.
pub fn reenroll_custodians(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    threshold: usize,
    next: Vec<CustodianSecret>,
) -> Result<EnrollOutcome, CeremonyError> {
    let roster_path = config.state_dir.join(ROSTER_FILE_NAME);
    let roster = Roster::load(&roster_path)?;
    check_counts(threshold, next.len())?;
    let listed = names(&next);
    let mut enrollment = Enrollment::new(threshold)?;
    for c in next {
        enrollment.add_custodian(&c.name, c.passphrase)?;
    }
    let kdf = KdfParams::for_enrolment();
    let mut j = journal(&config.state_dir)?;
    j.append(
        "reenrollment_started",
        &Actor::System,
        json!({ "old_roster_id": roster.id_hex(), "custodians": listed, "threshold": threshold }),
    )?;
    let login = authenticate_all(&roster, current, &mut j, &mut |_| {})?;
    let re = reenroll(login, enrollment, kdf, PinRotation::KeepCurrent)?;
    let hsm = Hsm::open(&config.module, &config.token)?;
    let mut session = hsm.login_user(&re.current_pin)?;
    let info = session.ensure_signing_key()?;
    session.close()?;
    drop(re.current_pin);
    let signing_key_path = record_signing_key(&config.state_dir, &info.pem, &info.spki_der)?;
    re.roster.replace(&roster_path)?;
    let outcome = EnrollOutcome {
        roster_path,
        roster_id: re.roster.id_hex(),
        custodians: re
            .roster
            .custodians()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        threshold: re.roster.threshold(),
        kdf,
        signing_key_fingerprint: hex::encode(Sha256::digest(&info.spki_der)),
        signing_key_created: info.created,
        signing_key_path,
    };
    j.append(
        "roster_replaced",
        &Actor::System,
        json!({ "roster_id": outcome.roster_id, "custodians": outcome.custodians, "threshold": outcome.threshold }),
    )?;
    Ok(outcome)
}

/// What a rehearsal showed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RehearsalOutcome {
    /// Who authenticated, in order.
    pub custodians: Vec<String>,
    /// M.
    pub threshold: usize,
    /// The token logged in to.
    pub token_label: String,
}

/// `airlock quorum test`: custodians authenticate, the PIN is rebuilt and
/// a user login is made and closed again. No key is touched.
pub fn rehearse_quorum(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    on_auth: &mut dyn FnMut(&AuthOutcome),
) -> Result<RehearsalOutcome, CeremonyError> {
    let roster = Roster::load(&config.state_dir.join(ROSTER_FILE_NAME))?;
    let hsm = Hsm::open(&config.module, &config.token)?;
    let mut j = journal(&config.state_dir)?;
    j.append(
        "quorum_rehearsal_started",
        &Actor::System,
        Value::Object(Default::default()),
    )?;
    let login = authenticate_all(&roster, current, &mut j, on_auth)?;
    let custodians: Vec<String> = login
        .authenticated()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let pin = match login.rebuild_pin() {
        Ok(p) => p,
        Err(e) => {
            let _ = j.append(
                "quorum_rehearsal_failed",
                &Actor::System,
                json!({ "error": e.to_string() }),
            );
            return Err(e.into());
        }
    };
    let session = hsm.login_user(&pin)?;
    drop(pin);
    session.close()?;
    j.append(
        "quorum_rehearsal_passed",
        &Actor::System,
        json!({ "custodians": custodians }),
    )?;
    Ok(RehearsalOutcome {
        custodians,
        threshold: roster.threshold(),
        token_label: hsm.identity().label.clone(),
    })
}
