//! Enrolment and rehearsal of the custodian quorum against the HSM:
//! set a random user PIN nobody sees (C_InitPIN as security officer), split
//! it among the custodians (sealed shares in the roster), create the
//! ceremony signing key and record its public half; re-enrol with the
//! current quorum (and, after an HSM driver upgrade the quorum agrees to,
//! re-pin the module); rehearse a quorum login without a ceremony; run a
//! quorum session for the workstation's own changes (the trust store).
//! Enrolment pins the PKCS#11 module (path and SHA-256), the token's
//! identity and the quorum's policy into every sealed share. Everything is
//! journaled in `enrollment.jsonl` in the state directory, without
//! secrets.

use std::fs;
use std::path::{Path, PathBuf};

use airlock_core::config::AirlockConfig;
use airlock_core::journal::{Actor, JournalWriter};
use airlock_core::journal_event::WorkstationEvent as W;
use airlock_core::quorum::{
    AuthOutcome, Enrollment, KdfParams, MAX_CUSTODIANS, MIN_THRESHOLD, ModuleRef, PinRotation,
    Pinned, QuorumError, QuorumLogin, ROSTER_FILE_NAME, Roster, RosterPolicy, TokenRef,
    generate_user_pin, name_hash, reenroll,
};
use airlock_core::signature::SignerKey;
use airlock_hsm::{Hsm, TokenIdentity, UserSession};
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

/// Choices made at enrolment that the quorum pins or must see.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnrollOptions {
    /// Adopt a ceremony signing key already in the token at first
    /// enrolment (it must still have been born there). Journaled.
    pub adopt_signing_key: bool,
    /// The quorum's policy: may requests re-wrap existing HSM material?
    pub allow_existing_material: bool,
    /// The quorum's policy: generated keys wrap only under wrapping keys
    /// the security officer marks trusted in each ceremony.
    pub wrap_with_trusted: bool,
    /// Re-enrolment only: the module or token changed on purpose (an HSM
    /// driver upgrade); open the shares with the pinned values, then pin
    /// what is there now. Journaled with both hashes.
    pub repin_module: bool,
}

/// The module and token as the HSM reports them, to compare with (or pin
/// into) a roster.
pub fn found_pins(identity: &TokenIdentity) -> Result<(TokenRef, ModuleRef), CeremonyError> {
    let token = TokenRef::new(
        &identity.label,
        &identity.serial,
        &identity.manufacturer,
        &identity.model,
    )?;
    let module = ModuleRef {
        path: identity.module_path.clone(),
        sha256: identity.module_sha256.clone(),
    };
    Ok((token, module))
}

/// The journal's view of a pin: module path and hash, token identity.
pub fn pin_json(token: &TokenRef, module: &ModuleRef) -> Value {
    json!({
        "module": { "path": module.path, "sha256": module.sha256 },
        "token": {
            "label": token.label, "serial": token.serial,
            "manufacturer": token.manufacturer, "model": token.model,
        },
    })
}

