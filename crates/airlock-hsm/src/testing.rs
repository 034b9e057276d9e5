//! Real soft tokens for tests (feature `testing`): SoftHSM2 or Kryoptic in
//! a temporary directory with its own configuration, initialised with an
//! SO PIN and a user PIN. The configuration variable (SOFTHSM2_CONF /
//! KRYOPTIC_CONF) is set in this process, so each test must run in its own
//! process (cargo-nextest), as PKCS#11 modules are process-global.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

/// The SoftHSM2 module on Debian.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The environment variable naming a Kryoptic module to use.
pub const KRYOPTIC_MODULE_ENV: &str = "AIRLOCK_KRYOPTIC_MODULE";

/// Which soft token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// SoftHSM 2 (Debian package softhsm2).
    SoftHsm,
    /// Kryoptic, built as target/debug/libairlock_kryoptic.so.
    Kryoptic,
}

/// How to set the test token up.
#[derive(Debug, Clone, Default)]
pub struct TestTokenOptions {
    /// Set the user PIN (default true via [`TestToken::new`]).
    pub skip_user_pin: bool,
    /// Kryoptic only: mechanisms the token must not offer (e.g.
    /// "CKM_AES_KEY_WRAP_KWP"), written as a `["DENY", ...]` list.
    pub deny_mechanisms: Vec<String>,
    /// Kryoptic only: the ec_point_encoding setting ("Der" or "Bytes").
    pub ec_point_encoding: Option<String>,
}

/// A soft token in a temporary directory.
#[derive(Debug)]
pub struct TestToken {
    kind: TokenKind,
    dir: tempfile::TempDir,
    module: PathBuf,
    conf_var: &'static str,
    conf_path: PathBuf,
    label: String,
    so_pin: Zeroizing<String>,
    user_pin: Zeroizing<String>,
}

/// Path of the Kryoptic module: `AIRLOCK_KRYOPTIC_MODULE`, else
/// `<workspace>/target/debug/libairlock_kryoptic.so`. Panics with the
/// command to build it when missing.
pub fn kryoptic_module() -> PathBuf {
    let p = std::env::var_os(KRYOPTIC_MODULE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/libairlock_kryoptic.so")
        });
    assert!(
        p.is_file(),
        "the Kryoptic test token {} is missing: build it with `cargo build -p airlock-test-token` \
         (or set {KRYOPTIC_MODULE_ENV} to its path)",
        p.display()
    );
    p.canonicalize().unwrap_or(p)
}

fn fatal(what: &str, e: Error) -> ! {
    panic!("test token setup: {what}: {e}")
}

impl TestToken {
    /// A token of `kind` with SO PIN and user PIN set, label `airlock-test`.
    pub fn new(kind: TokenKind) -> TestToken {
        Self::with_options(kind, TestTokenOptions::default())
    }

