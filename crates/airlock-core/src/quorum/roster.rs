//! The custodian roster (`roster.json` in the state directory): who the
//! custodians are, the threshold, what the quorum pinned at enrolment (the
//! PKCS#11 module's path and SHA-256, the token's label, serial,
//! manufacturer and model, and the quorum's policy), and each custodian's
//! sealed share with the Argon2id parameters used. Everything pinned is in
//! every share's AEAD associated data, so a changed module, token or policy
//! makes the shares refuse to open. Parsed strictly (unknown fields
//! refused) and validated into [`Roster`]; the sealed shares are public,
//! the passphrases that open them are not. A roster written before the
//! module was pinned (`airlock-roster/1`) is refused with a "re-enrol"
//! error.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::pin::PIN_LEN;
use super::seal::{
    KEY_CHECK_LEN, KdfParams, NONCE_LEN, SALT_LEN, SealedBox, ShareBinding, TAG_LEN,
};
use super::{CustodianName, MAX_CUSTODIANS, MIN_THRESHOLD, QuorumError};

/// The roster's `format` value.
pub const ROSTER_FORMAT: &str = "airlock-roster/2";
/// The format of rosters enrolled before the module and token were pinned.
pub const ROSTER_FORMAT_UNPINNED: &str = "airlock-roster/1";
/// The roster's file name in the state directory.
pub const ROSTER_FILE_NAME: &str = crate::state_layout::ROSTER_FILE;
/// A roster file larger than this is refused before it is read.
pub const MAX_ROSTER_BYTES: u64 = 1024 * 1024;
/// Length of a roster id in bytes.
pub const ROSTER_ID_LEN: usize = 16;
/// Length of a sealed share: index byte, PIN bytes, Poly1305 tag.
pub const SEALED_SHARE_LEN: usize = 1 + PIN_LEN + TAG_LEN;
/// The only KDF the roster format knows.
pub const KDF_ALGORITHM: &str = "argon2id";
/// Argon2 version 1.3.
pub const KDF_VERSION: u32 = 0x13;

/// The token a roster belongs to: its PKCS#11 label, serial number,
/// manufacturer and model (`CK_TOKEN_INFO`, trailing blanks removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRef {
    /// CKA token label.
    pub label: String,
    /// Token serial number.
    pub serial: String,
    /// Token manufacturer ID.
    pub manufacturer: String,
    /// Token model.
    pub model: String,
}

impl TokenRef {
    /// A token reference; trailing blanks (PKCS#11 pads with spaces) are
    /// removed. The label must not be empty; label, manufacturer up to 32
    /// and serial, model up to 16 bytes, as in `CK_TOKEN_INFO`.
    pub fn new(
        label: &str,
        serial: &str,
        manufacturer: &str,
        model: &str,
    ) -> Result<Self, QuorumError> {
        let t = TokenRef {
            label: label.trim_end().to_string(),
            serial: serial.trim_end().to_string(),
            manufacturer: manufacturer.trim_end().to_string(),
            model: model.trim_end().to_string(),
        };
        t.check("roster").map(|()| t)
    }

    fn check(&self, origin: &str) -> Result<(), QuorumError> {
        let bad = |field: &str, message: &str| QuorumError::RosterInvalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        };
        if self.label.is_empty() || self.label.len() > 32 {
            return Err(bad("token.label", "must be 1 to 32 bytes"));
        }
        if self.serial.len() > 16 {
            return Err(bad("token.serial", "must be at most 16 bytes"));
        }
        if self.manufacturer.len() > 32 {
            return Err(bad("token.manufacturer", "must be at most 32 bytes"));
        }
        if self.model.len() > 16 {
            return Err(bad("token.model", "must be at most 16 bytes"));
        }
        Ok(())
    }

    /// True when a token with this (possibly blank-padded) label, serial,
    /// manufacturer and model is the one the roster belongs to.
    pub fn matches(&self, label: &str, serial: &str, manufacturer: &str, model: &str) -> bool {
        self.label == label.trim_end()
            && self.serial == serial.trim_end()
            && self.manufacturer == manufacturer.trim_end()
            && self.model == model.trim_end()
    }
}

impl std::fmt::Display for TokenRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "token {:?} (serial {:?}, {} {})",
            self.label, self.serial, self.manufacturer, self.model
        )
    }
}

/// The PKCS#11 module a roster belongs to: its absolute path and the
/// SHA-256 of the library file, as hashed when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRef {
    /// Absolute path of the library, as in `airlock.toml`.
    pub path: String,
    /// SHA-256 of the library file, lowercase hex.
    pub sha256: String,
}

