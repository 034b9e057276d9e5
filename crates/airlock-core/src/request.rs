//! Verification of a request bundle from the online side, before any HSM is
//! touched. [`verify_request_bundle`] is the single entry point; it checks
//! in exactly this order and stops at the first failure:
//!
//! 1. layout and path safety (no symlinks, special files, hard links,
//!    traversal, non-UTF-8 names; size limits), and that the files present
//!    are exactly those `SHA256SUMS` lists;
//! 2. `SHA256SUMS` syntax and every digest;
//! 3. the signature on `SHA256SUMS` against the trust store;
//! 4. the strict `request.json` schema (and that every key has its two
//!    files, the import token not empty);
//! 5. the key-spec / wrapping-algorithm matrix (SHA-1 only when allowed);
//! 6. each wrapping public key;
//! 7. ARN / account / region consistency;
//! 8. duplicate names, ARNs and aliases (then that no listed file belongs
//!    to no key, a layout error found only once the keys are known);
//! 9. the validity window against the injected clock (expired is an error,
//!    under two hours left a warning).

pub mod schema;
pub mod wrapping_key;

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::bundle_dir::{BundleError, BundleFiles, REQUEST_BUNDLE};
use crate::exit::{ExitClass, ExitCode};
use crate::signature::Fingerprint;
use crate::spec::{WrappingRefusal, check_wrapping};
use crate::sums::Sha256Digest;
use crate::trust::{FindSignerError, SignerName, TrustStore};

pub use schema::{KeyRequest, Material, ReplicaRequest, Request, SchemaError, parse_request_json};
pub use wrapping_key::{WrappingKeyProblem, check_wrapping_public_key};

/// The request document inside the bundle.
pub const REQUEST_FILE: &str = "request.json";
/// Per-key wrapping public key file.
pub const WRAPPING_KEY_FILE: &str = "WrappingPublicKey.bin";
/// Per-key import token file.
pub const IMPORT_TOKEN_FILE: &str = "ImportToken.bin";
/// Below this much remaining validity, verification warns.
pub const WARN_REMAINING: Duration = Duration::hours(2);

/// Options of one verification.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Accept the `_SHA_1` wrapping algorithms (the operator's explicit choice).
    pub allow_sha1: bool,
    /// The workstation clock.
    pub now: OffsetDateTime,
}

/// Why a request bundle was refused. Each variant maps to one documented
/// exit code.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Layout, path safety, sizes, listing (10); sums syntax or a digest (11);
    /// reading (4).
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// No enrolled signer verifies the signature (12), or none is enrolled (20).
    #[error(transparent)]
    Signer(#[from] FindSignerError),
    /// `request.json` does not match the schema (13).
    #[error("request.json: {0}")]
    Schema(#[from] SchemaError),
    /// A key's file is missing or a file belongs to no key (10).
    #[error("{path}: {problem}")]
    KeyFiles {
        /// The file, relative to the bundle.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// A key's import token is empty (13).
    #[error(
        "keys/{key}/ImportToken.bin is empty; it must be the base64-decoded ImportToken from get-parameters-for-import"
    )]
    EmptyImportToken {
        /// Key name.
        key: String,
    },
    /// The wrapping algorithm cannot carry the key spec, or SHA-1 without
    /// the override (14).
    #[error("request.json: key {key}: {source}")]
    WrappingMatrix {
        /// Key name.
        key: String,
        /// Why.
        source: WrappingRefusal,
    },
    /// A wrapping public key is wrong (15).
    #[error("keys/{key}/WrappingPublicKey.bin: {problem}")]
    WrappingKey {
        /// Key name.
        key: String,
        /// What is wrong.
        problem: WrappingKeyProblem,
    },
    /// An ARN's account or region differs from the request's (16).
    #[error(
        "request.json: key {key}: key_arn {arn} is in {field} {found}, but the request is for {field} {expected}"
    )]
    ArnMismatch {
        /// Key name.
        key: String,
        /// The ARN.
        arn: String,
        /// `account` or `region`.
        field: &'static str,
        /// What the ARN says.
        found: String,
        /// What the request says.
        expected: String,
    },
    /// Two keys share a name, ARN or alias (17).
    #[error(
        "request.json: keys[{first}] and keys[{second}] have the same {what} {value:?}; each key must be unique"
    )]
    Duplicate {
        /// `name`, `key_arn` or `alias`.
        what: &'static str,
        /// The shared value.
        value: String,
        /// Index of the first.
        first: usize,
        /// Index of the second.
        second: usize,
    },
    /// Import parameters have expired (18).
    #[error("key {key}: import parameters expired at {valid_to} (workstation clock {now}){}; run get-parameters-for-import again and send a newly signed request", if *others > 0 { format!(", and {others} more key(s) have expired too") } else { String::new() })]
    Expired {
        /// The key whose parameters expired first.
        key: String,
        /// Its `parameters_valid_to` (RFC 3339).
        valid_to: String,
        /// The clock (RFC 3339).
        now: String,
        /// How many other keys have expired.
        others: usize,
    },
}

