//! The hash-chained audit journal (`journal.jsonl`, formats.md "Journal").
//!
//! One JSON object per line, keys in this order: `seq` (from 0), `at`
//! (RFC 3339 UTC, whole seconds, `Z`), `event` (snake_case), `actor`
//! (`system` or a custodian name), `data` (an object), `prev` (lowercase
//! hex SHA-256 of the previous line's bytes without its newline; 64 zeros
//! for seq 0). Every line ends with `\n`.
//!
//! [`JournalWriter`] appends one line per call with a single `write` on an
//! `O_APPEND` descriptor and fsyncs before returning; it can reopen an
//! existing journal, verifying it first and continuing its chain (to resume
//! a ceremony). [`verify_journal`] / [`verify_journal_file`] check a whole
//! journal and name the first broken line (1-based) and its seq.
//!
//! Where a break is reported: a line is checked on its own (JSON, fields,
//! seq = line number - 1, timestamp, event, actor) and against the previous
//! line (`prev`). So a dropped, inserted or reordered line is reported at
//! the first line whose `seq` or `prev` no longer fits, and a *changed* line
//! N is reported at line N+1, whose `prev` no longer matches (the message
//! says so). A change to the last line, or lines cut off the end, can only
//! be seen against the head hash recorded elsewhere (`import.json`
//! `journal_head_sha256`, the printed attestation): use
//! [`verify_journal_head`]. A missing final newline (a torn last write),
//! empty lines, CR characters and anything after the last newline are
//! errors. Timestamps need not increase (the workstation clock may be
//! corrected mid-ceremony); order is carried by `seq` and the chain.
//!
//! No secrets: `data` is a `serde_json::Value` built by the caller, and the
//! writer refuses keys that name secrets (`pin`, `passphrase`, `password`,
//! `secret`, `plaintext`, `share`, `shares`, `key_material`, or any key
//! with one of the first five as a `_`-separated word). That is a guard,
//! not a proof: the rule for callers is never to put a value that came out
//! of a `Zeroizing` buffer into `data` (zeroize's serde support is not
//! enabled in this workspace, so a `Zeroizing` value cannot be serialized
//! into `data` by accident).

use std::fs::{File, OpenOptions};

use crate::journal_event::{CeremonyEvent, JournalEvent};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exit::{ExitClass, ExitCode};
use crate::quorum::{CustodianName, RESERVED_ACTOR};

/// The journal's file name.
pub const JOURNAL_FILE_NAME: &str = "journal.jsonl";
/// The largest journal accepted or written (formats.md size limits).
pub const MAX_JOURNAL_BYTES: u64 = 16 * 1024 * 1024;
/// `prev` of the first entry.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The longest event name.
pub const MAX_EVENT_LEN: usize = 64;

/// Why a journal was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A line breaks the format or the chain.
    #[error("{}line {line}{}: {problem}", file_prefix(file), seq_suffix(*seq))]
    Broken {
        /// The file, when verifying one.
        file: Option<PathBuf>,
        /// 1-based line number.
        line: u64,
        /// The line's `seq` when it could be read.
        seq: Option<u64>,
        /// What is wrong, and what it means.
        problem: String,
    },
    /// The chain is intact but does not end where it should.
    #[error(
        "{}the journal's head is {actual} after {entries} entries, but {expected} was expected: lines were cut off the end or the last line was changed",
        file_prefix(file)
    )]
    HeadMismatch {
        /// The file, when verifying one.
        file: Option<PathBuf>,
        /// The expected head hash.
        expected: String,
        /// The head hash found.
        actual: String,
        /// Entries found.
        entries: u64,
    },
    /// The journal is larger than the limit.
    #[error(
        "{}{size} bytes exceeds the journal limit of {limit} bytes",
        file_prefix(file)
    )]
    TooLarge {
        /// The file.
        file: Option<PathBuf>,
        /// Its size (or the size it would have).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file could not be read.
    #[error("cannot read the journal {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file could not be created, written or synced.
    #[error("cannot write the journal {path}: {source}; the journal may now end in a partial line")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A new journal was to be created where one exists.
    #[error("a journal already exists at {path}; open it to continue it, or choose another path")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// An earlier write failed; the writer refuses to go on.
    #[error(
        "the journal {path} had a failed write earlier; verify it (`airlock journal verify`) before going on"
    )]
    Poisoned {
        /// The file.
        path: PathBuf,
    },
    /// An entry of a ceremony journal that is no ceremony event, or whose
    /// data does not fit its event.
    #[error(
        "journal entry seq {seq}: {event:?} is not a ceremony event as docs/formats.md describes it ({problem}); keep the journal as evidence and ask who changed it"
    )]
    UnknownEvent {
        /// Its seq.
        seq: u64,
        /// Its event name.
        event: String,
        /// What did not fit.
        problem: String,
    },
    /// The caller passed an event name that is not snake_case.
    #[error("journal event name {event:?} is not snake_case (a-z, 0-9, single '_', at most 64)")]
    InvalidEvent {
        /// The name given.
        event: String,
    },
    /// The caller passed `data` that is not a JSON object.
    #[error("journal event {event:?}: data must be a JSON object")]
    DataNotObject {
        /// The event.
        event: String,
    },
    /// The caller's `data` has a key that names a secret.
    #[error(
        "journal event {event:?}: data key {key:?} names a secret; secrets never go into the journal"
    )]
    SecretKey {
        /// The event.
        event: String,
        /// The key (its value is not shown).
        key: String,
    },
}