impl ModuleRef {
    fn check(&self, origin: &str) -> Result<(), QuorumError> {
        let bad = |field: &str, message: &str| QuorumError::RosterInvalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: message.to_string(),
        };
        if !self.path.starts_with('/') || self.path.len() > 4096 {
            return Err(bad("module.path", "must be an absolute path"));
        }
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("module.sha256", "must be 64 lowercase hex digits"));
        }
        Ok(())
    }
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "module {} (SHA-256 {})", self.path, self.sha256)
    }
}

/// What the quorum decided at enrolment and only a quorum can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterPolicy {
    /// Requests may re-wrap material already in the HSM
    /// (`material.source = existing`); off unless enabled at enrolment.
    pub allow_existing_material: bool,
    /// Generated keys get `CKA_WRAP_WITH_TRUSTED`: the token wraps them
    /// only under wrapping keys the security officer marked trusted during
    /// the ceremony (the SO then takes part in every ceremony).
    #[serde(default)]
    pub wrap_with_trusted: bool,
}

/// Everything a roster pins: the token, the module and the policy. All of
/// it is bound into every sealed share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The token.
    pub token: TokenRef,
    /// The PKCS#11 module.
    pub module: ModuleRef,
    /// The quorum's policy.
    pub policy: RosterPolicy,
}

/// One custodian's entry: their name, share index and sealed share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedShare {
    pub(crate) name: CustodianName,
    pub(crate) share_index: u8,
    pub(crate) kdf: KdfParams,
    pub(crate) sealed: SealedBox,
}

impl SealedShare {
    /// The custodian's name.
    pub fn name(&self) -> &CustodianName {
        &self.name
    }

    /// The share index (1..=N).
    pub fn share_index(&self) -> u8 {
        self.share_index
    }

    /// The Argon2id parameters this share was sealed with.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }
}

/// A validated custodian roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub(crate) id: [u8; ROSTER_ID_LEN],
    pub(crate) created_at: OffsetDateTime,
    pub(crate) threshold: u8,
    pub(crate) pinned: Pinned,
    pub(crate) pin_check: [u8; 32],
    pub(crate) custodians: Vec<SealedShare>,
}

impl Roster {
    /// The roster id, lowercase hex.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// When the roster was made.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// M: how many distinct custodians must authenticate.
    pub fn threshold(&self) -> usize {
        self.threshold as usize
    }

    /// N: how many custodians are enrolled.
    pub fn custodian_count(&self) -> usize {
        self.custodians.len()
    }

    /// The token this roster belongs to.
    pub fn token(&self) -> &TokenRef {
        &self.pinned.token
    }

    /// The PKCS#11 module this roster belongs to.
    pub fn module(&self) -> &ModuleRef {
        &self.pinned.module
    }

    /// The quorum's policy.
    pub fn policy(&self) -> RosterPolicy {
        self.pinned.policy
    }

    /// Everything the roster pins.
    pub fn pinned(&self) -> &Pinned {
        &self.pinned
    }