/// How a typed custodian name goes into the journal: the roster's spelling
/// when it is enrolled, else only a hash of it (it may be a passphrase
/// typed into the wrong field).
pub fn journal_name(roster: &Roster, typed: &str) -> String {
    match roster.find(typed) {
        Some(c) => c.name().to_string(),
        None => format!("unknown (sha256 {})", name_hash(typed)),
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
    /// The module pinned (path and SHA-256).
    pub module: ModuleRef,
    /// The token pinned.
    pub token: TokenRef,
    /// The quorum's policy.
    pub policy: RosterPolicy,
}

/// The rehearsal's failure event.
fn quorum_rehearsal_failed(error: String) -> W {
    W::QuorumRehearsalFailed { error }
}

fn journal(state_dir: &Path) -> Result<JournalWriter, CeremonyError> {
    fs::create_dir_all(state_dir)
        .map_err(CeremonyError::io("creating the state directory", state_dir))?;
    let path = airlock_core::state_layout::StateLayout::new(state_dir).workstation_journal();
    if path.exists() {
        Ok(JournalWriter::open(&path)?.0)
    } else {
        Ok(JournalWriter::create(&path)?)
    }
}

/// Passes `r` on; an error is first journaled as the event `failed`
/// makes of it (best effort: the original error wins).
fn journaled<T, E>(
    j: &mut JournalWriter,
    failed: fn(String) -> W,
    r: Result<T, E>,
) -> Result<T, CeremonyError>
where
    E: std::fmt::Display + Into<CeremonyError>,
{
    r.map_err(|e| {
        let _ = j.record(&failed(e.to_string()), &Actor::System);
        e.into()
    })
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
    options: EnrollOptions,
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
    j.record(
        &W::EnrollmentStarted {
            custodians: listed,
            threshold,
            kdf: serde_json::to_value(kdf).unwrap_or(Value::Null),
            config: config.source.display().to_string(),
            allow_existing_material: options.allow_existing_material,
            adopt_signing_key: options.adopt_signing_key,
        },
        &Actor::System,
    )?;
    let result = (|| -> Result<EnrollOutcome, CeremonyError> {
        let hsm = Hsm::open_for_so(&config.module, &config.token)?;
        let id = hsm.identity().clone();
        let (token, module) = found_pins(&id)?;
        j.record(&W::HsmPinned(pin_json(&token, &module)), &Actor::System)?;
        let policy = RosterPolicy {
            allow_existing_material: options.allow_existing_material,
            wrap_with_trusted: options.wrap_with_trusted,
        };
        let pin = generate_user_pin()?;
        hsm.init_user_pin(so_pin, &pin)?;
        j.record(
            &W::UserPinSet {
                token_label: id.label.clone(),
                token_serial: id.serial.clone(),
            },
            &Actor::System,
        )?;
        let roster = enrollment.build(
            &pin,
            Pinned {
                token: token.clone(),
                module: module.clone(),
                policy,
            },
            kdf,
        )?;
        let (info, signing_key_path) = {
            let mut session = hsm.login_user(&pin)?;
            let info = session.ensure_signing_key()?;
            if !info.created && !options.adopt_signing_key {
                let fingerprint = hex::encode(Sha256::digest(&info.spki_der));
                session.close()?;
                return Err(CeremonyError::SigningKeyPreexisting {
                    label: id.label.clone(),
                    fingerprint,
                });
            }
            session.close()?;
            let path = record_signing_key(&config.state_dir, &info.pem, &info.spki_der)?;
            (info, path)
        };
        drop(pin);
        let fingerprint = hex::encode(Sha256::digest(&info.spki_der));
        j.record(
            &W::SigningKeyEnrolled {
                fingerprint: fingerprint.clone(),
                created: info.created,
                adopted_preexisting: !info.created,
            },
            &Actor::System,
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
            module,
            token,
            policy,
        };
        j.record(
            &W::RosterWritten {
                roster_id: outcome.roster_id.clone(),
                custodians: outcome.custodians.clone(),
                threshold: outcome.threshold,
                policy: serde_json::to_value(outcome.policy).unwrap_or(Value::Null),
            },
            &Actor::System,
        )?;
        Ok(outcome)
    })();
    if let Err(e) = &result {
        let _ = j.record(
            &W::EnrollmentFailed {
                error: e.to_string(),
            },
            &Actor::System,
        );
    }
    result
}

/// Authenticates `current` custodians against the roster (each failure
/// named, none reaching the HSM) and returns the satisfied login.
fn authenticate_all(
    roster: &Roster,
    login: QuorumLogin,
    current: &[CustodianSecret],
    j: &mut JournalWriter,
    on_auth: &mut dyn FnMut(&AuthOutcome),
) -> Result<QuorumLogin, CeremonyError> {
    let mut login = login;
    for c in current {
        match login.authenticate(&c.name, &c.passphrase) {
            Ok(outcome) => {
                let (who, again) = match &outcome {
                    AuthOutcome::Accepted { custodian, .. } => (custodian.clone(), false),
                    AuthOutcome::AlreadyCounted { custodian, .. } => (custodian.clone(), true),
                };
                j.record(&W::CustodianAuthenticated { again }, &Actor::Custodian(who))?;
                on_auth(&outcome);
            }
            Err(e) => {
                let _ = j.record(
                    &W::CustodianAuthFailed {
                        custodian: journal_name(roster, &c.name),
                        error: e.to_string(),
                    },
                    &Actor::System,
                );
                return Err(e.into());
            }
        }
    }
    Ok(login)
}

/// Replaces the custodians (new shares of the same PIN) once `current`
/// custodians of the existing roster satisfy its quorum. Checks the rebuilt
/// PIN against the token before writing the new roster. With
/// `options.repin_module` the shares are opened with the module and token
/// the roster pinned and the new roster pins what is configured now (an
/// HSM driver upgrade); the token must still hold the enrolled ceremony
/// signing key.
pub fn reenroll_custodians(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    threshold: usize,
    next: Vec<CustodianSecret>,
    options: EnrollOptions,
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
    let hsm = Hsm::open(&config.module, &config.token)?;
    let (token, module) = found_pins(hsm.identity())?;
    let policy = RosterPolicy {
        allow_existing_material: options.allow_existing_material,
        wrap_with_trusted: options.wrap_with_trusted,
    };
    let mut j = journal(&config.state_dir)?;
    j.record(
        &W::ReenrollmentStarted {
            old_roster_id: roster.id_hex(),
            custodians: listed,
            threshold,
            old_policy: serde_json::to_value(roster.policy()).unwrap_or(Value::Null),
            policy: serde_json::to_value(policy).unwrap_or(Value::Null),
            repin_module: options.repin_module,
        },
        &Actor::System,
    )?;
    let pinned_check = roster.check_pinned(&token, &module);
    let login = match (pinned_check, options.repin_module) {
        (Ok(()), _) => QuorumLogin::for_hsm(&roster, &token, &module)?,
        (Err(_), true) => {
            j.record(
                &W::ModuleRepinRequested {
                    from: pin_json(roster.token(), roster.module()),
                    to: pin_json(&token, &module),
                },
                &Actor::System,
            )?;
            QuorumLogin::new(&roster)
        }
        (Err(e), false) => {
            let _ = j.record(
                &W::ReenrollmentFailed {
                    error: e.to_string(),
                },
                &Actor::System,
            );
            return Err(e.into());
        }
    };
    let login = authenticate_all(&roster, login, current, &mut j, &mut |_| {})?;
    let re = reenroll(
        login,
        enrollment,
        kdf,
        PinRotation::KeepCurrent,
        Pinned {
            token: token.clone(),
            module: module.clone(),
            policy,
        },
    )?;
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
        module: module.clone(),
        token: token.clone(),
        policy,
    };
    j.record(
        &W::RosterReplaced {
            roster_id: outcome.roster_id.clone(),
            custodians: outcome.custodians.clone(),
            threshold: outcome.threshold,
            policy: serde_json::to_value(policy).unwrap_or(Value::Null),
            pinned: pin_json(&token, &module),
        },
        &Actor::System,
    )?;
    Ok(outcome)
}

