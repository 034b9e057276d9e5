//! Templates for the session objects the engine creates: an imported RSA
//! public key used only for wrapping, a secret key of known value (for
//! known-answer tests), and the transient AES-256 key of the two-step wrap
//! path. All are CKA_TOKEN false and tracked for destruction.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::error::{Context, HsmError};
use crate::session::UserSession;

impl UserSession {
    /// Imports an RSA public key as a session object that can only wrap.
    pub(crate) fn import_wrapping_key(
        &mut self,
        key: &rsa::PublicKey,
        what: &str,
    ) -> Result<ObjectHandle, HsmError> {
        let template = [
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Modulus(key.n_bytes().to_vec()),
            Attribute::PublicExponent(key.e_bytes().to_vec()),
            Attribute::Label(what.as_bytes().to_vec()),
        ];
        self.create_transient(what, &template)
    }

    /// Creates a session secret key of known value (known-answer tests).
    pub(crate) fn create_known_secret(
        &mut self,
        what: &str,
        key_type: KeyType,
        value: &Zeroizing<Vec<u8>>,
        wrap: bool,
        sign: bool,
    ) -> Result<ObjectHandle, HsmError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Wrap(wrap),
            Attribute::Sign(sign),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Value(value.to_vec()),
            Attribute::Label(what.as_bytes().to_vec()),
        ];
        self.create_transient(what, &template)
    }

    /// Generates the transient AES-256 key of the two-step wrap path:
    /// session-only, sensitive, may wrap and be wrapped, nothing else.
    pub(crate) fn generate_transient_aes(&mut self, what: &str) -> Result<ObjectHandle, HsmError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(false),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Sign(false),
            Attribute::ValueLen(32.into()),
            Attribute::Label(what.as_bytes().to_vec()),
        ];
        let h = self
            .call("C_GenerateKey", |s| {
                s.generate_key(&Mechanism::AesKeyGen, &template)
            })
            .ctx(|| format!("generating the {what} (CKM_AES_KEY_GEN)"))?;
        self.track(h, what);
        Ok(h)
    }
}