impl ExitClass for RequestError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RequestError::Bundle(e) => e.exit_code(),
            RequestError::Signer(e) => e.exit_code(),
            RequestError::Schema(_) | RequestError::EmptyImportToken { .. } => ExitCode::Schema,
            RequestError::KeyFiles { .. } => ExitCode::BundleLayout,
            RequestError::WrappingMatrix { .. } => ExitCode::WrappingMatrix,
            RequestError::WrappingKey { .. } => ExitCode::WrappingKey,
            RequestError::ArnMismatch { .. } => ExitCode::ArnMismatch,
            RequestError::Duplicate { .. } => ExitCode::Duplicate,
            RequestError::Expired { .. } => ExitCode::Expired,
        }
    }
}

/// Something the operator should know that does not stop the ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Less than [`WARN_REMAINING`] of validity left.
    ExpiresSoon {
        /// Key name.
        key: String,
        /// Its `parameters_valid_to`.
        valid_to: OffsetDateTime,
        /// Time left by the workstation clock.
        remaining: Duration,
    },
    /// A SHA-1 wrapping algorithm, accepted because the operator allowed it.
    Sha1Allowed {
        /// Key name.
        key: String,
        /// The algorithm.
        algorithm: crate::spec::WrappingAlgorithm,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ExpiresSoon {
                key,
                valid_to,
                remaining,
            } => write!(
                f,
                "key {key}: import parameters expire at {} ({} min left); finish the ceremony and the import before then",
                rfc3339(*valid_to),
                remaining.whole_minutes()
            ),
            Warning::Sha1Allowed { key, algorithm } => write!(
                f,
                "key {key}: {algorithm} uses SHA-1, accepted because --allow-sha1 was given; the attestation records it"
            ),
        }
    }
}

/// One verified key with its files.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    /// The validated request fields.
    pub request: KeyRequest,
    /// `WrappingPublicKey.bin` (DER SPKI), checked.
    pub wrapping_public_key: Vec<u8>,
    /// `ImportToken.bin`, byte for byte.
    pub import_token: Vec<u8>,
    /// Its multi-Region replicas with their files, in request order.
    pub replicas: Vec<VerifiedReplica>,
}

/// One verified replica of a multi-Region key with its files.
#[derive(Debug, Clone)]
pub struct VerifiedReplica {
    /// The validated replica fields.
    pub request: ReplicaRequest,
    /// `replicas/<region>/WrappingPublicKey.bin` (DER SPKI), checked.
    pub wrapping_public_key: Vec<u8>,
    /// `replicas/<region>/ImportToken.bin`, byte for byte.
    pub import_token: Vec<u8>,
}

/// One place a key's material is wrapped for: the key itself or one of
/// its replicas. The checks below run over these, so a replica is checked
/// exactly like a key.
struct WrapTarget<'a> {
    /// Folder under `keys/`: `prod-s3` or `prod-s3/replicas/us-east-1`;
    /// also how messages name it.
    rel: String,
    key: &'a KeyRequest,
    wrapping_algorithm: crate::spec::WrappingAlgorithm,
    wrapping_key_spec: crate::spec::WrappingKeySpec,
    parameters_valid_to: OffsetDateTime,
}

