//! Signed request bundles as the online side makes them (with openssl, by
//! `tests/lib/make-request-bundle.sh`), and the edits that tamper with
//! one and sign it again.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{assert_ok, fixture_key, repo, sh};

/// The test-only request signer (private key fixture).
pub const SIGNER: &str = "test-only-signer-rsa3072.key.pem";
/// Its public key fixture (what `trust add-signer` takes).
pub const SIGNER_PUB: &str = "test-only-signer-rsa3072.pub.pem";

/// Where the generator takes the AWS wrapping public keys from.
pub enum Wrapping<'a> {
    /// `--wrapping-key-dir`: a folder of `wrapping-SPEC.pem`; the
    /// generator makes (and keeps, private) the ones missing.
    Dir(&'a Path),
    /// `--wrapping-key`: one public key for every key.
    Key(&'a Path),
}

/// The generator.
pub fn generator() -> PathBuf {
    repo().join("tests/lib/make-request-bundle.sh")
}

/// Builds a bundle at `out` signed by the test-only signer, wrapping under
/// `wrapping`, with further generator options `extra` (e.g.
/// `--key NAME:SPEC:ALG:WRAPSPEC`); panics with its output on failure.
pub fn make_request_bundle(out: &Path, wrapping: Wrapping<'_>, extra: &[&str]) {
    let (flag, path) = match wrapping {
        Wrapping::Dir(d) => ("--wrapping-key-dir", d),
        Wrapping::Key(k) => ("--wrapping-key", k),
    };
    let st = Command::new("bash")
        .arg(generator())
        .arg("--out")
        .arg(out)
        .arg("--signer-key")
        .arg(fixture_key(SIGNER))
        .arg(flag)
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    assert_ok(&st, "make-request-bundle.sh");
}

/// A folder `wrapping-keys` under `base` of the committed wrapping public
/// keys named as the generator expects (no slow key generation).
pub fn fixture_wrapping_keys(base: &Path) -> PathBuf {
    let d = base.join("wrapping-keys");
    fs::create_dir_all(&d).unwrap();
    for bits in [2048, 3072, 4096] {
        fs::copy(
            fixture_key(&format!("test-only-wrapping-rsa{bits}.pub.pem")),
            d.join(format!("wrapping-RSA_{bits}.pem")),
        )
        .unwrap();
    }
    d
}

/// A bundle at `out` wrapping under the committed fixture public keys
/// (copied into `wrapping-keys` beside `out`), with generator options
/// `extra`.
pub fn make_fixture_bundle(out: &Path, extra: &[&str]) {
    let keys = fixture_wrapping_keys(out.parent().unwrap());
    make_request_bundle(out, Wrapping::Dir(&keys), extra);
}

/// SHA-256 of a request's `SHA256SUMS` (hex), what `--request-digest`
/// takes; `None` when the request has none.
pub fn request_digest(request: &Path) -> Option<String> {
    use sha2::Digest;
    let sums = fs::read(request.join("SHA256SUMS")).ok()?;
    Some(hex::encode(sha2::Sha256::digest(&sums)))
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Recomputes `SHA256SUMS` over the files present and signs it again.
pub fn resum(dir: &Path) {
    sh(Command::new("bash")
        .arg(generator())
        .arg("--resign")
        .arg(dir)
        .arg("--signer-key")
        .arg(fixture_key(SIGNER)));
}

/// Signs the `SHA256SUMS` as it is with the fixture `key` (PSS salt
/// length `salt`).
pub fn sign_with(dir: &Path, key: &str, salt: &str) {
    sh(Command::new("openssl")
        .args(["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss"])
        .args(["-sigopt", &format!("rsa_pss_saltlen:{salt}"), "-sign"])
        .arg(fixture_key(key))
        .arg("-out")
        .arg(dir.join("SHA256SUMS.sig"))
        .arg(dir.join("SHA256SUMS")));
}

/// Panics unless openssl verifies `dir`'s `SHA256SUMS.sig` (RSA-PSS,
/// SHA-256, salt 32) under the public key `pem`, as the online side does.
pub fn openssl_verify_sums(dir: &Path, pem: &Path) {
    sh(Command::new("openssl")
        .args(["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss"])
        .args(["-sigopt", "rsa_pss_saltlen:32", "-verify"])
        .arg(pem)
        .arg("-signature")
        .arg(dir.join("SHA256SUMS.sig"))
        .arg(dir.join("SHA256SUMS")));
}

/// Signs the `SHA256SUMS` as it is with the test-only signer.
pub fn sign(dir: &Path) {
    sign_with(dir, SIGNER, "32");
}

/// Edits `request.json` as JSON, then re-sums and re-signs.
pub fn edit_json(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("request.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    resum(dir);
}

/// Edits the text of `SHA256SUMS`, then re-signs it (no re-summing).
pub fn edit_sums(dir: &Path, f: impl FnOnce(String) -> String) {
    let p = dir.join("SHA256SUMS");
    let text = fs::read_to_string(&p).unwrap();
    fs::write(&p, f(text)).unwrap();
    sign(dir);
}
