//! `WrapPath`: how the token carries out a wrapping algorithm, recorded in
//! the import bundle (`hsm.wrap_path`) and the attestation.

use std::fmt;

use serde::{Serialize, Serializer};

/// The PKCS#11 route one wrapping algorithm takes on a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrapPath {
    /// C_WrapKey with CKM_RSA_PKCS_OAEP (RSAES_OAEP_*).
    RsaOaep,
    /// C_WrapKey with CKM_RSA_AES_KEY_WRAP in one call.
    RsaAesKeyWrap,
    /// A transient AES-256 key: CKM_AES_KEY_WRAP_KWP of the material, then
    /// CKM_RSA_PKCS_OAEP of the transient key.
    KwpThenOaep,
    /// As [`WrapPath::KwpThenOaep`] with CKM_AES_KEY_WRAP_PAD, used only
    /// after its known-answer test proved it is RFC 5649.
    PadThenOaep,
}

impl WrapPath {
    /// The name written into bundles and attestations.
    pub fn as_str(self) -> &'static str {
        match self {
            WrapPath::RsaOaep => "CKM_RSA_PKCS_OAEP",
            WrapPath::RsaAesKeyWrap => "CKM_RSA_AES_KEY_WRAP",
            WrapPath::KwpThenOaep => "CKM_AES_KEY_WRAP_KWP+CKM_RSA_PKCS_OAEP",
            WrapPath::PadThenOaep => "CKM_AES_KEY_WRAP_PAD+CKM_RSA_PKCS_OAEP",
        }
    }

    /// True for the two-step paths that use a transient AES key.
    pub fn is_composite(self) -> bool {
        matches!(self, WrapPath::KwpThenOaep | WrapPath::PadThenOaep)
    }
}

impl fmt::Display for WrapPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WrapPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_match_formats_md() {
        assert_eq!(WrapPath::RsaOaep.to_string(), "CKM_RSA_PKCS_OAEP");
        assert_eq!(WrapPath::RsaAesKeyWrap.to_string(), "CKM_RSA_AES_KEY_WRAP");
        assert_eq!(
            WrapPath::KwpThenOaep.to_string(),
            "CKM_AES_KEY_WRAP_KWP+CKM_RSA_PKCS_OAEP"
        );
        assert_eq!(
            WrapPath::PadThenOaep.to_string(),
            "CKM_AES_KEY_WRAP_PAD+CKM_RSA_PKCS_OAEP"
        );
    }
}