impl WrapTarget<'_> {
    fn file(&self, file: &str) -> String {
        format!("keys/{}/{file}", self.rel)
    }
}

/// The folder under `keys/` of a key's replica in `region`.
pub fn replica_rel(key: &str, region: &str) -> String {
    format!("{key}/replicas/{region}")
}

fn targets(request: &Request) -> impl Iterator<Item = WrapTarget<'_>> {
    request.keys.iter().flat_map(|k| {
        std::iter::once(WrapTarget {
            rel: k.name.to_string(),
            key: k,
            wrapping_algorithm: k.wrapping_algorithm,
            wrapping_key_spec: k.wrapping_key_spec,
            parameters_valid_to: k.parameters_valid_to,
        })
        .chain(k.replicas.iter().map(move |r| WrapTarget {
            rel: replica_rel(k.name.as_str(), r.region.as_str()),
            key: k,
            wrapping_algorithm: r.wrapping_algorithm,
            wrapping_key_spec: r.wrapping_key_spec,
            parameters_valid_to: r.parameters_valid_to,
        }))
    })
}

/// Who signed the bundle.
#[derive(Debug, Clone)]
pub struct VerifiedSigner {
    /// The enrolled name.
    pub name: SignerName,
    /// SHA-256 of the signer's SPKI DER.
    pub fingerprint: Fingerprint,
}

/// A request bundle that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    /// `request_id`.
    pub request_id: schema::RequestId,
    /// `created_at`.
    pub created_at: OffsetDateTime,
    /// `aws_account`.
    pub aws_account: schema::AwsAccount,
    /// `aws_region`.
    pub aws_region: schema::AwsRegion,
    /// The keys, in request order.
    pub keys: Vec<VerifiedKey>,
    /// SHA-256 of the exact `SHA256SUMS` bytes.
    pub sums_sha256: Sha256Digest,
    /// Who signed it.
    pub signer: VerifiedSigner,
    /// Things to tell the operator.
    pub warnings: Vec<Warning>,
    /// Whether any key uses a SHA-1 algorithm (only possible with the override).
    pub uses_sha1: bool,
}

