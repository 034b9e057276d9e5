//! Wrap-with-trusted (issue 13, "keys can do as little as possible"): when
//! the quorum's policy asks for it, generated keys carry
//! `CKA_WRAP_WITH_TRUSTED`, so the token wraps them only under a wrapping
//! key marked `CKA_TRUSTED`, and only the security officer can mark one.
//! During the ceremony, before the quorum login, the SO logs in on a
//! session of its own, imports each AWS wrapping public key of the request
//! as a *public* session object with `CKA_TRUSTED` true, and logs out; the
//! session stays open (public session objects live until it closes) and
//! the quorum's wraps use those objects. Only the direct wrap paths work
//! this way (`CKM_RSA_PKCS_OAEP`, `CKM_RSA_AES_KEY_WRAP`): the two-step path
//! wraps under a transient AES key that nobody can mark trusted.

use std::sync::Arc;

use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Context, HsmError};
use crate::module::Module;
use crate::token::Hsm;
use crate::wrap::parse_wrapping_key;

/// Wrapping keys the security officer marked trusted, alive while this
/// value (and its session) is.
pub struct TrustedWrappingKeys {
    module: Arc<Module>,
    session: Option<Session>,
    keys: Vec<(Vec<u8>, ObjectHandle)>,
}

impl std::fmt::Debug for TrustedWrappingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedWrappingKeys")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl TrustedWrappingKeys {
    /// The trusted object for a wrapping key (DER SPKI), if the SO marked it.
    pub(crate) fn handle_for(&self, spki_der: &[u8]) -> Option<ObjectHandle> {
        self.keys
            .iter()
            .find(|(k, _)| k.as_slice() == spki_der)
            .map(|(_, h)| *h)
    }

    /// SHA-256 of each marked key's SPKI (for the journal).
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|(k, _)| hex::encode(Sha256::digest(k)))
            .collect()
    }

    /// Closes the SO's session, which destroys the trusted objects.
    pub fn close(mut self) -> Result<(), HsmError> {
        match self.session.take() {
            Some(s) => self
                .module
                .call("C_CloseSession", || s.close())
                .ctx(|| "closing the security officer's session".into()),
            None => Ok(()),
        }
    }
}

impl Drop for TrustedWrappingKeys {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = self.module.call("C_CloseSession", || s.close());
        }
    }
}

impl Hsm {
    /// The security officer marks each of `wrapping_keys` (DER SPKI,
    /// duplicates once) trusted, as public session objects of a session of
    /// its own; then logs out and keeps the session open.
    pub fn so_mark_trusted(
        &self,
        so_pin: &Zeroizing<String>,
        wrapping_keys: &[&[u8]],
    ) -> Result<TrustedWrappingKeys, HsmError> {
        let m = &self.module;
        let label = &self.identity.label;
        let session = m
            .call("C_OpenSession", || m.pkcs11.open_rw_session(self.slot))
            .ctx(|| format!("opening the security officer's session on token {label:?}"))?;
        let pin = AuthPin::from(so_pin.as_str());
        self.login(&session, UserType::So, &pin)?;
        let mut out = TrustedWrappingKeys {
            module: m.clone(),
            session: None,
            keys: Vec::new(),
        };
        let made = (|| {
            for spki in wrapping_keys {
                if out.handle_for(spki).is_some() {
                    continue;
                }
                let (key, _) = parse_wrapping_key(spki)?;
                let template = [
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Token(false),
                    Attribute::Private(false),
                    Attribute::Trusted(true),
                    Attribute::Wrap(true),
                    Attribute::Encrypt(false),
                    Attribute::Verify(false),
                    Attribute::Modulus(key.n_bytes().to_vec()),
                    Attribute::PublicExponent(key.e_bytes().to_vec()),
                    Attribute::Label(b"airlock-trusted-aws-wrapping-key".to_vec()),
                ];
                let h = m
                    .call("C_CreateObject", || session.create_object(&template))
                    .ctx(|| {
                        "marking an AWS wrapping key trusted (CKA_TRUSTED, as security officer)"
                            .into()
                    })?;
                out.keys.push((spki.to_vec(), h));
            }
            Ok::<(), HsmError>(())
        })();
        let logout = m
            .call("C_Logout", || session.logout())
            .ctx(|| format!("security officer logout from token {label:?}"));
        out.session = Some(session);
        made?;
        logout?;
        Ok(out)
    }
}
