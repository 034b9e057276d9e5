//! `UserSession`: a read-write session logged in as the user. It tracks
//! every session object the engine creates (imported wrapping keys,
//! transient AES keys, known-answer-test keys), destroys them as soon as
//! the step that needed them ends — error paths included — and on close or
//! drop destroys what is left and logs out.

use std::collections::HashMap;
use std::sync::Arc;

use airlock_core::spec::WrappingAlgorithm;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use serde::Serialize;

use crate::error::{Context, HsmError};
use crate::fault::P11Error;
use crate::kat::KatCache;
use crate::module::Module;
use crate::probe::Capabilities;
use crate::token::{Hsm, TokenIdentity};
use crate::wrap_path::WrapPath;

/// A session object still present on the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionObject {
    /// The object handle.
    pub handle: u64,
    /// CKA_LABEL (lossy UTF-8).
    pub label: String,
    /// CKA_CLASS.
    pub class: String,
}

/// What [`UserSession::close`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Labels of the session objects destroyed at close.
    pub destroyed_at_close: Vec<String>,
    /// Session objects destroyed during the session, step by step.
    pub destroyed_during_session: u64,
    /// Session objects visible after cleanup (0 when the close succeeds).
    pub remaining: usize,
}

/// A logged-in user session. See the module docs.
pub struct UserSession {
    pub(crate) module: Arc<Module>,
    pub(crate) slot: Slot,
    pub(crate) identity: TokenIdentity,
    session: Option<Session>,
    transient: Vec<(ObjectHandle, String)>,
    destroyed: u64,
    pub(crate) caps: Option<Capabilities>,
    pub(crate) proven: HashMap<WrappingAlgorithm, WrapPath>,
    pub(crate) kat: KatCache,
}

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSession")
            .field("token", &self.identity.label)
            .field("transient", &self.transient.len())
            .field("proven", &self.proven)
            .finish_non_exhaustive()
    }
}

impl UserSession {
    pub(crate) fn new(hsm: &Hsm, session: Session) -> Self {
        UserSession {
            module: hsm.module.clone(),
            slot: hsm.slot,
            identity: hsm.identity.clone(),
            session: Some(session),
            transient: Vec::new(),
            destroyed: 0,
            caps: None,
            proven: HashMap::new(),
            kat: KatCache::default(),
        }
    }

    /// The token this session is on.
    pub fn identity(&self) -> &TokenIdentity {
        &self.identity
    }

    /// The cryptoki session. Present from login until close/drop.
    pub(crate) fn s(&self) -> &Session {
        self.session
            .as_ref()
            .expect("UserSession used after close: the session is taken only by close/drop")
    }

    /// One PKCS#11 call on this session through the gate.
    #[inline]
    pub(crate) fn call<T>(
        &self,
        function: &'static str,
        f: impl FnOnce(&Session) -> cryptoki::error::Result<T>,
    ) -> Result<T, P11Error> {
        let s = self.s();
        self.module.call(function, || f(s))
    }

    /// Creates a session object and tracks it for destruction.
    pub(crate) fn create_transient(
        &mut self,
        what: &str,
        template: &[Attribute],
    ) -> Result<ObjectHandle, HsmError> {
        let h = self
            .call("C_CreateObject", |s| s.create_object(template))
            .ctx(|| format!("creating the session object {what}"))?;
        self.transient.push((h, what.to_string()));
        Ok(h)
    }

    /// Tracks a session object created by the caller (e.g. C_GenerateKey).
    pub(crate) fn track(&mut self, h: ObjectHandle, what: &str) {
        self.transient.push((h, what.to_string()));
    }

    /// Destroys every tracked session object. A failed C_DestroyObject is
    /// retried once at once (so nothing is left behind) but still reported
    /// as an error, since the token misbehaved. Objects that could not be
    /// destroyed at all stay tracked for close/drop.
    pub(crate) fn destroy_transient(&mut self) -> Result<Vec<String>, HsmError> {
        let mut done = Vec::new();
        let mut problems = Vec::new();
        let mut left = Vec::new();
        for (h, what) in std::mem::take(&mut self.transient) {
            let Err(first) = self.call("C_DestroyObject", |s| s.destroy_object(h)) else {
                self.destroyed += 1;
                done.push(what);
                continue;
            };
            match self.call("C_DestroyObject", |s| s.destroy_object(h)) {
                Ok(()) => {
                    self.destroyed += 1;
                    problems.push(format!("destroying {what}: {first} (destroyed on retry)"));
                    done.push(what);
                }
                Err(second) => {
                    problems.push(format!("destroying {what}: {first}, then {second}"));
                    left.push((h, what));
                }
            }
        }
        self.transient = left;
        if problems.is_empty() {
            Ok(done)
        } else {
            Err(HsmError::Cleanup {
                detail: problems.join("; "),
            })
        }
    }