fn file_prefix(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!("{}: ", f.display()))
        .unwrap_or_default()
}

fn seq_suffix(seq: Option<u64>) -> String {
    seq.map(|s| format!(" (seq {s})")).unwrap_or_default()
}

impl JournalError {
    /// The same error, naming `path` as the file it is about.
    pub fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            JournalError::Broken { file, .. }
            | JournalError::HeadMismatch { file, .. }
            | JournalError::TooLarge { file, .. } => *file = Some(path.to_path_buf()),
            _ => {}
        }
        self
    }

    /// For [`JournalError::Broken`]: the 1-based line and its seq.
    pub fn broken_line(&self) -> Option<(u64, Option<u64>)> {
        match self {
            JournalError::Broken { line, seq, .. } => Some((*line, *seq)),
            _ => None,
        }
    }
}

impl ExitClass for JournalError {
    fn exit_code(&self) -> ExitCode {
        match self {
            JournalError::Broken { .. }
            | JournalError::HeadMismatch { .. }
            | JournalError::TooLarge { .. }
            | JournalError::Exists { .. }
            | JournalError::Poisoned { .. }
            | JournalError::UnknownEvent { .. } => ExitCode::Journal,
            JournalError::Read { .. } | JournalError::Write { .. } => ExitCode::Io,
            JournalError::InvalidEvent { .. }
            | JournalError::DataNotObject { .. }
            | JournalError::SecretKey { .. } => ExitCode::Internal,
        }
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Airlock itself.
    System,
    /// A custodian.
    Custodian(CustodianName),
}

impl Actor {
    /// The `actor` string.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::System => RESERVED_ACTOR,
            Actor::Custodian(n) => n.as_str(),
        }
    }
}

impl From<&CustodianName> for Actor {
    fn from(n: &CustodianName) -> Self {
        Actor::Custodian(n.clone())
    }
}

/// One line as written: the field order here is the key order on disk.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    at: String,
    event: String,
    actor: String,
    data: Map<String, Value>,
    prev: String,
}

/// One verified journal entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Its sequence number.
    pub seq: u64,
    /// When it was written.
    pub at: OffsetDateTime,
    /// The event name.
    pub event: String,
    /// `system` or a custodian name.
    pub actor: String,
    /// The event's data.
    pub data: Map<String, Value>,
    /// SHA-256 (hex) of this line's bytes.
    pub sha256: String,
}

impl JournalEntry {
    /// True when this entry is, or claims to be, the quorum login: judged
    /// by its event name alone, so that an entry whose data was changed
    /// still counts (a journal that logged in must carry an HSM
    /// checkpoint).
    pub fn claims_quorum_login(&self) -> bool {
        let (name, _) = CeremonyEvent::QuorumLogin {
            custodians: Vec::new(),
        }
        .to_parts();
        self.event == name
    }

    /// This entry as a ceremony journal event; an entry that is none (or
    /// whose data does not fit its event) is an error naming its seq.
    pub fn ceremony_event(&self) -> Result<CeremonyEvent, JournalError> {
        CeremonyEvent::from_parts(&self.event, &self.data).map_err(|e| JournalError::UnknownEvent {
            seq: self.seq,
            event: self.event.clone(),
            problem: e.to_string(),
        })
    }
}