/// A quorum session for a change to the workstation's own state: the
/// custodians authenticate against the roster (module and token pinned),
/// the PIN is rebuilt and the user logs in, the HSM's ceremony signing key
/// is checked against the enrolled copy, and `change` runs with the
/// session and that key; `trust_store_changed` is journaled with what
/// `change` returns (the trust store is the one state a quorum changes
/// this way).
pub fn with_quorum_session<T: serde::Serialize>(
    config: &AirlockConfig,
    current: &[CustodianSecret],
    change: impl FnOnce(&mut UserSession, &SignerKey) -> Result<T, CeremonyError>,
) -> Result<T, CeremonyError> {
    let roster = Roster::load(&config.state_dir.join(ROSTER_FILE_NAME))?;
    let hsm = Hsm::open(&config.module, &config.token)?;
    let (token, module) = found_pins(hsm.identity())?;
    let mut j = journal(&config.state_dir)?;
    let login = match QuorumLogin::for_hsm(&roster, &token, &module) {
        Ok(l) => l,
        Err(e) => {
            let _ = j.record(
                &W::TrustStoreChangedFailed {
                    error: e.to_string(),
                    found: Some(pin_json(&token, &module)),
                    custodians: None,
                },
                &Actor::System,
            );
            return Err(e.into());
        }
    };
    let login = authenticate_all(&roster, login, current, &mut j, &mut |_| {})?;
    let custodians: Vec<String> = login
        .authenticated()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let pin = login.rebuild_pin()?;
    let mut session = hsm.login_user(&pin)?;
    drop(pin);
    let result = (|| -> Result<T, CeremonyError> {
        let info = session.ensure_signing_key()?;
        let key = enrolled_signing_key(&config.state_dir, &info.spki_der)?;
        let v = change(&mut session, &key)?;
        // Journaled, then the workstation journal is checkpointed by the
        // HSM while the quorum session is still open.
        j.record(
            &W::TrustStoreChanged {
                custodians: custodians.clone(),
                change: serde_json::to_value(&v).unwrap_or(Value::Null),
            },
            &Actor::System,
        )?;
        crate::state_auth::seal_journal(
            &mut session,
            &key,
            &config.state_dir,
            crate::state_auth::WORKSTATION_JOURNAL_REL,
            j.next_seq(),
            j.head_sha256(),
        )?;
        Ok(v)
    })();
    let closed = session.close();
    match result {
        Ok(v) => {
            closed?;
            Ok(v)
        }
        Err(e) => {
            let _ = j.record(
                &W::TrustStoreChangedFailed {
                    error: e.to_string(),
                    found: None,
                    custodians: Some(custodians),
                },
                &Actor::System,
            );
            Err(e)
        }
    }
}