    /// Runs `f`, then destroys the session objects it created, whatever
    /// `f` returned. An error from `f` wins over a cleanup error.
    pub(crate) fn scoped<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let result = f(self);
        let cleanup = self.destroy_transient();
        match (result, cleanup) {
            (Err(e), Err(c)) => {
                tracing::error!(error = %c, "cleanup after a failed step also failed");
                Err(e)
            }
            (Err(e), Ok(_)) => Err(e),
            (Ok(_), Err(c)) => Err(c),
            (Ok(v), Ok(_)) => Ok(v),
        }
    }

    /// The session objects (CKA_TOKEN false) visible now.
    pub fn session_objects(&mut self) -> Result<Vec<SessionObject>, HsmError> {
        let handles = self
            .call("C_FindObjects", |s| {
                s.find_objects(&[Attribute::Token(false)])
            })
            .ctx(|| "listing session objects".to_string())?;
        let mut out = Vec::new();
        for h in handles {
            let attrs = self
                .call("C_GetAttributeValue", |s| {
                    s.get_attributes(h, &[AttributeType::Label, AttributeType::Class])
                })
                .ctx(|| "reading a session object's label".to_string())?;
            let mut obj = SessionObject {
                handle: h.handle(),
                label: String::new(),
                class: String::new(),
            };
            for a in attrs {
                match a {
                    Attribute::Label(l) => obj.label = String::from_utf8_lossy(&l).into_owned(),
                    Attribute::Class(c) => obj.class = c.to_string(),
                    _ => {}
                }
            }
            out.push(obj);
        }
        Ok(out)
    }

    /// Destroys the tracked session objects and counts what is left, but
    /// stays logged in (so that the ceremony can still seal its journal
    /// after journaling the wipe); [`UserSession::close`] then logs out.
    pub fn destroy_session_objects(&mut self) -> Result<CleanupReport, HsmError> {
        let destroyed = self.destroy_transient()?;
        let remaining = self.session_objects()?;
        Ok(CleanupReport {
            destroyed_at_close: destroyed,
            destroyed_during_session: self.destroyed,
            remaining: remaining.len(),
        })
    }

    /// Destroys the tracked session objects, checks that none remain, logs
    /// out and closes the session.
    pub fn close(mut self) -> Result<CleanupReport, HsmError> {
        let destroyed = self.destroy_transient();
        let remaining = self.session_objects();
        let logout = self
            .call("C_Logout", |s| s.logout())
            .ctx(|| format!("logging out of token {:?}", self.identity.label));
        let session = self.session.take();
        let closed = match session {
            Some(s) => self
                .module
                .call("C_CloseSession", || s.close())
                .ctx(|| "closing the session".into()),
            None => Ok(()),
        };
        let destroyed = destroyed?;
        let remaining = remaining?;
        if !remaining.is_empty() {
            return Err(HsmError::Cleanup {
                detail: format!(
                    "{} session object(s) remained before logout: {}",
                    remaining.len(),
                    remaining
                        .iter()
                        .map(|o| format!("{:?} ({})", o.label, o.class))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        logout?;
        closed?;
        Ok(CleanupReport {
            destroyed_at_close: destroyed,
            destroyed_during_session: self.destroyed,
            remaining: 0,
        })
    }
}

impl Drop for UserSession {
    fn drop(&mut self) {
        if self.session.is_none() {
            return;
        }
        if let Err(e) = self.destroy_transient() {
            tracing::error!(error = %e, "dropping a user session: closing it destroys the rest");
        }
        let _ = self.call("C_Logout", |s| s.logout());
        if let Some(s) = self.session.take() {
            let _ = self.module.call("C_CloseSession", || s.close());
        }
    }
}