    /// Compares the module and token found now with the pinned ones; the
    /// error names the first difference.
    pub fn check_pinned(&self, token: &TokenRef, module: &ModuleRef) -> Result<(), QuorumError> {
        let p = &self.pinned;
        let differ = |what: &'static str, enrolled: &str, found: &str| QuorumError::NotPinned {
            what,
            enrolled: enrolled.to_string(),
            found: found.to_string(),
        };
        if p.module.path != module.path {
            return Err(differ("PKCS#11 module path", &p.module.path, &module.path));
        }
        if p.module.sha256 != module.sha256 {
            return Err(differ(
                "PKCS#11 module SHA-256",
                &p.module.sha256,
                &module.sha256,
            ));
        }
        if p.token != *token {
            return Err(differ("token", &p.token.to_string(), &token.to_string()));
        }
        Ok(())
    }

    /// The custodians' entries, in enrolment order.
    pub fn custodians(&self) -> &[SealedShare] {
        &self.custodians
    }

    /// The custodians' names, comma separated (for messages).
    pub fn names_list(&self) -> String {
        self.custodians
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The entry of the custodian called `name` (surrounding whitespace and
    /// letter case ignored, as names are unique ignoring case).
    pub fn find(&self, name: &str) -> Option<&SealedShare> {
        let name = name.trim();
        self.custodians
            .iter()
            .find(|c| c.name.as_str().eq_ignore_ascii_case(name))
    }

    /// The associated data of `c`'s share, binding `pinned` (the roster's
    /// own, or what was found on the workstation now).
    pub(crate) fn binding<'a>(
        &'a self,
        pinned: &'a Pinned,
        c: &'a SealedShare,
        salt: &'a [u8],
    ) -> ShareBinding<'a> {
        ShareBinding {
            roster_id: &self.id,
            pinned,
            custodian: c.name.as_str(),
            threshold: self.threshold,
            custodians: self.custodians.len() as u8,
            share_index: c.share_index,
            pin_check: &self.pin_check,
            kdf: c.kdf,
            salt,
        }
    }

    /// Parses and validates roster JSON, applying [`KdfParams::floor`].
    /// `origin` names the source in errors (e.g. the file path).
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Roster, QuorumError> {
        Self::from_json_with_floor(bytes, origin, &KdfParams::floor())
    }

    /// As [`Roster::from_json`] with an explicit Argon2id floor.
    pub fn from_json_with_floor(
        bytes: &[u8],
        origin: &str,
        floor: &KdfParams,
    ) -> Result<Roster, QuorumError> {
        // A roster from before the module was pinned has no module, and its
        // shares bind less than this version requires: say "re-enrol".
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
            && v.get("format").and_then(|f| f.as_str()) == Some(ROSTER_FORMAT_UNPINNED)
        {
            return Err(QuorumError::RosterOutdated {
                origin: origin.to_string(),
                format: ROSTER_FORMAT_UNPINNED,
            });
        }
        let raw: RosterFile =
            serde_json::from_slice(bytes).map_err(|e| QuorumError::RosterInvalid {
                origin: origin.to_string(),
                field: format!("line {} column {}", e.line(), e.column()),
                message: format!("{e}; the roster must be exactly as Airlock wrote it"),
            })?;
        validate(raw, origin, floor)
    }

    /// The roster as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let file = RosterFile {
            format: ROSTER_FORMAT.to_string(),
            roster_id: self.id_hex(),
            created_at: self
                .created_at
                .format(&Rfc3339)
                .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into()),
            threshold: self.threshold as u64,
            token: self.pinned.token.clone(),
            module: self.pinned.module.clone(),
            policy: self.pinned.policy,
            pin_check: hex::encode(self.pin_check),
            custodians: self
                .custodians
                .iter()
                .map(|c| CustodianFile {
                    name: c.name.to_string(),
                    share_index: c.share_index as u64,
                    kdf: KdfFile {
                        algorithm: KDF_ALGORITHM.to_string(),
                        version: KDF_VERSION,
                        m_cost_kib: c.kdf.m_cost_kib,
                        t_cost: c.kdf.t_cost,
                        p_cost: c.kdf.p_cost,
                    },
                    salt: hex::encode(c.sealed.salt),
                    nonce: hex::encode(c.sealed.nonce),
                    key_check: hex::encode(c.sealed.key_check),
                    ciphertext: hex::encode(&c.sealed.ciphertext),
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&file).unwrap_or_default();
        s.push('\n');
        s
    }
}

impl TryFrom<RosterFile> for Roster {
    type Error = QuorumError;

    fn try_from(raw: RosterFile) -> Result<Self, Self::Error> {
        validate(raw, "roster", &KdfParams::floor())
    }
}

/// `roster.json` as written, before validation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterFile {
    format: String,
    roster_id: String,
    created_at: String,
    threshold: u64,
    token: TokenRef,
    module: ModuleRef,
    policy: RosterPolicy,
    pin_check: String,
    custodians: Vec<CustodianFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodianFile {
    name: String,
    share_index: u64,
    kdf: KdfFile,
    salt: String,
    nonce: String,
    key_check: String,
    ciphertext: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfFile {
    algorithm: String,
    version: u32,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

fn hex_exact<const N: usize>(s: &str, origin: &str, field: &str) -> Result<[u8; N], QuorumError> {
    let v = hex_bytes(s, origin, field)?;
    v.try_into()
        .map_err(|v: Vec<u8>| QuorumError::RosterInvalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: format!("is {} bytes, expected {N}", v.len()),
        })
}

fn hex_bytes(s: &str, origin: &str, field: &str) -> Result<Vec<u8>, QuorumError> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(QuorumError::RosterInvalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message: "must be lowercase hex".into(),
        });
    }
    hex::decode(s).map_err(|e| QuorumError::RosterInvalid {
        origin: origin.to_string(),
        field: field.to_string(),
        message: format!("is not hex ({e})"),
    })
}

