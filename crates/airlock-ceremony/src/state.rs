//! Ceremony records in the state directory, so that a ceremony killed at
//! any point can be found again: `ceremonies/<id>/record.json` (what was
//! being done, and whether it finished) beside that ceremony's
//! `journal.jsonl`. A rerun of the same request (same `SHA256SUMS` digest)
//! resumes the unfinished record instead of starting a second ceremony.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a ceremony stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeremonyStatus {
    /// Started and not finished (running now, or killed).
    Running,
    /// The bundle was published.
    Completed,
    /// Aborted by the operator (the abort path ran).
    Aborted,
    /// Discarded by a quorum (`airlock ceremony discard`): the keys it made
    /// were destroyed and it is never resumed.
    Discarded,
}

/// `record.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyRecord {
    /// The ceremony id (a UUID).
    pub ceremony_id: String,
    /// The request's id.
    pub request_id: String,
    /// SHA-256 of the request's `SHA256SUMS`: what identifies "the same
    /// request" for resuming.
    pub request_sha256sums_sha256: String,
    /// The request folder given.
    pub request_dir: PathBuf,
    /// The output folder asked for.
    pub out_dir: PathBuf,
    /// When it started.
    pub started_at: String,
    /// Where it stands.
    pub status: CeremonyStatus,
    /// When it ended (completed or aborted).
    pub ended_at: Option<String>,
    /// SHA-256 of the published bundle's `SHA256SUMS`.
    pub bundle_sha256sums_sha256: Option<String>,
}

/// The ceremonies folder of a state directory.
#[derive(Debug, Clone)]
pub struct CeremonyStore {
    root: PathBuf,
}

impl CeremonyStore {
    /// The store under `state_dir/ceremonies`.
    pub fn new(state_dir: &Path) -> Self {
        CeremonyStore {
            root: airlock_core::state_layout::StateLayout::new(state_dir).ceremonies(),
        }
    }

    /// The folder of one ceremony.
    pub fn dir(&self, ceremony_id: &str) -> PathBuf {
        self.root.join(ceremony_id)
    }

    /// The journal of one ceremony.
    pub fn journal_path(&self, ceremony_id: &str) -> PathBuf {
        self.dir(ceremony_id)
            .join(airlock_core::state_layout::CEREMONY_JOURNAL_FILE)
    }

    /// Writes (atomically) a record, creating its folder.
    pub fn save(&self, record: &CeremonyRecord) -> std::io::Result<()> {
        let dir = self.dir(&record.ceremony_id);
        fs::create_dir_all(&dir)?;
        let tmp = dir.join("record.json.tmp");
        let mut f = fs::File::create(&tmp)?;
        let mut bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(airlock_core::state_layout::RECORD_FILE))?;
        fs::File::open(&dir)?.sync_all()?;
        fs::File::open(&self.root)?.sync_all()
    }

    /// Every record, oldest first. Unreadable records are returned as
    /// errors naming the file, not skipped.
    pub fn list(&self) -> std::io::Result<Vec<Result<CeremonyRecord, String>>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path().join(airlock_core::state_layout::RECORD_FILE);
            let rec = fs::read(&path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|b| {
                    serde_json::from_slice::<CeremonyRecord>(&b)
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
            out.push(rec);
        }
        out.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.started_at.cmp(&b.started_at),
            (Err(_), Ok(_)) => std::cmp::Ordering::Less,
            (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.cmp(b),
        });
        Ok(out)
    }

    /// Records of ceremonies for the given request, newest last; discarded
    /// ones are left out (they are never resumed).
    pub fn for_request(&self, request_sums_sha256: &str) -> std::io::Result<Vec<CeremonyRecord>> {
        Ok(self
            .list()?
            .into_iter()
            .filter_map(Result::ok)
            .filter(|r| r.request_sha256sums_sha256 == request_sums_sha256)
            .filter(|r| r.status != CeremonyStatus::Discarded)
            .collect())
    }

    /// The record of one ceremony.
    pub fn load(&self, ceremony_id: &str) -> std::io::Result<CeremonyRecord> {
        let path = self
            .dir(ceremony_id)
            .join(airlock_core::state_layout::RECORD_FILE);
        let bytes = fs::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, at: &str, status: CeremonyStatus) -> CeremonyRecord {
        CeremonyRecord {
            ceremony_id: id.into(),
            request_id: "r".into(),
            request_sha256sums_sha256: "ab".repeat(32),
            request_dir: "/media/usb/req".into(),
            out_dir: "/media/usb/out".into(),
            started_at: at.into(),
            status,
            ended_at: None,
            bundle_sha256sums_sha256: None,
        }
    }

    #[test]
    fn saves_lists_and_finds_by_request() {
        let t = tempfile::tempdir().unwrap();
        let store = CeremonyStore::new(t.path());
        assert!(store.list().unwrap().is_empty());
        store
            .save(&rec("b", "2026-11-28T10:00:00Z", CeremonyStatus::Running))
            .unwrap();
        store
            .save(&rec("a", "2026-11-28T09:00:00Z", CeremonyStatus::Completed))
            .unwrap();
        let all: Vec<_> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap().ceremony_id)
            .collect();
        assert_eq!(all, ["a", "b"]);
        let mut r = rec("b", "2026-11-28T10:00:00Z", CeremonyStatus::Completed);
        r.ended_at = Some("2026-11-28T10:05:00Z".into());
        store.save(&r).unwrap();
        let found = store.for_request(&"ab".repeat(32)).unwrap();
        assert!(found.iter().all(|r| r.status == CeremonyStatus::Completed));
        assert!(store.for_request(&"cd".repeat(32)).unwrap().is_empty());
        fs::write(store.dir("c").join("record.json"), b"{").unwrap_or_else(|_| {
            fs::create_dir_all(store.dir("c")).unwrap();
            fs::write(store.dir("c").join("record.json"), b"{").unwrap();
        });
        assert!(store.list().unwrap().iter().any(|r| r.is_err()));
    }
}
