//! One loaded PKCS#11 module: cryptoki's context, the raw function list for
//! the calls cryptoki lacks, and the call gate every call goes through.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

use crate::error::HsmError;
use crate::fault::{CallGate, P11Error};
use crate::raw::{LoadError, RawModule};

/// A loaded and initialised module, shared by [`crate::Hsm`] and its sessions.
#[derive(Debug)]
pub(crate) struct Module {
    pub path: PathBuf,
    pub pkcs11: Pkcs11,
    pub raw: RawModule,
    pub gate: CallGate,
}

impl Module {
    /// Loads and initialises `path`. A module already initialised in this
    /// process (by an earlier open) is used as it is.
    pub fn load(path: &Path) -> Result<Module, HsmError> {
        if !path.exists() {
            return Err(HsmError::ModuleNotFound {
                path: path.to_path_buf(),
            });
        }
        let raw = RawModule::load(path).map_err(|e| HsmError::NotPkcs11 {
            path: path.to_path_buf(),
            detail: match e {
                LoadError::Dlopen(m) => format!("it cannot be loaded as a shared library: {m}"),
                LoadError::NoFunctionList(m) => m,
            },
        })?;
        let pkcs11 = Pkcs11::new(path).map_err(|e| HsmError::NotPkcs11 {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let gate = CallGate::from_env();
        let init = gate.call("C_Initialize", || {
            match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
                other => other,
            }
        });
        if let Err(e) = init {
            return Err(module_init_error(path, e));
        }
        Ok(Module {
            path: path.to_path_buf(),
            pkcs11,
            raw,
            gate,
        })
    }

    /// Makes one PKCS#11 call through the gate.
    #[inline]
    pub fn call<T>(
        &self,
        function: &'static str,
        f: impl FnOnce() -> cryptoki::error::Result<T>,
    ) -> Result<T, P11Error> {
        self.gate.call(function, f)
    }
}

/// A failed module-level call (initialise, slot and token enumeration).
pub(crate) fn module_init_error(path: &Path, e: P11Error) -> HsmError {
    HsmError::ModuleInit {
        path: path.to_path_buf(),
        function: e.function,
        ckr: match e.cause {
            crate::fault::Cause::Token(c) => c,
            crate::fault::Cause::Injected(n) => format!("an injected fault (call #{n})"),
        },
    }
}
