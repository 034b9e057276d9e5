//! One loaded PKCS#11 module: cryptoki's context, the raw function list for
//! the calls cryptoki lacks, and the call gate every call goes through.
//!
//! The library is opened once, hashed (SHA-256) from that open file, and
//! loaded through `/proc/self/fd/N` of the same open file, so the code that
//! runs is the code that was hashed: swapping the file between the hash and
//! the load changes nothing. The quorum pins that hash at enrolment.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

use crate::error::HsmError;
use crate::fault::{CallGate, P11Error};
use crate::raw::{LoadError, RawModule};

/// A loaded and initialised module, shared by [`crate::Hsm`] and its sessions.
#[derive(Debug)]
pub(crate) struct Module {
    pub path: PathBuf,
    /// SHA-256 (lowercase hex) of the library file that was loaded.
    pub sha256: String,
    /// The open library file, kept for the life of the module.
    _file: std::fs::File,
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
        let (file, sha256) = open_and_hash(path).map_err(|e| HsmError::NotPkcs11 {
            path: path.to_path_buf(),
            detail: format!("it cannot be read to compute its SHA-256: {e}"),
        })?;
        let loaded = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let raw = RawModule::load(&loaded).map_err(|e| HsmError::NotPkcs11 {
            path: path.to_path_buf(),
            detail: match e {
                LoadError::Dlopen(m) => format!("it cannot be loaded as a shared library: {m}"),
                LoadError::NoFunctionList(m) => m,
            },
        })?;
        let pkcs11 = Pkcs11::new(&loaded).map_err(|e| HsmError::NotPkcs11 {
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
            sha256,
            _file: file,
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

/// Opens a regular file (symlinks are resolved: the configured path is
/// what the quorum pins) and hashes its content from the open descriptor.
fn open_and_hash(path: &Path) -> std::io::Result<(std::fs::File, String)> {
    let mut file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok((file, hex::encode(hasher.finalize())))
}

/// SHA-256 (lowercase hex) of a module file, as [`crate::Hsm::open`]
/// computes it (for `airlock config check` and enrolment output).
pub fn module_sha256(path: &Path) -> std::io::Result<String> {
    open_and_hash(path).map(|(_, h)| h)
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