/// Verifies the request bundle in `dir`; see the module documentation for
/// the order of checks.
pub fn verify_request_bundle(
    dir: &std::path::Path,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedRequest, RequestError> {
    // 1-2. Layout, sums syntax, listing; then every digest.
    let mut files = BundleFiles::read(dir, &REQUEST_BUNDLE)?;
    files.check_digests()?;
    // 3. Signature.
    let signer = trust.find_signer(files.sums_bytes(), files.signature())?;
    let signer = VerifiedSigner {
        name: signer.name.clone(),
        fingerprint: signer.key.fingerprint(),
    };
    let sums_sha256 = Sha256Digest::of(files.sums_bytes());
    // 4. Schema and per-key files.
    let json = files
        .get(REQUEST_FILE)
        .ok_or_else(|| RequestError::KeyFiles {
            path: REQUEST_FILE.to_string(),
            problem: "missing; a request bundle carries request.json".to_string(),
        })?;
    let request = parse_request_json(json)?;
    check_key_files(&files, &request)?;
    // 5. Matrix.
    let mut warnings = Vec::new();
    for t in targets(&request) {
        check_wrapping(
            t.key.key_spec,
            t.wrapping_algorithm,
            t.wrapping_key_spec,
            opts.allow_sha1,
        )
        .map_err(|source| RequestError::WrappingMatrix {
            key: t.rel.clone(),
            source,
        })?;
        if t.wrapping_algorithm.is_sha1() {
            warnings.push(Warning::Sha1Allowed {
                key: t.rel.clone(),
                algorithm: t.wrapping_algorithm,
            });
        }
    }
    // 6. Wrapping public keys (each distinct (bytes, size) checked once).
    let mut checked: HashSet<(&[u8], crate::spec::WrappingKeySpec)> = HashSet::new();
    for t in targets(&request) {
        let der = files
            .get(&t.file(WRAPPING_KEY_FILE))
            .expect("presence checked above");
        if checked.insert((der, t.wrapping_key_spec)) {
            check_wrapping_public_key(der, t.wrapping_key_spec).map_err(|problem| {
                RequestError::WrappingKey {
                    key: t.rel.clone(),
                    problem,
                }
            })?;
        }
    }
    drop(checked);
    // 7. ARN account and region.
    for k in &request.keys {
        let mismatch = |field, found: &str, expected: &str| RequestError::ArnMismatch {
            key: k.name.to_string(),
            arn: k.key_arn.to_string(),
            field,
            found: found.to_string(),
            expected: expected.to_string(),
        };
        if k.key_arn.account != request.aws_account.as_str() {
            return Err(mismatch(
                "account",
                &k.key_arn.account,
                request.aws_account.as_str(),
            ));
        }
        if k.key_arn.region != request.aws_region.as_str() {
            return Err(mismatch(
                "region",
                &k.key_arn.region,
                request.aws_region.as_str(),
            ));
        }
    }
    // 8. Duplicates.
    check_duplicates(&request)?;
    check_no_orphan_files(&files, &request)?;
    // 9. Validity window.
    check_validity(&request, opts.now, &mut warnings)?;

    let uses_sha1 = request.keys.iter().any(|k| k.wrapping_algorithm.is_sha1());
    let keys = request
        .keys
        .into_iter()
        .map(|k| {
            let wrapping_public_key = files
                .get(&key_file(&k, WRAPPING_KEY_FILE))
                .expect("presence checked above")
                .to_vec();
            let import_token = files
                .take(&key_file(&k, IMPORT_TOKEN_FILE))
                .expect("presence checked above");
            let replicas = k
                .replicas
                .iter()
                .map(|r| {
                    let rel = replica_rel(k.name.as_str(), r.region.as_str());
                    VerifiedReplica {
                        request: r.clone(),
                        wrapping_public_key: files
                            .get(&format!("keys/{rel}/{WRAPPING_KEY_FILE}"))
                            .expect("presence checked above")
                            .to_vec(),
                        import_token: files
                            .take(&format!("keys/{rel}/{IMPORT_TOKEN_FILE}"))
                            .expect("presence checked above"),
                    }
                })
                .collect();
            VerifiedKey {
                request: k,
                wrapping_public_key,
                import_token,
                replicas,
            }
        })
        .collect();
    Ok(VerifiedRequest {
        request_id: request.request_id,
        created_at: request.created_at,
        aws_account: request.aws_account,
        aws_region: request.aws_region,
        keys,
        sums_sha256,
        signer,
        warnings,
        uses_sha1,
    })
}

fn key_file(k: &KeyRequest, file: &str) -> String {
    format!("keys/{}/{file}", k.name)
}

/// Every key has its two files and its import token is not empty.
fn check_key_files(files: &BundleFiles, request: &Request) -> Result<(), RequestError> {
    for t in targets(request) {
        for f in [WRAPPING_KEY_FILE, IMPORT_TOKEN_FILE] {
            let path = t.file(f);
            if files.get(&path).is_none() {
                return Err(RequestError::KeyFiles {
                    path,
                    problem: format!(
                        "missing; request.json names key {} and each key (and each replica) needs {WRAPPING_KEY_FILE} and {IMPORT_TOKEN_FILE}",
                        t.rel
                    ),
                });
            }
        }
        if files
            .get(&t.file(IMPORT_TOKEN_FILE))
            .is_some_and(<[u8]>::is_empty)
        {
            return Err(RequestError::EmptyImportToken { key: t.rel.clone() });
        }
    }
    Ok(())
}

/// No listed file belongs to no key. Checked after the duplicate check, so
/// that two keys sharing a name are reported as such rather than as the
/// orphaned folder the second name left behind.
fn check_no_orphan_files(files: &BundleFiles, request: &Request) -> Result<(), RequestError> {
    let mut expected: HashSet<String> = HashSet::with_capacity(request.keys.len() * 2 + 1);
    expected.insert(REQUEST_FILE.to_string());
    for t in targets(request) {
        for f in [WRAPPING_KEY_FILE, IMPORT_TOKEN_FILE] {
            expected.insert(t.file(f));
        }
    }
    for entry in files.sums().entries() {
        if !expected.contains(&entry.path) {
            return Err(RequestError::KeyFiles {
                path: entry.path.clone(),
                problem: "belongs to no key in request.json; a request bundle holds only request.json, keys/<name>/{WrappingPublicKey.bin,ImportToken.bin} and, for a listed replica, keys/<name>/replicas/<region>/{WrappingPublicKey.bin,ImportToken.bin}".to_string(),
            });
        }
    }
    Ok(())
}

fn check_duplicates(request: &Request) -> Result<(), RequestError> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut arns: HashMap<&str, usize> = HashMap::new();
    let mut aliases: HashMap<&str, usize> = HashMap::new();
    for (i, k) in request.keys.iter().enumerate() {
        for (what, value, seen) in [
            ("name", k.name.as_str(), &mut names),
            ("key_arn", k.key_arn.as_str(), &mut arns),
            ("alias", k.alias.as_str(), &mut aliases),
        ] {
            if let Some(first) = seen.insert(value, i) {
                return Err(RequestError::Duplicate {
                    what,
                    value: value.to_string(),
                    first,
                    second: i,
                });
            }
        }
    }
    Ok(())
}