/// The enrolled ceremony signing key, checked to be the HSM's (`spki_der`).
pub fn enrolled_signing_key(state_dir: &Path, spki_der: &[u8]) -> Result<SignerKey, CeremonyError> {
    let path = state_dir.join(ENROLLED_SIGNING_KEY_FILE);
    let pem = fs::read_to_string(&path).map_err(CeremonyError::io(
        "reading the enrolled ceremony key",
        &path,
    ))?;
    let enrolled = SignerKey::from_pem(&pem).map_err(|e| CeremonyError::Io {
        what: "parsing the enrolled ceremony key",
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if enrolled.spki_der() != spki_der {
        return Err(CeremonyError::SigningKeyMismatch {
            enrolled: path,
            expected: enrolled.fingerprint().to_hex(),
            found: hex::encode(Sha256::digest(spki_der)),
        });
    }
    Ok(enrolled)
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
    let (token, module) = found_pins(hsm.identity())?;
    let mut j = journal(&config.state_dir)?;
    j.record(
        &W::QuorumRehearsalStarted(pin_json(&token, &module)),
        &Actor::System,
    )?;
    let login = journaled(
        &mut j,
        quorum_rehearsal_failed,
        QuorumLogin::for_hsm(&roster, &token, &module),
    )?;
    let login = authenticate_all(&roster, login, current, &mut j, on_auth)?;
    let custodians: Vec<String> = login
        .authenticated()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let pin = journaled(&mut j, quorum_rehearsal_failed, login.rebuild_pin())?;
    let session = hsm.login_user(&pin)?;
    drop(pin);
    session.close()?;
    j.record(
        &W::QuorumRehearsalPassed {
            custodians: custodians.clone(),
        },
        &Actor::System,
    )?;
    Ok(RehearsalOutcome {
        custodians,
        threshold: roster.threshold(),
        token_label: hsm.identity().label.clone(),
    })
}
