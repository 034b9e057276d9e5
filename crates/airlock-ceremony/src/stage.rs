//! Where a ceremony is, as one value: [`Stage`]. Each variant holds what
//! that stage has (the quorum being gathered, the verified request and the
//! confirmations given for it, the HSM session with its checked signing
//! key, the wrapped keys, the published bundle, the end), so a step that
//! needs something the ceremony does not have yet cannot even reach it:
//! it finds the wrong variant and is refused with
//! [`CeremonyError::OutOfOrder`](crate::CeremonyError::OutOfOrder).
//!
//! [`Need`] is what the stage asks for next. The CLI is a loop over it; the
//! window draws the [`StageKind`] and the need it gets back from the worker.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use airlock_core::quorum::QuorumLogin;
use airlock_core::request::VerifiedRequest;
use airlock_core::signature::SignerKey;
use airlock_core::spec::WrappingAlgorithm;
use airlock_hsm::{SigningKeyInfo, TrustedWrappingKeys, UserSession, WrapPath};

use crate::runner::{ExistingMaterial, ExportOutcome, KeyOutcome, WipeOutcome};

/// The ceremony's one stage.
pub enum Stage {
    /// Preflight passed; custodians may authenticate; the request is next.
    Preflighted(Box<QuorumLogin>),
    /// The request verified and the journal open: the plan, the request
    /// digest, the output folder, (the security officer) and the quorum
    /// come before the login.
    Verified(Box<Verified>),
    /// The quorum logged in: self-tests passed, the signing key and the
    /// state are authenticated. Keys generated so far (after a stop or a
    /// failure, some).
    LoggedIn(Box<InHsm>),
    /// Every key generated and wrapped; the material is in memory.
    Wrapped(Box<InHsm>),
    /// The bundle is sealed, read back and published.
    Published(Box<Published>),
    /// A step failed after the quorum's shares were used (the login) or
    /// half way through the wipe: only an abort follows (it destroys the
    /// session objects, logs out and says what stays in the HSM).
    Halted(Box<Halted>),
    /// Completed (wiped) or aborted; nothing more happens.
    Ended(Box<Ended>),
    /// While a step holds the stage's contents. Seen between steps only
    /// after a step panicked (its contents were dropped, which logs the HSM
    /// session out): only an abort follows.
    InStep,
}

/// The request and what was confirmed about it, carried from verification
/// to the end.
pub struct RequestStage {
    pub(crate) request: Arc<VerifiedRequest>,
    pub(crate) request_dir: PathBuf,
    /// The output folder, chosen (and checked) before the login; for a
    /// ceremony that published before, where it published.
    pub(crate) out_dir: Option<PathBuf>,
    /// Roster names of the custodians who confirmed the plan.
    pub(crate) plan_confirmed: Vec<String>,
    pub(crate) request_digest_confirmed: bool,
    /// The request's wrapping keys as the security officer marked them
    /// trusted (policy `wrap_with_trusted`).
    pub(crate) trusted: Option<TrustedWrappingKeys>,
    /// What an earlier, interrupted run of this ceremony claims: labels it
    /// planned and the digest of a bundle it published. Trusted only once
    /// the HSM checkpoint after the login covers them.
    pub(crate) resumable_labels: HashSet<String>,
    pub(crate) published_before: Option<String>,
    /// True when this run resumes an unfinished ceremony's record.
    pub(crate) resumed: bool,
}

/// [`Stage::Verified`].
pub struct Verified {
    pub(crate) quorum: QuorumLogin,
    pub(crate) req: RequestStage,
}

/// [`Stage::LoggedIn`] and [`Stage::Wrapped`]: the HSM session and what
/// was checked in it.
pub struct InHsm {
    pub(crate) req: RequestStage,
    pub(crate) session: UserSession,
    pub(crate) signing_key: SigningKeyInfo,
    /// The enrolled ceremony key, checked to be the HSM's: verifies and
    /// names state seals.
    pub(crate) state_key: SignerKey,
    /// The wrap path the self-tests chose per algorithm.
    pub(crate) wrap_paths: Vec<(WrappingAlgorithm, WrapPath)>,
    /// Existing material checked after login (None until looked at).
    pub(crate) existing: Option<Vec<ExistingMaterial>>,
    /// Key names whose existing material the custodians confirmed.
    pub(crate) existing_confirmed: HashSet<String>,
    pub(crate) keys: Vec<KeyOutcome>,
    /// The bundle's staging folder, holding the files of every key in
    /// `keys` (written beside the generation), until Seal & export.
    pub(crate) stager: Option<crate::key_stager::KeyStager>,
}

/// [`Stage::Published`].
pub struct Published {
    pub(crate) hsm: InHsm,
    pub(crate) export: ExportOutcome,
    /// The bundle digest was confirmed, or journaled as not confirmed.
    pub(crate) bundle_digest_settled: bool,
    /// The custodians confirmed that no tamper-evident bags were used.
    pub(crate) no_seal_serials_confirmed: bool,
}

/// [`Stage::Halted`]: whatever the ceremony still holds, as the abort (or
/// the wipe) takes it apart.
#[derive(Default)]
pub struct Halted {
    pub(crate) req: Option<RequestStage>,
    pub(crate) session: Option<UserSession>,
    pub(crate) state_key: Option<SignerKey>,
    pub(crate) wrap_paths: Vec<(WrappingAlgorithm, WrapPath)>,
    pub(crate) keys: Vec<KeyOutcome>,
    pub(crate) export: Option<ExportOutcome>,
}

