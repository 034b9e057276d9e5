//! The only `unsafe` in Airlock: the few PKCS#11 calls cryptoki 0.12 cannot
//! make because it has no `Mechanism` for them (CKM_AES_KEY_WRAP_KWP,
//! CKM_RSA_AES_KEY_WRAP) or drops them from its mechanism list. The module
//! is loaded a second time with `dlopen` (the loader returns the same,
//! already initialised instance cryptoki uses) and its function list is
//! taken from `C_GetFunctionList`; sessions and objects are cryptoki's
//! handles.

// The workspace denies `unsafe` (Cargo.toml); this module is the exception.
#![allow(unsafe_code)]

use std::path::Path;
use std::ptr;

use cryptoki::context::Function;
use cryptoki::error::{Error, Rv};
use cryptoki_sys::{
    CK_FUNCTION_LIST, CK_MECHANISM, CK_MECHANISM_INFO, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE,
    CK_RSA_AES_KEY_WRAP_PARAMS, CK_RSA_PKCS_OAEP_PARAMS, CK_SESSION_HANDLE, CK_SLOT_ID, CK_ULONG,
    CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKM_AES_KEY_WRAP_KWP, CKM_RSA_AES_KEY_WRAP, CKM_SHA_1,
    CKM_SHA256, CKZ_DATA_SPECIFIED,
};

use airlock_core::spec::OaepHash;

/// A mechanism cryptoki cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawWrapMechanism {
    /// CKM_AES_KEY_WRAP_KWP (RFC 5649) with the default IV (no parameter).
    AesKeyWrapKwp,
    /// CKM_RSA_AES_KEY_WRAP with a 256-bit transient AES key and OAEP
    /// (hash and MGF1 both `hash`, empty label).
    RsaAesKeyWrap(OaepHash),
}

/// Why the module could not be loaded as a PKCS#11 library.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// dlopen failed.
    Dlopen(String),
    /// It has no usable C_GetFunctionList.
    NoFunctionList(String),
}

/// The module's PKCS#11 function list, for the calls cryptoki lacks.
pub(crate) struct RawModule {
    // Keeps the library mapped for as long as `list` is used.
    _lib: cryptoki_sys::Pkcs11,
    list: CK_FUNCTION_LIST,
}

impl std::fmt::Debug for RawModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawModule").finish_non_exhaustive()
    }
}

fn rv(code: cryptoki_sys::CK_RV, function: Function) -> Result<(), Error> {
    Rv::from(code).into_result(function)
}

