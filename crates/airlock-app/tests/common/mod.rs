//! A workbench for tests that drive the real `airlock` binary against a
//! real soft token: a fresh token (SoftHSM2 or Kryoptic) in a temporary
//! directory, an `airlock.toml`, a state directory, custodian passphrase
//! files, the test-only request signer, and request bundles built with
//! openssl by `tests/lib/make-request-bundle.sh`, as the online side would.
//! Tests run one per process (cargo-nextest), since a PKCS#11 module is
//! initialised once per process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use airlock_hsm::testing::{TestToken, TokenKind};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A test-only key from `tests/fixtures/test-only-keys`.
pub fn fixture_key(name: &str) -> PathBuf {
    repo().join("tests/fixtures/test-only-keys").join(name)
}

/// One token, one state directory, one configuration.
pub struct Workbench {
    pub token: TestToken,
    pub root: tempfile::TempDir,
    pub state: PathBuf,
    pub config: PathBuf,
}

impl Workbench {
    /// A new workbench on a fresh token of `kind`.
    pub fn new(kind: TokenKind) -> Self {
        let token = TestToken::new(kind);
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        let config = token.write_airlock_toml(&state);
        Workbench {
            token,
            root,
            state,
            config,
        }
    }

    /// A workbench ready for a ceremony: custodians alice and bob enrolled
    /// (2 of 2) and the test-only request signer trusted.
    pub fn ready(kind: TokenKind) -> Self {
        Self::ready_with(kind, &[])
    }

    /// As [`Workbench::ready`] with extra `enroll` arguments (e.g.
    /// `--allow-existing-material`).
    pub fn ready_with(kind: TokenKind, enroll_args: &[&str]) -> Self {
        let wb = Self::new(kind);
        wb.enroll_with(&["alice", "bob"], 2, enroll_args);
        wb.trust_signer();
        wb
    }

    /// Runs `airlock ceremony run` for alice and bob (with
    /// `--allow-network`) plus `extra` arguments.
    pub fn run_ceremony(&self, request: &Path, out: &Path, extra: &[&str]) -> Output {
        self.airlock()
            .args(self.ceremony_args(request, out, &["alice", "bob"]))
            .args(extra)
            .output()
            .unwrap()
    }

    /// A path under the workbench's temporary root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `airlock` with this workbench's token and configuration.
    pub fn airlock(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_airlock"));
        for (k, v) in self.token.env_vars() {
            c.env(k, v);
        }
        c.env("AIRLOCK_CONFIG", &self.config)
            .env("AIRLOCK_INSECURE_TEST_KDF", "1")
            .env_remove("AIRLOCK_FAULT_FAIL_CALL");
        c
    }

    /// Runs `airlock ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.airlock().args(args).output().unwrap()
    }

    /// Writes (once) and returns a custodian's passphrase file.
    pub fn passphrase(&self, name: &str) -> PathBuf {
        let p = self.path(&format!("secrets/{name}.pass"));
        if !p.exists() {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("{name} has a long test passphrase\n")).unwrap();
        }
        p
    }

    /// `NAME=@FILE` for a custodian.
    pub fn custodian_arg(&self, name: &str) -> String {
        format!("{name}=@{}", self.passphrase(name).display())
    }

    /// Writes the SO PIN file.
    pub fn so_pin_file(&self) -> PathBuf {
        let p = self.path("secrets/so-pin");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("{}\n", self.token.so_pin().as_str())).unwrap();
        p
    }

    /// Enrols `names` with threshold `m`; panics with the output on failure.
    pub fn enroll(&self, names: &[&str], m: usize) {
        self.enroll_with(names, m, &[])
    }

    /// The `enroll` arguments for `names` with threshold `m`.
    pub fn enroll_args(&self, names: &[&str], m: usize) -> Vec<String> {
        let so = self.so_pin_file();
        let mut args: Vec<String> = vec!["enroll".into(), "--threshold".into(), m.to_string()];
        for n in names {
            args.push("--custodian".into());
            args.push(self.custodian_arg(n));
        }
        args.push("--so-pin-file".into());
        args.push(so.display().to_string());
        args
    }

    /// As [`Workbench::enroll`] with extra arguments.
    pub fn enroll_with(&self, names: &[&str], m: usize, extra: &[&str]) {
        let out = self
            .airlock()
            .args(self.enroll_args(names, m))
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&out, "enroll");
    }

    /// Enrols the test-only RSA-3072 request signer, approved by alice and
    /// bob (a quorum trust change, sealed by the HSM).
    pub fn trust_signer(&self) {
        let pem = fixture_key("test-only-signer-rsa3072.pub.pem");
        let out = self
            .airlock()
            .args([
                "trust",
                "add-signer",
                pem.to_str().unwrap(),
                "--name",
                "online-test",
                "--custodian",
                &self.custodian_arg("alice"),
                "--custodian",
                &self.custodian_arg("bob"),
            ])
            .output()
            .unwrap();
        assert_ok(&out, "trust add-signer");
    }

    /// Builds a signed request bundle at `out` with `extra` generator
    /// arguments (e.g. `--key NAME:SPEC:ALG:WRAPSPEC`). Wrapping keys are
    /// made (and kept, private) in `wrapping-keys/` under the root.
    pub fn make_request(&self, out: &Path, extra: &[&str]) {
        let st = Command::new("bash")
            .arg(repo().join("tests/lib/make-request-bundle.sh"))
            .arg("--out")
            .arg(out)
            .arg("--signer-key")
            .arg(fixture_key("test-only-signer-rsa3072.key.pem"))
            .arg("--wrapping-key-dir")
            .arg(self.path("wrapping-keys"))
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&st, "make-request-bundle.sh");
    }

    /// The private wrapping key the generator used for `spec` (RSA_2048...).
    pub fn wrapping_key(&self, spec: &str) -> PathBuf {
        self.path(&format!("wrapping-keys/wrapping-{spec}.pem"))
    }

    /// `ceremony run` arguments for `custodians`.
    pub fn ceremony_args(&self, request: &Path, out: &Path, custodians: &[&str]) -> Vec<String> {
        // Ceremony mode reads the configuration only from --config (or the
        // system path), never from AIRLOCK_CONFIG.
        let mut args = vec![
            "--config".to_string(),
            self.config.display().to_string(),
            "ceremony".to_string(),
            "run".into(),
            "--request".into(),
            request.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--allow-network".into(),
        ];
        for c in custodians {
            args.push("--custodian".into());
            args.push(self.custodian_arg(c));
        }
        // Headless runs give the request digest in full, as the online
        // side printed it (a terminal run reads it aloud instead).
        if let Some(d) = request_digest(request) {
            args.push("--request-digest".into());
            args.push(d);
        }
        args
    }

    /// The enrolled ceremony signing key.
    pub fn ceremony_key(&self) -> PathBuf {
        self.state.join("ceremony-signing-key.pem")
    }
}

/// SHA-256 of a request's `SHA256SUMS` (hex), what `--request-digest`
/// takes; `None` when the request has none.
pub fn request_digest(request: &Path) -> Option<String> {
    use sha2::Digest;
    let sums = std::fs::read(request.join("SHA256SUMS")).ok()?;
    Some(hex::encode(sha2::Sha256::digest(&sums)))
}

/// Panics with stdout/stderr unless the command succeeded.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts an exit code and returns stderr.
pub fn assert_exit(out: &Output, code: i32, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Runs a command (openssl, sha256sum) and returns stdout, panicking on failure.
pub fn sh(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert_ok(&out, &format!("{cmd:?}"));
    out.stdout
}