fn check_validity(
    request: &Request,
    now: OffsetDateTime,
    warnings: &mut Vec<Warning>,
) -> Result<(), RequestError> {
    let expired: Vec<WrapTarget<'_>> = targets(request)
        .filter(|t| t.parameters_valid_to <= now)
        .collect();
    if let Some(first) = expired.iter().min_by_key(|t| t.parameters_valid_to) {
        return Err(RequestError::Expired {
            key: first.rel.clone(),
            valid_to: rfc3339(first.parameters_valid_to),
            now: rfc3339(now),
            others: expired.len() - 1,
        });
    }
    for t in targets(request) {
        let remaining = t.parameters_valid_to - now;
        if remaining < WARN_REMAINING {
            warnings.push(Warning::ExpiresSoon {
                key: t.rel.clone(),
                valid_to: t.parameters_valid_to,
                remaining,
            });
        }
    }
    Ok(())
}

/// RFC 3339 text of a timestamp (UTC).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn request_valid_to(valid_to: &str) -> Request {
        let json = schema::tests::EXAMPLE.replace("2026-11-29T09:00:00Z", valid_to);
        parse_request_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn validity_window_boundaries_use_the_injected_clock() {
        let now = datetime!(2026-11-29 07:00 UTC);
        let mut w = Vec::new();
        // Exactly two hours left: no warning.
        check_validity(&request_valid_to("2026-11-29T09:00:00Z"), now, &mut w).unwrap();
        assert!(w.is_empty());
        // One second less: a warning naming the key.
        check_validity(&request_valid_to("2026-11-29T08:59:59Z"), now, &mut w).unwrap();
        assert!(matches!(&w[..], [Warning::ExpiresSoon { key, .. }] if key == "prod-s3"));
        assert!(w[0].to_string().contains("119 min"));
        // Valid-to equal to the clock is expired.
        let e = check_validity(&request_valid_to("2026-11-29T07:00:00Z"), now, &mut w).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Expired);
        assert!(e.to_string().contains("prod-s3"), "{e}");
    }

    #[test]
    fn duplicates_name_both_indices() {
        let mut r = request_valid_to("2026-11-29T09:00:00Z");
        let mut k = r.keys[0].clone();
        k.name = schema::tests::key_name("other");
        r.keys.push(k);
        let e = check_duplicates(&r).unwrap_err();
        assert!(
            matches!(
                e,
                RequestError::Duplicate {
                    what: "key_arn",
                    first: 0,
                    second: 1,
                    ..
                }
            ),
            "{e}"
        );
    }
}
