//! `airlock ceremony discard ID`: a quorum closes an unfinished ceremony
//! for good. After the login, the ceremony's journal must verify under its
//! HSM checkpoint; only the labels its *sealed* entries planned are
//! considered, and of those only token keys whose `CKA_ID` binding names
//! that ceremony's request and key are destroyed. The discard is journaled
//! in that ceremony's journal (sealed again), its working files are wiped,
//! and its record is marked discarded, so `ceremony status` stops listing
//! it and a rerun of the same request starts afresh.

use std::collections::BTreeMap;

use airlock_core::journal::{Actor, JournalWriter};
use airlock_core::key_binding::KeyBinding;
use airlock_core::quorum::QuorumLogin;
use airlock_core::request::rfc3339;
use airlock_core::spec::KeySpec;
use airlock_core::wipe::wipe_tree_report;
use serde::Serialize;
use serde_json::{Value, json};

use crate::enroll::enrolled_signing_key;
use crate::error::CeremonyError;
use crate::runner::Ceremony;
use crate::stage::{Halted, Stage};
use crate::state::CeremonyStatus;
use crate::state_auth::{ceremony_journal_rel, verify_journal};

/// What a discard did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiscardOutcome {
    /// The ceremony.
    pub ceremony_id: String,
    /// Its request.
    pub request_id: String,
    /// Token keys destroyed (labels).
    pub destroyed: Vec<String>,
    /// Planned labels not in the HSM (never generated).
    pub not_found: Vec<String>,
    /// Objects under a planned label that were left alone because their
    /// binding names something else (label, and why).
    pub left_alone: Vec<(String, String)>,
    /// Working files wiped.
    pub files_wiped: u64,
}

/// One planned key, from the sealed journal.
struct PlannedKey {
    name: String,
    key_arn: String,
    spec: KeySpec,
}