impl RawModule {
    /// Loads `path` and reads its function list. Does not call C_Initialize.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        // SAFETY: loading a shared library runs its initialisers; the path is
        // the operator-configured PKCS#11 module, which we are about to trust
        // with the keys anyway.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(path) }
            .map_err(|e| LoadError::Dlopen(e.to_string()))?;
        if let Err(e) = &lib.C_GetFunctionList {
            return Err(LoadError::NoFunctionList(format!(
                "no C_GetFunctionList symbol: {e}"
            )));
        }
        let mut list_ptr: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: the symbol exists (checked above); C_GetFunctionList only
        // writes one pointer through the valid out-pointer we pass.
        let code = unsafe { lib.C_GetFunctionList(&mut list_ptr) };
        if let Err(e) = rv(code, Function::GetFunctionList) {
            return Err(LoadError::NoFunctionList(e.to_string()));
        }
        if list_ptr.is_null() {
            return Err(LoadError::NoFunctionList(
                "C_GetFunctionList returned NULL".into(),
            ));
        }
        // SAFETY: a non-null list from a successful C_GetFunctionList points
        // to the module's static CK_FUNCTION_LIST, valid while the library
        // stays loaded (we keep `lib`); we copy the table of pointers.
        let list = unsafe { *list_ptr };
        Ok(RawModule { _lib: lib, list })
    }

    /// Every mechanism type the slot lists, including the ones cryptoki drops.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, Error> {
        let f = self
            .list
            .C_GetMechanismList
            .ok_or(Error::NullFunctionPointer)?;
        let mut count: CK_ULONG = 0;
        // SAFETY: a null list pointer asks only for the count, written to a valid out-pointer.
        rv(
            unsafe { f(slot, ptr::null_mut(), &mut count) },
            Function::GetMechanismList,
        )?;
        let mut mechs: Vec<CK_MECHANISM_TYPE> = vec![0; count as usize];
        // SAFETY: `mechs` has room for `count` entries, which is what we pass.
        rv(
            unsafe { f(slot, mechs.as_mut_ptr(), &mut count) },
            Function::GetMechanismList,
        )?;
        mechs.truncate(count as usize);
        Ok(mechs)
    }

    /// C_GetMechanismInfo for any mechanism type.
    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO, Error> {
        let f = self
            .list
            .C_GetMechanismInfo
            .ok_or(Error::NullFunctionPointer)?;
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        // SAFETY: `info` is a valid, writable CK_MECHANISM_INFO.
        rv(
            unsafe { f(slot, mech, &mut info) },
            Function::GetMechanismInfo,
        )?;
        Ok(info)
    }

    /// C_WrapKey with a mechanism cryptoki cannot express. `session`,
    /// `wrapping` and `key` are live cryptoki handles of this module.
    pub fn wrap_key(
        &self,
        session: CK_SESSION_HANDLE,
        mechanism: RawWrapMechanism,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, Error> {
        let f = self.list.C_WrapKey.ok_or(Error::NullFunctionPointer)?;
        // Parameter structs live on this frame until both calls returned.
        let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: 0,
            mgf: 0,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: ptr::null_mut(),
            ulSourceDataLen: 0,
        };
        let mut rsa_aes = CK_RSA_AES_KEY_WRAP_PARAMS {
            ulAESKeyBits: 256,
            pOAEPParams: ptr::null_mut(),
        };
        let mut mech = match mechanism {
            RawWrapMechanism::AesKeyWrapKwp => CK_MECHANISM {
                mechanism: CKM_AES_KEY_WRAP_KWP,
                pParameter: ptr::null_mut(),
                ulParameterLen: 0,
            },
            RawWrapMechanism::RsaAesKeyWrap(hash) => {
                (oaep.hashAlg, oaep.mgf) = match hash {
                    OaepHash::Sha1 => (CKM_SHA_1, CKG_MGF1_SHA1),
                    OaepHash::Sha256 => (CKM_SHA256, CKG_MGF1_SHA256),
                };
                rsa_aes.pOAEPParams = &mut oaep;
                CK_MECHANISM {
                    mechanism: CKM_RSA_AES_KEY_WRAP,
                    pParameter: (&mut rsa_aes as *mut CK_RSA_AES_KEY_WRAP_PARAMS).cast(),
                    ulParameterLen: std::mem::size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>() as CK_ULONG,
                }
            }
        };
        let mut len: CK_ULONG = 0;
        // SAFETY: `mech` and the parameters it points to outlive the call; a
        // null output buffer asks only for the length, written to `len`.
        rv(
            unsafe { f(session, &mut mech, wrapping, key, ptr::null_mut(), &mut len) },
            Function::WrapKey,
        )?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: as above; `out` has room for `len` bytes, which we pass.
        rv(
            unsafe {
                f(
                    session,
                    &mut mech,
                    wrapping,
                    key,
                    out.as_mut_ptr(),
                    &mut len,
                )
            },
            Function::WrapKey,
        )?;
        out.truncate(len as usize);
        Ok(out)
    }
}

/// Sets an environment variable that configures a soft token (test tokens
/// only). Edition 2024 makes `set_var` unsafe; it lives here so that this
/// module stays the project's only `unsafe` code.
#[cfg(feature = "testing")]
pub(crate) fn set_env_before_module_load(var: &str, value: &Path) {
    // SAFETY: called by the test's own thread before the PKCS#11 module (the
    // only other reader of the variable) is loaded; nextest runs one test per
    // process, so no other thread reads the environment concurrently.
    unsafe { std::env::set_var(var, value) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_without_pkcs11_symbols_is_refused() {
        let libm = Path::new("/lib/x86_64-linux-gnu/libm.so.6");
        assert!(libm.exists(), "test needs {}", libm.display());
        match RawModule::load(libm) {
            Err(LoadError::NoFunctionList(m)) => assert!(m.contains("C_GetFunctionList"), "{m}"),
            other => panic!("expected NoFunctionList, got {other:?}"),
        }
    }

    #[test]
    fn a_non_library_is_refused_by_dlopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("not-a-lib.so");
        std::fs::write(&f, b"hello").unwrap();
        assert!(matches!(RawModule::load(&f), Err(LoadError::Dlopen(_))));
    }
}