    /// A token of `kind` set up as `opts` says.
    pub fn with_options(kind: TokenKind, opts: TestTokenOptions) -> TestToken {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (module, conf_var, conf_path) = match kind {
            TokenKind::SoftHsm => {
                let tokens = dir.path().join("tokens");
                std::fs::create_dir(&tokens).expect("token directory");
                let conf = dir.path().join("softhsm2.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                        tokens.display()
                    ),
                )
                .expect("softhsm2.conf");
                (PathBuf::from(SOFTHSM_MODULE), "SOFTHSM2_CONF", conf)
            }
            TokenKind::Kryoptic => {
                let module = kryoptic_module();
                assert!(
                    opts.deny_mechanisms.iter().all(|m| m.starts_with("CKM_")),
                    "deny list entries are CKM_ names"
                );
                let conf = dir.path().join("kryoptic.conf");
                let mut text = String::new();
                if let Some(enc) = &opts.ec_point_encoding {
                    text.push_str(&format!("[ec_point_encoding]\nencoding = \"{enc}\"\n\n"));
                }
                text.push_str(&format!(
                    "[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                    dir.path().join("token.sql").display()
                ));
                if !opts.deny_mechanisms.is_empty() {
                    let list: Vec<String> = std::iter::once("DENY".to_string())
                        .chain(opts.deny_mechanisms.iter().cloned())
                        .map(|m| format!("\"{m}\""))
                        .collect();
                    text.push_str(&format!("mechanisms = [{}]\n", list.join(", ")));
                }
                std::fs::write(&conf, text).expect("kryoptic.conf");
                (module, "KRYOPTIC_CONF", conf)
            }
        };
        // Tests run one per process (nextest); setting the variable before
        // the module is first initialised is what configures it.
        crate::raw::set_env_before_module_load(conf_var, &conf_path);
        let t = TestToken {
            kind,
            dir,
            module,
            conf_var,
            conf_path,
            label: "airlock-test".into(),
            so_pin: Zeroizing::new("so-pin-1234".into()),
            user_pin: Zeroizing::new("user-pin-5678".into()),
        };
        t.initialise(&t.label.clone(), !opts.skip_user_pin);
        t
    }

    fn context(&self) -> Pkcs11 {
        let p = Pkcs11::new(&self.module).unwrap_or_else(|e| fatal("loading the module", e));
        match p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => fatal("C_Initialize", e),
        }
        p
    }

    /// Initialises a free slot as a token labelled `label` (C_InitToken),
    /// optionally setting the user PIN. Used again by tests that need two
    /// tokens (e.g. two with the same label).
    pub fn initialise(&self, label: &str, user_pin: bool) {
        let p = self.context();
        let slots = p
            .get_all_slots()
            .unwrap_or_else(|e| fatal("C_GetSlotList", e));
        let slot = slots
            .into_iter()
            .find(|s| {
                p.get_token_info(*s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .expect("no uninitialised slot left on the test token");
        let so = AuthPin::from(self.so_pin.as_str());
        p.init_token(slot, &so, label)
            .unwrap_or_else(|e| fatal("C_InitToken", e));
        if user_pin {
            let s = p
                .open_rw_session(slot)
                .unwrap_or_else(|e| fatal("C_OpenSession", e));
            s.login(UserType::So, Some(&so))
                .unwrap_or_else(|e| fatal("SO C_Login", e));
            s.init_pin(&AuthPin::from(self.user_pin.as_str()))
                .unwrap_or_else(|e| fatal("C_InitPIN", e));
            s.logout().unwrap_or_else(|e| fatal("C_Logout", e));
        }
    }

    /// Which soft token this is.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The PKCS#11 module.
    pub fn module_path(&self) -> &Path {
        &self.module
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A selector for this token's label.
    pub fn selector(&self) -> airlock_core::config::TokenSelector {
        airlock_core::config::TokenSelector::parse(&self.label).expect("label selector")
    }

    /// Sets an environment variable in this test process before anything
    /// reads it (e.g. `AIRLOCK_INSECURE_TEST_KDF=1` for fast enrolment);
    /// nextest runs one test per process.
    pub fn set_test_env(var: &str, value: &str) {
        crate::raw::set_env_before_module_load(var, Path::new(value));
    }

    /// The SO PIN.
    pub fn so_pin(&self) -> &Zeroizing<String> {
        &self.so_pin
    }

    /// The user PIN (unset on the token with `skip_user_pin`).
    pub fn user_pin(&self) -> &Zeroizing<String> {
        &self.user_pin
    }

    /// The temporary directory holding the token.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Environment for a child process (e.g. the `airlock` CLI) to see
    /// this token.
    pub fn env_vars(&self) -> Vec<(String, OsString)> {
        vec![(
            self.conf_var.to_string(),
            self.conf_path.clone().into_os_string(),
        )]
    }

    /// Writes an `airlock.toml` for this token with `state_dir`, in the
    /// token's directory, and returns its path.
    pub fn write_airlock_toml(&self, state_dir: &Path) -> PathBuf {
        let p = self.dir.path().join("airlock.toml");
        std::fs::write(
            &p,
            format!(
                "[hsm]\nmodule = \"{}\"\ntoken = \"{}\"\n\n[state]\ndir = \"{}\"\n",
                self.module.display(),
                self.label,
                state_dir.display()
            ),
        )
        .expect("airlock.toml");
        p
    }
}