fn validate(raw: RosterFile, origin: &str, floor: &KdfParams) -> Result<Roster, QuorumError> {
    let bad = |field: String, message: String| QuorumError::RosterInvalid {
        origin: origin.to_string(),
        field,
        message,
    };
    if raw.format != ROSTER_FORMAT {
        return Err(bad(
            "format".into(),
            format!("is {:?}, expected {ROSTER_FORMAT:?}", raw.format),
        ));
    }
    let id = hex_exact::<ROSTER_ID_LEN>(&raw.roster_id, origin, "roster_id")?;
    let created_at = OffsetDateTime::parse(&raw.created_at, &Rfc3339).map_err(|e| {
        bad(
            "created_at".into(),
            format!("is not an RFC 3339 time ({e})"),
        )
    })?;
    let n = raw.custodians.len();
    if !(MIN_THRESHOLD..=MAX_CUSTODIANS).contains(&n) {
        return Err(bad(
            "custodians".into(),
            format!("has {n} entries; a roster has {MIN_THRESHOLD} to {MAX_CUSTODIANS}"),
        ));
    }
    let threshold = raw.threshold;
    if threshold < MIN_THRESHOLD as u64 || threshold > n as u64 {
        return Err(bad(
            "threshold".into(),
            format!(
                "is {threshold}; it must be between {MIN_THRESHOLD} and the number of custodians ({n})"
            ),
        ));
    }
    raw.token.check(origin)?;
    raw.module.check(origin)?;
    let pin_check = hex_exact::<32>(&raw.pin_check, origin, "pin_check")?;

    let mut custodians: Vec<SealedShare> = Vec::with_capacity(n);
    let mut indices = HashSet::new();
    for (i, c) in raw.custodians.into_iter().enumerate() {
        let f = |name: &str| format!("custodians[{i}].{name}");
        let name = CustodianName::parse(&c.name).map_err(|e| bad(f("name"), e.to_string()))?;
        if name.as_str() != c.name {
            return Err(bad(f("name"), "has whitespace around it".into()));
        }
        if let Some(other) = custodians.iter().find(|o| o.name.same_person(&name)) {
            return Err(bad(
                f("name"),
                format!(
                    "{:?} is listed twice (as {:?} before)",
                    c.name,
                    other.name.as_str()
                ),
            ));
        }
        if c.share_index < 1 || c.share_index > n as u64 || !indices.insert(c.share_index) {
            return Err(bad(
                f("share_index"),
                format!(
                    "is {}; share indices are 1 to {n}, each once",
                    c.share_index
                ),
            ));
        }
        if c.kdf.algorithm != KDF_ALGORITHM {
            return Err(bad(
                f("kdf.algorithm"),
                format!("is {:?}, expected {KDF_ALGORITHM:?}", c.kdf.algorithm),
            ));
        }
        if c.kdf.version != KDF_VERSION {
            return Err(bad(
                f("kdf.version"),
                format!("is {}, expected {KDF_VERSION} (Argon2 v1.3)", c.kdf.version),
            ));
        }
        let kdf = KdfParams {
            m_cost_kib: c.kdf.m_cost_kib,
            t_cost: c.kdf.t_cost,
            p_cost: c.kdf.p_cost,
        };
        kdf.check_bounds(floor).map_err(|m| bad(f("kdf"), m))?;
        let salt = hex_exact::<SALT_LEN>(&c.salt, origin, &f("salt"))?;
        let nonce = hex_exact::<NONCE_LEN>(&c.nonce, origin, &f("nonce"))?;
        let key_check = hex_exact::<KEY_CHECK_LEN>(&c.key_check, origin, &f("key_check"))?;
        let ciphertext = hex_bytes(&c.ciphertext, origin, &f("ciphertext"))?;
        if ciphertext.len() != SEALED_SHARE_LEN {
            return Err(bad(
                f("ciphertext"),
                format!(
                    "is {} bytes, expected {SEALED_SHARE_LEN}: it was truncated or altered",
                    ciphertext.len()
                ),
            ));
        }
        custodians.push(SealedShare {
            name,
            share_index: c.share_index as u8,
            kdf,
            sealed: SealedBox {
                salt,
                nonce,
                key_check,
                ciphertext,
            },
        });
    }
    Ok(Roster {
        id,
        created_at,
        threshold: threshold as u8,
        pinned: Pinned {
            token: raw.token,
            module: raw.module,
            policy: raw.policy,
        },
        pin_check,
        custodians,
    })
}
