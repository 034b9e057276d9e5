//! Workbenches for tests that drive the real `airlock` binary: a fresh
//! soft token (SoftHSM2 or Kryoptic) in a temporary directory with an
//! `airlock.toml`, a state directory, custodian passphrase files, the
//! test-only request signer and request bundles ([`Workbench`]); or a
//! configuration with no token for the commands that never open one
//! ([`TokenlessBench`]). Tests run one per process (cargo-nextest), since a
//! PKCS#11 module is initialised once per process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_hsm::testing::{TestToken, TokenKind};

use crate::bundle::{self, SIGNER_PUB, Wrapping};
use crate::{assert_ok, bare, fixture_key, passphrase_of, request_digest};

/// One token, one state directory, one configuration.
pub struct Workbench {
    pub token: TestToken,
    pub root: tempfile::TempDir,
    pub state: PathBuf,
    pub config: PathBuf,
    /// The `airlock` binary.
    pub bin: PathBuf,
}

impl Workbench {
    /// A new workbench on a fresh token of `kind`, running the `airlock`
    /// at `bin` (pass [`airlock_bin!()`](crate::airlock_bin)).
    pub fn new(kind: TokenKind, bin: &str) -> Self {
        let token = TestToken::new(kind);
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        let config = token.write_airlock_toml(&state);
        Workbench {
            token,
            root,
            state,
            config,
            bin: bin.into(),
        }
    }

    /// A workbench ready for a ceremony: custodians alice and bob enrolled
    /// (2 of 2) and the test-only request signer trusted.
    pub fn ready(kind: TokenKind, bin: &str) -> Self {
        Self::ready_with(kind, &[], bin)
    }

    /// As [`Workbench::ready`] with extra `enroll` arguments (e.g.
    /// `--allow-existing-material`).
    pub fn ready_with(kind: TokenKind, enroll_args: &[&str], bin: &str) -> Self {
        let wb = Self::new(kind, bin);
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
        let mut c = Command::new(&self.bin);
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
            std::fs::write(&p, format!("{}\n", passphrase_of(name))).unwrap();
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

    /// Enrols the test-only RSA-3072 request signer as `online-test`,
    /// approved by alice and bob (a quorum trust change, sealed by the
    /// HSM).
    pub fn trust_signer(&self) {
        let pem = fixture_key(SIGNER_PUB);
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
        bundle::make_request_bundle(out, Wrapping::Dir(&self.path("wrapping-keys")), extra);
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

    /// Panics unless `airlock bundle verify` accepts the bundle at `out`
    /// under the enrolled ceremony key.
    pub fn assert_bundle_verifies(&self, out: &Path) {
        let v = self.run(&[
            "bundle",
            "verify",
            out.to_str().unwrap(),
            "--ceremony-key",
            self.ceremony_key().to_str().unwrap(),
        ]);
        assert_ok(&v, "bundle verify");
    }

    /// The enrolled ceremony signing key.
    pub fn ceremony_key(&self) -> PathBuf {
        self.state.join("ceremony-signing-key.pem")
    }
}

/// A temporary `airlock.toml` and state directory with no token behind
/// them (the module path is never opened): for `trust` and `request
/// verify`, which work on the state directory alone.
pub struct TokenlessBench {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
}

impl TokenlessBench {
    /// With the test-only RSA-3072 signer trusted as `online-ops`.
    pub fn new(bin: &str) -> Self {
        let s = Self::empty(bin);
        let out = s.airlock(&[
            "trust",
            "add-signer",
            fixture_key(SIGNER_PUB).to_str().unwrap(),
            "--name",
            "online-ops",
        ]);
        assert_ok(&out, "trust add-signer");
        s
    }

    /// No signer trusted yet.
    pub fn empty(bin: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("airlock.toml"),
            format!(
                "[hsm]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken = \"airlock\"\n[state]\ndir = \"{}\"\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
        TokenlessBench {
            dir,
            bin: bin.into(),
        }
    }

    /// Runs `airlock --config THIS ARGS` (no `AIRLOCK_CONFIG`).
    pub fn airlock(&self, args: &[&str]) -> Output {
        bare(&self.bin)
            .arg("--config")
            .arg(self.dir.path().join("airlock.toml"))
            .args(args)
            .output()
            .expect("spawn airlock")
    }

    /// Runs `airlock request verify BUNDLE EXTRA`.
    pub fn verify(&self, bundle: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["request", "verify", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.airlock(&args)
    }

    /// A fresh copy of the bundle at `from` in this bench's temporary
    /// directory, as `bundles/NAME`.
    pub fn bundle_copy(&self, from: &Path, name: &str) -> PathBuf {
        let p = self.dir.path().join("bundles").join(name);
        bundle::copy_dir(from, &p);
        p
    }
}
