//! The pieces both HSM benchmarks' bare cryptoki loops are made of: the
//! same PKCS#11 calls the engine makes per key (user session, AES key
//! template, attribute read-back, OAEP SHA-256, the AWS wrapping key as a
//! session object), and the untimed reset between runs.

use cryptoki::context::Pkcs11;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rsa::traits::PublicKeyParts;

use airlock_hsm::testing::TestToken;

/// A read-write session on the token, logged in as the user.
pub fn user_session(p: &Pkcs11, t: &TestToken) -> Session {
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::from(t.user_pin().as_str())))
        .unwrap();
    s
}

/// CKM_RSA_PKCS_OAEP with SHA-256 / MGF1-SHA-256 and an empty label.
pub fn oaep_sha256() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ))
}

/// The engine's SYMMETRIC_DEFAULT template (AES-256 token key).
pub fn aes_key_template(label: Vec<u8>) -> [Attribute; 14] {
    [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label),
    ]
}

/// The attributes the engine reads back after generation.
pub const READ_BACK: [AttributeType; 9] = [
    AttributeType::Token,
    AttributeType::Private,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::Unwrap,
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::ValueLen,
    AttributeType::Wrap,
];

/// Imports the AWS wrapping public key as a session object, as the engine
/// does before each C_WrapKey.
pub fn import_wrapping_key(s: &Session, public: &rsa::PublicKey) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::Modulus(public.n_bytes().to_vec()),
        Attribute::PublicExponent(public.e_bytes().to_vec()),
        Attribute::Label(b"airlock-aws-wrapping-key".to_vec()),
    ])
    .unwrap()
}

/// Destroys the token keys a run made (untimed), so every run starts from
/// the same, empty token database.
pub fn wipe_token_keys(p: &Pkcs11, t: &TestToken) {
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    // The engine's own session may still hold the login.
    let logged_in = s.login(UserType::User, Some(&AuthPin::from(t.user_pin().as_str())));
    for h in s
        .find_objects(&[
            Attribute::Token(true),
            Attribute::Class(ObjectClass::SECRET_KEY),
        ])
        .unwrap()
    {
        s.destroy_object(h).unwrap();
    }
    if logged_in.is_ok() {
        s.logout().unwrap();
    }
}