/// What a verified journal holds.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalSummary {
    /// Number of entries.
    pub entries: u64,
    /// SHA-256 (hex) of the last line's bytes; 64 zeros when empty.
    pub head_sha256: String,
    /// The entries, in order.
    pub events: Vec<JournalEntry>,
}

/// Checks an event name: `^[a-z][a-z0-9]*(_[a-z0-9]+)*$`, at most 64.
pub fn is_snake_case(event: &str) -> bool {
    let b = event.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_EVENT_LEN
        && b[0].is_ascii_lowercase()
        && !event.ends_with('_')
        && !event.contains("__")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Verifies journal bytes. Errors name the first broken line.
pub fn verify_journal(bytes: &[u8]) -> Result<JournalSummary, JournalError> {
    if bytes.len() as u64 > MAX_JOURNAL_BYTES {
        return Err(JournalError::TooLarge {
            file: None,
            size: bytes.len() as u64,
            limit: MAX_JOURNAL_BYTES,
        });
    }
    let mut prev = GENESIS_PREV.to_string();
    let mut events = Vec::new();
    let mut rest = bytes;
    let mut line_no: u64 = 0;
    while !rest.is_empty() {
        line_no += 1;
        let (line, tail, has_newline) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        let entry = check_line(line, line_no, &prev)?;
        if !has_newline {
            return Err(JournalError::Broken {
                file: None,
                line: line_no,
                seq: Some(entry.seq),
                problem: "the last line has no final newline: the journal was cut off mid-write, or edited by a tool that drops the final newline".into(),
            });
        }
        prev = entry.sha256.clone();
        events.push(entry);
        rest = tail;
    }
    Ok(JournalSummary {
        entries: events.len() as u64,
        head_sha256: prev,
        events,
    })
}

/// Verifies the journal file at `path` (size checked before reading).
pub fn verify_journal_file(path: &Path) -> Result<JournalSummary, JournalError> {
    let bytes = read_limited(path)?;
    verify_journal(&bytes).map_err(|e| e.with_file(path))
}

/// Verifies journal bytes and that the chain ends at `expected_head`
/// (catches a changed last line and lines cut off the end).
pub fn verify_journal_head(
    bytes: &[u8],
    expected_head: &str,
) -> Result<JournalSummary, JournalError> {
    let summary = verify_journal(bytes)?;
    if !summary
        .head_sha256
        .eq_ignore_ascii_case(expected_head.trim())
    {
        return Err(JournalError::HeadMismatch {
            file: None,
            expected: expected_head.trim().to_ascii_lowercase(),
            actual: summary.head_sha256,
            entries: summary.entries,
        });
    }
    Ok(summary)
}

/// As [`verify_journal_head`] for a file.
pub fn verify_journal_file_head(
    path: &Path,
    expected_head: &str,
) -> Result<JournalSummary, JournalError> {
    let bytes = read_limited(path)?;
    verify_journal_head(&bytes, expected_head).map_err(|e| e.with_file(path))
}

fn read_limited(path: &Path) -> Result<Vec<u8>, JournalError> {
    let rerr = |source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(rerr)?;
    read_handle_limited(&mut f, path)
}

fn read_handle_limited(f: &mut File, path: &Path) -> Result<Vec<u8>, JournalError> {
    let rerr = |source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = f.metadata().map_err(rerr)?.len();
    if size > MAX_JOURNAL_BYTES {
        return Err(JournalError::TooLarge {
            file: Some(path.to_path_buf()),
            size,
            limit: MAX_JOURNAL_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(MAX_JOURNAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(rerr)?;
    if bytes.len() as u64 > MAX_JOURNAL_BYTES {
        return Err(JournalError::TooLarge {
            file: Some(path.to_path_buf()),
            size: bytes.len() as u64,
            limit: MAX_JOURNAL_BYTES,
        });
    }
    Ok(bytes)
}

fn check_line(line: &[u8], line_no: u64, prev: &str) -> Result<JournalEntry, JournalError> {
    let expected_seq = line_no - 1;
    let broken = |seq: Option<u64>, problem: String| JournalError::Broken {
        file: None,
        line: line_no,
        seq,
        problem,
    };
    if line.is_empty() {
        return Err(broken(
            None,
            "the line is empty; every line is one entry".into(),
        ));
    }
    if line.contains(&b'\r') {
        return Err(broken(
            None,
            "the line contains a carriage return (CRLF line endings?); the journal uses LF only"
                .into(),
        ));
    }
    let parsed: Line = serde_json::from_slice(line).map_err(|e| {
        broken(
            None,
            format!(
                "not a journal entry ({e}); the line was changed or is not part of the journal"
            ),
        )
    })?;
    let seq = Some(parsed.seq);
    if parsed.seq != expected_seq {
        return Err(broken(
            seq,
            format!(
                "seq is {} but line {line_no} must have seq {expected_seq}: a line was dropped, inserted or moved at or before this line",
                parsed.seq
            ),
        ));
    }
    if parsed.prev != prev {
        let problem = if line_no == 1 {
            "prev of the first entry must be 64 zeros: lines were cut off the start, or the line was changed".to_string()
        } else {
            format!(
                "prev does not match the SHA-256 of line {} ({}…): line {} was changed, or lines were dropped, inserted or reordered",
                line_no - 1,
                &prev[..12],
                line_no - 1
            )
        };
        return Err(broken(seq, problem));
    }
    let at = OffsetDateTime::parse(&parsed.at, &Rfc3339)
        .ok()
        .filter(|t| t.offset().is_utc() && parsed.at.ends_with('Z'))
        .ok_or_else(|| {
            broken(
                seq,
                format!("at {:?} is not an RFC 3339 UTC time ending in Z", parsed.at),
            )
        })?;
    if !is_snake_case(&parsed.event) {
        return Err(broken(
            seq,
            format!("event {:?} is not a snake_case name", parsed.event),
        ));
    }
    if parsed.actor != RESERVED_ACTOR
        && CustodianName::parse(&parsed.actor)
            .map(|n| n.as_str() != parsed.actor)
            .unwrap_or(true)
    {
        return Err(broken(
            seq,
            format!(
                "actor {:?} is neither \"system\" nor a valid custodian name",
                parsed.actor
            ),
        ));
    }
    Ok(JournalEntry {
        seq: parsed.seq,
        at,
        event: parsed.event,
        actor: parsed.actor,
        data: parsed.data,
        sha256: sha256_hex(line),
    })
}

/// Segments of a `data` key that name a secret.
const SECRET_WORDS: &[&str] = &["pin", "passphrase", "password", "secret", "plaintext"];
/// Whole `data` keys that name a secret.
const SECRET_KEYS: &[&str] = &["share", "shares", "key_material"];

fn find_secret_key(v: &Value) -> Option<String> {
    match v {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let named = SECRET_KEYS.contains(&lower.as_str())
                || lower
                    .split(['_', '-', '.'])
                    .any(|w| SECRET_WORDS.contains(&w));
            if named {
                Some(k.clone())
            } else {
                find_secret_key(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(find_secret_key),
        _ => None,
    }
}

/// A successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEntry {
    /// The entry's seq.
    pub seq: u64,
    /// SHA-256 (hex) of the line written: the new head.
    pub sha256: String,
}

/// Appends entries to a journal file, fsyncing each.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    path: PathBuf,
    next_seq: u64,
    head: String,
    len: u64,
    poisoned: bool,
}

impl JournalWriter {
    /// Creates a new, empty journal at `path`; refuses if one exists.
    pub fn create(path: &Path) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    JournalError::Exists {
                        path: path.to_path_buf(),
                    }
                } else {
                    JournalError::Write {
                        path: path.to_path_buf(),
                        source,
                    }
                }
            })?;
        sync_parent(path)?;
        Ok(JournalWriter {
            file,
            path: path.to_path_buf(),
            next_seq: 0,
            head: GENESIS_PREV.to_string(),
            len: 0,
            poisoned: false,
        })
    }

    /// Opens an existing journal to continue it: reads it through the same
    /// descriptor it will append to, verifies the whole chain, and carries
    /// on from its head. Returns the writer and what the journal holds.
    pub fn open(path: &Path) -> Result<(Self, JournalSummary), JournalError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let bytes = read_handle_limited(&mut file, path)?;
        let summary = verify_journal(&bytes).map_err(|e| e.with_file(path))?;
        Ok((
            JournalWriter {
                file,
                path: path.to_path_buf(),
                next_seq: summary.entries,
                head: summary.head_sha256.clone(),
                len: bytes.len() as u64,
                poisoned: false,
            },
            summary,
        ))
    }

    /// Appends an untyped entry stamped with the current UTC time (whole
    /// seconds). Airlock itself writes only typed events
    /// ([`JournalWriter::record`]); this is the writer's raw form, for its
    /// own tests and for tests that forge a journal line as an insider
    /// would.
    pub fn append(
        &mut self,
        event: &str,
        actor: &Actor,
        data: Value,
    ) -> Result<AppendedEntry, JournalError> {
        self.append_at(OffsetDateTime::now_utc(), event, actor, data)
    }

    /// Appends an entry with the given time (converted to UTC, whole
    /// seconds). The line is written with one `write` and the file is
    /// fsynced before this returns.
    pub fn append_at(
        &mut self,
        at: OffsetDateTime,
        event: &str,
        actor: &Actor,
        data: Value,
    ) -> Result<AppendedEntry, JournalError> {
        self.write_entry(at, event, actor, data, true)
    }

    /// Appends an entry without waiting for it to reach the disk: for
    /// bookkeeping whose loss on power failure is harmless because the
    /// caller can redo it (e.g. per-key progress that a resumed ceremony
    /// recomputes). The next [`JournalWriter::append`] or
    /// [`JournalWriter::sync`] makes it durable. A killed process loses
    /// nothing: the line is in the kernel's page cache.
    pub fn append_deferred(
        &mut self,
        event: &str,
        actor: &Actor,
        data: Value,
    ) -> Result<AppendedEntry, JournalError> {
        self.write_entry(OffsetDateTime::now_utc(), event, actor, data, false)
    }

    /// Appends one typed event (fsynced).
    pub fn record(
        &mut self,
        event: &impl JournalEvent,
        actor: &Actor,
    ) -> Result<AppendedEntry, JournalError> {
        self.record_at(OffsetDateTime::now_utc(), event, actor)
    }

    /// [`JournalWriter::record`] with the given time.
    pub fn record_at(
        &mut self,
        at: OffsetDateTime,
        event: &impl JournalEvent,
        actor: &Actor,
    ) -> Result<AppendedEntry, JournalError> {
        let (name, data) = event.to_parts();
        self.write_entry(at, &name, actor, data, true)
    }

    /// [`JournalWriter::record`] without its own fsync (see
    /// [`JournalWriter::append_deferred`]).
    pub fn record_deferred(
        &mut self,
        event: &impl JournalEvent,
        actor: &Actor,
    ) -> Result<AppendedEntry, JournalError> {
        let (name, data) = event.to_parts();
        self.write_entry(OffsetDateTime::now_utc(), &name, actor, data, false)
    }

    /// Makes every entry written so far durable (one fsync).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.file.sync_all().map_err(|source| {
            self.poisoned = true;
            JournalError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }

    fn write_entry(
        &mut self,
        at: OffsetDateTime,
        event: &str,
        actor: &Actor,
        data: Value,
        durable: bool,
    ) -> Result<AppendedEntry, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned {
                path: self.path.clone(),
            });
        }
        if !is_snake_case(event) {
            return Err(JournalError::InvalidEvent {
                event: event.to_string(),
            });
        }
        if let Some(key) = find_secret_key(&data) {
            return Err(JournalError::SecretKey {
                event: event.to_string(),
                key,
            });
        }
        let Value::Object(data) = data else {
            return Err(JournalError::DataNotObject {
                event: event.to_string(),
            });
        };
        let at = at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(at);
        let line = Line {
            seq: self.next_seq,
            at: at.format(&Rfc3339).unwrap_or_default(),
            event: event.to_string(),
            actor: actor.as_str().to_string(),
            data,
            prev: self.head.clone(),
        };
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        let sha256 = sha256_hex(&bytes);
        bytes.push(b'\n');
        let new_len = self.len + bytes.len() as u64;
        if new_len > MAX_JOURNAL_BYTES {
            return Err(JournalError::TooLarge {
                file: Some(self.path.clone()),
                size: new_len,
                limit: MAX_JOURNAL_BYTES,
            });
        }
        let written = self.file.write_all(&bytes).and_then(|()| {
            if durable {
                self.file.sync_all()
            } else {
                Ok(())
            }
        });
        if let Err(source) = written {
            self.poisoned = true;
            return Err(JournalError::Write {
                path: self.path.clone(),
                source,
            });
        }
        self.len = new_len;
        self.head = sha256.clone();
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(AppendedEntry { seq, sha256 })
    }

    /// SHA-256 (hex) of the last line written; 64 zeros while empty.
    pub fn head_sha256(&self) -> &str {
        &self.head
    }

    /// The seq the next entry gets (= entries so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn sync_parent(path: &Path) -> Result<(), JournalError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| JournalError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    fn alice() -> Actor {
        Actor::Custodian(CustodianName::parse("Alice").unwrap())
    }

    /// A journal of `n` entries in a temporary directory; returns its bytes.
    fn journal_bytes(n: u64) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let mut w = JournalWriter::create(&path).unwrap();
        for i in 0..n {
            let actor = if i % 2 == 0 { Actor::System } else { alice() };
            w.append_at(
                datetime!(2026-11-28 09:00:00 UTC) + time::Duration::seconds(i as i64),
                "step_done",
                &actor,
                json!({"step": i, "name": format!("prod-s3-{i}")}),
            )
            .unwrap();
        }
        std::fs::read(&path).unwrap()
    }

    fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn broken_at(bytes: &[u8]) -> (u64, Option<u64>, String) {
        let e = verify_journal(bytes).unwrap_err();
        let (line, seq) = e.broken_line().unwrap_or_else(|| panic!("not Broken: {e}"));
        (line, seq, e.to_string())
    }

    #[test]
    fn lines_are_canonical_and_chain_verifies() {
        let bytes = journal_bytes(3);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                r#"{{"seq":0,"at":"2026-11-28T09:00:00Z","event":"step_done","actor":"system","data":{{"name":"prod-s3-0","step":0}},"prev":"{GENESIS_PREV}"}}"#
            )
        );
        let second: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(second["prev"], sha256_hex(first.as_bytes()));
        assert_eq!(second["actor"], "Alice");
        let s = verify_journal(&bytes).unwrap();
        assert_eq!(s.entries, 3);
        assert_eq!(
            s.head_sha256,
            sha256_hex(text.lines().last().unwrap().as_bytes())
        );
        assert_eq!(s.events[2].seq, 2);
        assert_eq!(s.events[1].actor, "Alice");
        assert_eq!(s.events[2].data["step"], 2);
        verify_journal_head(&bytes, &s.head_sha256.to_uppercase()).unwrap();
    }

    #[test]
    fn deferred_entries_chain_like_synced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::create(&path).unwrap();
        w.append("first", &Actor::System, serde_json::json!({}))
            .unwrap();
        let e = w
            .append_deferred("second", &Actor::System, serde_json::json!({ "n": 1 }))
            .unwrap();
        w.sync().unwrap();
        assert_eq!(w.head_sha256(), e.sha256);
        drop(w);
        let (mut w, summary) = JournalWriter::open(&path).unwrap();
        assert_eq!(summary.entries, 2);
        assert_eq!(summary.events[1].event, "second");
        w.append_deferred("third", &Actor::System, serde_json::json!({}))
            .unwrap();
        let s = verify_journal_file(&path).unwrap();
        assert_eq!(s.entries, 3, "a deferred line is visible at once");
        assert!(
            w.append_deferred("x", &Actor::System, serde_json::json!({ "pin": "1" }))
                .is_err(),
            "the secret guard applies to deferred entries too"
        );
    }

    #[test]
    fn empty_journal_is_valid_with_zero_head() {
        let s = verify_journal(b"").unwrap();
        assert_eq!(s.entries, 0);
        assert_eq!(s.head_sha256, GENESIS_PREV);
    }

    #[test]
    fn a_changed_line_is_named_by_the_next_line() {
        let bytes = journal_bytes(5);
        let text = String::from_utf8(bytes).unwrap();
        let changed = text.replacen("prod-s3-2", "prod-s3-X", 1);
        let (line, seq, msg) = broken_at(changed.as_bytes());
        assert_eq!((line, seq), (4, Some(3)));
        assert!(msg.contains("line 3 was changed"), "{msg}");
        assert!(msg.starts_with("line 4 (seq 3): "), "{msg}");
    }

    #[test]
    fn a_changed_last_line_or_cut_tail_shows_against_the_head() {
        let bytes = journal_bytes(4);
        let head = verify_journal(&bytes).unwrap().head_sha256;
        let text = String::from_utf8(bytes.clone()).unwrap();
        let changed = text.replacen("prod-s3-3", "prod-s3-X", 1);
        // The chain alone cannot see it...
        verify_journal(changed.as_bytes()).unwrap();
        // ...the recorded head does.
        let e = verify_journal_head(changed.as_bytes(), &head).unwrap_err();
        assert!(
            matches!(e, JournalError::HeadMismatch { entries: 4, .. }),
            "{e}"
        );
        let cut: Vec<u8> = lines(&bytes)[..3].concat();
        let e = verify_journal_head(&cut, &head).unwrap_err();
        assert!(e.to_string().contains("after 3 entries"), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Journal);
    }

    #[test]
    fn dropped_reordered_inserted_lines_are_named() {
        let bytes = journal_bytes(5);
        let ls = lines(&bytes);

        // Drop line 3 (seq 2): line 3 now holds seq 3.
        let dropped: Vec<u8> = [&ls[..2], &ls[3..]].concat().concat();
        let (line, seq, msg) = broken_at(&dropped);
        assert_eq!((line, seq), (3, Some(3)));
        assert!(msg.contains("dropped, inserted or moved"), "{msg}");

        // Swap lines 2 and 3.
        let mut swapped = ls.clone();
        swapped.swap(1, 2);
        let (line, seq, _) = broken_at(&swapped.concat());
        assert_eq!((line, seq), (2, Some(2)));

        // Insert a copy of line 2 after it.
        let mut inserted = ls.clone();
        inserted.insert(2, ls[1].clone());
        let (line, seq, _) = broken_at(&inserted.concat());
        assert_eq!((line, seq), (3, Some(1)));

        // Insert a forged line with the right seq and prev: the next line's
        // seq no longer fits.
        let prev = sha256_hex(ls[1].strip_suffix(b"\n").unwrap());
        let forged = format!(
            "{{\"seq\":2,\"at\":\"2026-11-28T09:00:01Z\",\"event\":\"forged\",\"actor\":\"system\",\"data\":{{}},\"prev\":\"{prev}\"}}\n"
        );
        let mut inserted = ls.clone();
        inserted.insert(2, forged.into_bytes());
        let (line, seq, _) = broken_at(&inserted.concat());
        assert_eq!((line, seq), (4, Some(2)));

        // Drop the first line.
        let (line, seq, _) = broken_at(&ls[1..].concat());
        assert_eq!((line, seq), (1, Some(1)));
    }

    #[test]
    fn truncation_and_garbage_are_named() {
        let bytes = journal_bytes(3);
        // Cut mid-line: the last line is not JSON.
        let cut = &bytes[..bytes.len() - 20];
        let (line, seq, msg) = broken_at(cut);
        assert_eq!((line, seq), (3, None));
        assert!(msg.contains("not a journal entry"), "{msg}");
        // Only the final newline missing.
        let (line, seq, msg) = broken_at(&bytes[..bytes.len() - 1]);
        assert_eq!((line, seq), (3, Some(2)));
        assert!(msg.contains("no final newline"), "{msg}");
        // Trailing garbage, a blank line, CRLF.
        let mut garbage = bytes.clone();
        garbage.extend_from_slice(b"xyz");
        assert_eq!(broken_at(&garbage).0, 4);
        let mut blank = bytes.clone();
        blank.push(b'\n');
        assert!(broken_at(&blank).2.contains("line 4: the line is empty"));
        let crlf = String::from_utf8(bytes.clone())
            .unwrap()
            .replace('\n', "\r\n");
        assert!(broken_at(crlf.as_bytes()).2.contains("carriage return"));
    }

    #[test]
    fn field_rules_are_checked() {
        let good = journal_bytes(1);
        let text = String::from_utf8(good).unwrap();
        for (from, to, want) in [
            ("\"seq\":0", "\"seq\":1", "seq is 1"),
            (
                "2026-11-28T09:00:00Z",
                "2026-11-28T10:00:00+01:00",
                "RFC 3339 UTC",
            ),
            ("2026-11-28T09:00:00Z", "yesterday", "RFC 3339 UTC"),
            ("step_done", "StepDone", "snake_case"),
            ("\"system\"", "\"root/x\"", "actor"),
            ("\"data\":{", "\"extra\":1,\"data\":{", "unknown field"),
            ("\"prev\":\"0", "\"prev\":\"1", "64 zeros"),
        ] {
            let bad = text.replacen(from, to, 1);
            assert_ne!(bad, text);
            let (line, _, msg) = broken_at(bad.as_bytes());
            assert_eq!(line, 1);
            assert!(msg.contains(want), "wanted {want:?} in {msg}");
        }
    }

    #[test]
    fn snake_case_rule() {
        for ok in ["a", "quorum_login", "key_2_wrapped", "x9"] {
            assert!(is_snake_case(ok), "{ok}");
        }
        for bad in [
            "",
            "_a",
            "a_",
            "a__b",
            "A",
            "9a",
            "a-b",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(!is_snake_case(bad), "{bad}");
        }
    }

    #[test]
    fn writer_refuses_bad_events_and_secret_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let mut w = JournalWriter::create(&path).unwrap();
        assert!(matches!(
            w.append("Bad-Name", &Actor::System, json!({})),
            Err(JournalError::InvalidEvent { .. })
        ));
        assert!(matches!(
            w.append("ok", &Actor::System, json!([1])),
            Err(JournalError::DataNotObject { .. })
        ));
        for data in [
            json!({"pin": "x"}),
            json!({"user_pin": "x"}),
            json!({"so-pin": "x"}),
            json!({"nested": {"Passphrase": "x"}}),
            json!({"list": [{"share": "x"}]}),
            json!({"key_material": "x"}),
        ] {
            let e = w.append("ok", &Actor::System, data.clone()).unwrap_err();
            assert!(matches!(e, JournalError::SecretKey { .. }), "{data}");
            assert!(!e.to_string().contains("\"x\""), "value shown: {e}");
        }
        // Allowed look-alikes.
        w.append(
            "ok",
            &Actor::System,
            json!({"share_index": 1, "spinner": true, "key_name": "prod-s3"}),
        )
        .unwrap();
        // Nothing refused was written.
        assert_eq!(verify_journal_file(&path).unwrap().entries, 1);
    }

    #[test]
    fn writer_resumes_an_existing_journal_and_never_clobbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let mut w = JournalWriter::create(&path).unwrap();
        assert_eq!(w.head_sha256(), GENESIS_PREV);
        w.append(
            "ceremony_started",
            &Actor::System,
            json!({"request_id": "r1"}),
        )
        .unwrap();
        let a = w
            .append("custodian_authenticated", &alice(), json!({}))
            .unwrap();
        assert_eq!(a.seq, 1);
        assert_eq!(w.head_sha256(), a.sha256);
        // Appended and synced: another reader sees both lines now.
        assert_eq!(verify_journal_file(&path).unwrap().head_sha256, a.sha256);
        drop(w);

        assert!(matches!(
            JournalWriter::create(&path),
            Err(JournalError::Exists { .. })
        ));

        let (mut w, summary) = JournalWriter::open(&path).unwrap();
        assert_eq!(summary.entries, 2);
        assert_eq!(summary.events[1].event, "custodian_authenticated");
        assert_eq!(w.next_seq(), 2);
        assert_eq!(w.head_sha256(), a.sha256);
        let b = w
            .append("ceremony_resumed", &Actor::System, json!({}))
            .unwrap();
        assert_eq!(b.seq, 2);
        let s = verify_journal_file(&path).unwrap();
        assert_eq!(s.entries, 3);
        assert_eq!(s.head_sha256, b.sha256);

        // A broken journal is not continued.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let e = JournalWriter::open(&path).unwrap_err();
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
        assert_eq!(e.broken_line(), Some((3, Some(2))));
    }

    #[test]
    fn size_limit_is_enforced_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE_NAME);
        let f = File::create(&path).unwrap();
        f.set_len(MAX_JOURNAL_BYTES + 1).unwrap();
        let e = verify_journal_file(&path).unwrap_err();
        assert!(matches!(e, JournalError::TooLarge { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Journal);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Any journal the writer makes verifies; flipping any one byte of
        /// it is caught (by the chain, the line checks, or the head).
        #[test]
        fn chain_property(
            steps in proptest::collection::vec(("[a-z]{1,8}(_[a-z0-9]{1,4}){0,2}", any::<u32>(), any::<bool>()), 1..12),
            flip_at in any::<prop::sample::Index>(),
            flip_bit in 0u8..8,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(JOURNAL_FILE_NAME);
            let mut w = JournalWriter::create(&path).unwrap();
            for (event, n, by_alice) in &steps {
                let actor = if *by_alice { alice() } else { Actor::System };
                w.append(event, &actor, json!({"n": n, "text": "é \" \\ \u{1}"})).unwrap();
            }
            let head = w.head_sha256().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let s = verify_journal_head(&bytes, &head).unwrap();
            prop_assert_eq!(s.entries, steps.len() as u64);

            let mut flipped = bytes.clone();
            let i = flip_at.index(flipped.len());
            flipped[i] ^= 1 << flip_bit;
            prop_assert!(verify_journal_head(&flipped, &head).is_err());
        }
    }
}