impl Ceremony {
    /// Discards the unfinished ceremony `ceremony_id`: needs the quorum
    /// authenticated (after [`Ceremony::preflight`], instead of verifying a
    /// request). Logs in, checks the ceremony's journal against its HSM
    /// checkpoint, destroys the keys it made, journals and seals the
    /// discard, logs out.
    pub fn discard(&mut self, ceremony_id: &str) -> Result<DiscardOutcome, CeremonyError> {
        let Stage::Preflighted(quorum) = &self.stage else {
            return Err(CeremonyError::OutOfOrder {
                step: "discard a ceremony",
                needs: "a separate `airlock ceremony discard` run (not during a ceremony)",
            });
        };
        let satisfied = quorum.is_satisfied();
        let not = |why: String| CeremonyError::NotDiscardable {
            ceremony_id: ceremony_id.to_string(),
            why,
        };
        if ceremony_id.is_empty()
            || !ceremony_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Err(not(
                "that is not a ceremony id (a UUID as `airlock ceremony status` prints it)".into(),
            ));
        }
        let store = self.store();
        let mut record = store.load(ceremony_id).map_err(|e| {
            not(format!(
                "no readable record in {} ({e}); `airlock ceremony status` lists the unfinished ones",
                store.dir(ceremony_id).display()
            ))
        })?;
        match record.status {
            CeremonyStatus::Completed => {
                return Err(not(format!(
                    "it completed (bundle at {}); a completed ceremony's keys are in use by KMS and are never destroyed here",
                    record.out_dir.display()
                )));
            }
            CeremonyStatus::Discarded => {
                return Err(not("it was already discarded".into()));
            }
            CeremonyStatus::Running | CeremonyStatus::Aborted => {}
        }
        if !satisfied {
            let have = self.custodians.len();
            return Err(CeremonyError::Quorum(
                airlock_core::quorum::QuorumError::QuorumNotMet {
                    have,
                    need: self.roster.threshold(),
                    who: self
                        .custodians
                        .iter()
                        .map(|(n, _)| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ));
        }
        let journal_path = store.journal_path(ceremony_id);
        let (journal, _) = JournalWriter::open(&journal_path)?;
        self.journal = Some(journal);
        self.record = Some(record.clone());
        let names: Vec<String> = self.custodians.iter().map(|(n, _)| n.to_string()).collect();
        self.log(
            "discard_requested",
            Actor::System,
            json!({ "ceremony_id": ceremony_id, "custodians": names }),
        )?;
        for p in std::mem::take(&mut self.pending) {
            self.journal
                .as_mut()
                .expect("open")
                .append_at(p.at, p.event, &p.actor, p.data)?;
        }
        let Stage::Preflighted(quorum) = self.take_stage() else {
            unreachable!("checked above")
        };
        let mut held = Halted::default();
        let result = self.discard_inner(*quorum, &mut held, ceremony_id, &mut record);
        // Whatever happened, this process does nothing else: a session
        // still open is closed when the stage is dropped.
        self.stage = Stage::Halted(Box::new(held));
        match result {
            Ok(o) => Ok(o),
            Err(e) => Err(self.failed("discard", e)),
        }
    }

    fn discard_inner(
        &mut self,
        quorum: QuorumLogin,
        held: &mut Halted,
        ceremony_id: &str,
        record: &mut crate::state::CeremonyRecord,
    ) -> Result<DiscardOutcome, CeremonyError> {
        let session = {
            let pin = quorum.rebuild_pin()?;
            self.hsm.login_user(&pin)?
        };
        let session = held.session.insert(session);
        let names: Vec<String> = self.custodians.iter().map(|(n, _)| n.to_string()).collect();
        self.log(
            "quorum_login",
            Actor::System,
            json!({ "custodians": names }),
        )?;
        let info = session.ensure_signing_key()?;
        let key = enrolled_signing_key(&self.config.state_dir, &info.spki_der)?;
        held.state_key = Some(key.clone());

        // Only what the HSM sealed is trusted.
        let rel = ceremony_journal_rel(ceremony_id);
        self.journal.as_mut().expect("open").sync()?;
        let summary =
            airlock_core::journal::verify_journal_file(&journal_path_of(self, ceremony_id))?;
        let sealed_n = verify_journal(&self.config.state_dir, &rel, &key, &summary)?;
        let sealed = &summary.events[..sealed_n.unwrap_or(0) as usize];
        let mut request_id = String::new();
        let mut keys_by_label: BTreeMap<String, PlannedKey> = BTreeMap::new();
        let mut planned: Vec<String> = Vec::new();
        for e in sealed {
            match e.event.as_str() {
                "request_verified" => {
                    request_id = str_of(e.data.get("request_id"));
                    for k in e
                        .data
                        .get("keys")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let spec = k
                            .get("key_spec")
                            .cloned()
                            .and_then(|v| serde_json::from_value::<KeySpec>(v).ok());
                        if let Some(spec) = spec {
                            keys_by_label.insert(
                                str_of(k.get("hsm_label")),
                                PlannedKey {
                                    name: str_of(k.get("name")),
                                    key_arn: str_of(k.get("key_arn")),
                                    spec,
                                },
                            );
                        }
                    }
                }
                "key_generation_planned" => {
                    for l in e
                        .data
                        .get("labels")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(l) = l.as_str() {
                            planned.push(l.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        let mut out = DiscardOutcome {
            ceremony_id: ceremony_id.to_string(),
            request_id: request_id.clone(),
            ..DiscardOutcome::default()
        };
        for label in planned {
            let Some(k) = keys_by_label.get(&label) else {
                out.left_alone.push((
                    label,
                    "not a key of the request its journal verified".into(),
                ));
                continue;
            };
            let session = held.session.as_mut().expect("logged in");
            let Some(found) = session.find_key(&label, k.spec)? else {
                out.not_found.push(label);
                continue;
            };
            let id = session.key_id(&found)?;
            let arn = airlock_core::request::schema::KeyArn::parse(&k.key_arn);
            let bound = match (KeyBinding::parse(&id), arn) {
                (Ok(b), Some(arn)) => b.is_for(&request_id, &k.name, &arn),
                _ => false,
            };
            if !bound {
                out.left_alone.push((
                    label,
                    format!(
                        "its CKA_ID does not bind it to request {request_id} and key {}",
                        k.name
                    ),
                ));
                continue;
            }
            session.destroy_key(found)?;
            out.destroyed.push(label);
        }
        let work = self
            .store()
            .dir(ceremony_id)
            .join(airlock_core::state_layout::WORK_DIR);
        if work.exists() {
            out.files_wiped = wipe_tree_report(&work)
                .map_err(CeremonyError::io("wiping", &work))?
                .files;
        }
        self.log(
            "ceremony_discarded",
            Actor::System,
            json!({
                "destroyed": out.destroyed,
                "not_found": out.not_found,
                "left_alone": out.left_alone,
                "sealed_entries_trusted": sealed_n,
                "files_wiped": out.files_wiped,
            }),
        )?;
        self.checkpoint(held.session.as_mut().expect("logged in"), &key)?;
        if let Some(session) = held.session.take() {
            session.close()?;
        }
        record.status = CeremonyStatus::Discarded;
        record.ended_at = Some(rfc3339(crate::runner::now()));
        self.record = Some(record.clone());
        self.save_record()?;
        Ok(out)
    }
}

fn journal_path_of(c: &Ceremony, ceremony_id: &str) -> std::path::PathBuf {
    c.store().journal_path(ceremony_id)
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}