/// [`Stage::Ended`].
pub struct Ended {
    pub(crate) completed: bool,
    pub(crate) req: Option<RequestStage>,
    pub(crate) wrap_paths: Vec<(WrappingAlgorithm, WrapPath)>,
    pub(crate) keys: Vec<KeyOutcome>,
    pub(crate) export: Option<ExportOutcome>,
    pub(crate) wipe: WipeOutcome,
}

/// A stage without its contents, for a face to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// [`Stage::Preflighted`].
    Preflighted,
    /// [`Stage::Verified`].
    Verified,
    /// [`Stage::LoggedIn`].
    LoggedIn,
    /// [`Stage::Wrapped`].
    Wrapped,
    /// [`Stage::Published`].
    Published,
    /// [`Stage::Halted`].
    Halted,
    /// [`Stage::Ended`], completed.
    Completed,
    /// [`Stage::Ended`], aborted.
    Aborted,
    /// [`Stage::InStep`] after a step panicked.
    Broken,
}

/// What the ceremony needs next, in the order the engine takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// [`Ceremony::verify_request`](crate::Ceremony::verify_request) with the request folder.
    Request,
    /// [`Ceremony::confirm_plan`](crate::Ceremony::confirm_plan), by these
    /// custodians (empty: by every custodian who will log in).
    PlanConfirmation {
        /// Authenticated custodians who have not confirmed it.
        missing: Vec<String>,
    },
    /// [`Ceremony::confirm_request_digest`](crate::Ceremony::confirm_request_digest).
    RequestDigest,
    /// [`Ceremony::choose_output`](crate::Ceremony::choose_output).
    OutputFolder,
    /// [`Ceremony::mark_trusted_wrapping_keys`](crate::Ceremony::mark_trusted_wrapping_keys).
    SecurityOfficer,
    /// [`Ceremony::authenticate`](crate::Ceremony::authenticate), until the quorum is met.
    Custodians {
        /// Counted so far.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// [`Ceremony::login`](crate::Ceremony::login).
    Login,
    /// [`Ceremony::confirm_existing`](crate::Ceremony::confirm_existing) for each.
    ExistingConfirmation(Vec<ExistingMaterial>),
    /// [`Ceremony::generate_and_wrap`](crate::Ceremony::generate_and_wrap).
    Generate,
    /// [`Ceremony::seal_and_export`](crate::Ceremony::seal_and_export).
    Seal,
    /// [`Ceremony::confirm_bundle_digest`](crate::Ceremony::confirm_bundle_digest)
    /// or [`Ceremony::bundle_digest_not_confirmed`](crate::Ceremony::bundle_digest_not_confirmed).
    BundleDigest {
        /// SHA-256 of the published bundle's `SHA256SUMS`.
        sums_sha256: String,
    },
    /// [`Ceremony::wipe`](crate::Ceremony::wipe).
    Wipe,
    /// [`Ceremony::abort`](crate::Ceremony::abort): nothing else can follow.
    Abort,
    /// Nothing: the ceremony ended.
    Nothing,
}

impl Stage {
    /// The stage without its contents.
    pub fn kind(&self) -> StageKind {
        match self {
            Stage::Preflighted(_) => StageKind::Preflighted,
            Stage::Verified(_) => StageKind::Verified,
            Stage::LoggedIn(_) => StageKind::LoggedIn,
            Stage::Wrapped(_) => StageKind::Wrapped,
            Stage::Published(_) => StageKind::Published,
            Stage::Halted(_) => StageKind::Halted,
            Stage::Ended(e) if e.completed => StageKind::Completed,
            Stage::Ended(_) => StageKind::Aborted,
            Stage::InStep => StageKind::Broken,
        }
    }

    /// The request and its confirmations, from verification on.
    pub(crate) fn req(&self) -> Option<&RequestStage> {
        match self {
            Stage::Verified(v) => Some(&v.req),
            Stage::LoggedIn(h) | Stage::Wrapped(h) => Some(&h.req),
            Stage::Published(p) => Some(&p.hsm.req),
            Stage::Halted(h) => h.req.as_ref(),
            Stage::Ended(e) => e.req.as_ref(),
            Stage::Preflighted(_) | Stage::InStep => None,
        }
    }

    /// The HSM work, while logged in.
    pub(crate) fn in_hsm(&self) -> Option<&InHsm> {
        match self {
            Stage::LoggedIn(h) | Stage::Wrapped(h) => Some(h),
            Stage::Published(p) => Some(&p.hsm),
            _ => None,
        }
    }

    /// The keys wrapped so far.
    pub(crate) fn keys(&self) -> &[KeyOutcome] {
        match self {
            Stage::Ended(e) => &e.keys,
            Stage::Halted(h) => &h.keys,
            other => other.in_hsm().map(|h| h.keys.as_slice()).unwrap_or(&[]),
        }
    }

    /// The published bundle.
    pub(crate) fn export(&self) -> Option<&ExportOutcome> {
        match self {
            Stage::Published(p) => Some(&p.export),
            Stage::Ended(e) => e.export.as_ref(),
            Stage::Halted(h) => h.export.as_ref(),
            _ => None,
        }
    }
}
