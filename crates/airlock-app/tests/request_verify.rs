//! End-to-end tests of `airlock trust ...` and `airlock request verify`:
//! the real binary, a temporary `airlock.toml` and state directory, bundles
//! built with openssl by `tests/lib/make-request-bundle.sh` exactly as the
//! online side builds them, and a tamper matrix in which every mutation must
//! be refused with its documented exit code and a message naming the
//! file, key or field. Mutations of signed content are re-signed so that
//! each reaches the check it is aimed at.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use airlock_test_kit::bundle::*;
use airlock_test_kit::*;
use serde_json::Value;

/// The standard two-key bundle, built once per test process.
fn base_bundle() -> &'static Path {
    static BASE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = BASE.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("base");
        make_fixture_bundle(
            &p,
            &[
                "--request-id",
                "2026-11-28-prod-rotation",
                "--environment",
                "prod",
                "--key",
                "prod-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
                "--key",
                "prod-signing:ECC_NIST_P256:RSA_AES_KEY_WRAP_SHA_256:RSA_3072",
            ],
        );
        (t, p)
    });
    p
}

fn key0(v: &mut Value) -> &mut Value {
    &mut v["keys"][0]
}

/// One mutation of the tamper matrix.
struct Case {
    name: &'static str,
    mutate: fn(&Path),
    code: i32,
    /// Substrings stderr must contain (what and where).
    says: &'static [&'static str],
    args: &'static [&'static str],
}

const fn case(
    name: &'static str,
    mutate: fn(&Path),
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case {
        name,
        mutate,
        code,
        says,
        args: &[],
    }
}

/// Runs every case against its own copy of the base bundle and reports all
/// failures at once, naming the mutation.
fn run_matrix(cases: &[Case]) {
    let station = TokenlessBench::new(airlock_bin!());
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let b = station.bundle_copy(base_bundle(), &format!("case-{i}"));
        (c.mutate)(&b);
        let out = station.verify(&b, c.args);
        let stderr = text(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        if code != c.code {
            failures.push(format!(
                "{}: exit {code}, expected {}; stderr: {stderr}",
                c.name, c.code
            ));
            continue;
        }
        for s in c.says {
            if !stderr.contains(s) {
                failures.push(format!(
                    "{}: stderr does not mention {s:?}: {stderr}",
                    c.name
                ));
            }
        }
        if c.code != 0 && !out.stdout.is_empty() {
            failures.push(format!("{}: printed a summary despite failing", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} mutations misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- trust

#[test]
fn trust_add_list_remove() {
    let s = TokenlessBench::empty(airlock_bin!());
    let pem = fixture_key(SIGNER_PUB);
    let out = s.airlock(&[
        "trust",
        "add-signer",
        pem.to_str().unwrap(),
        "--name",
        "online-ops",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // The fingerprint is SHA-256 of the SPKI DER, as openssl computes it.
    let der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .unwrap()
        .stdout;
    let fp = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&der))
    };
    assert!(stdout.contains(&fp), "{stdout}");
    let grouped: Vec<String> = fp.as_bytes().chunks(4).map(text).collect();
    assert!(stdout.contains(&grouped.join(" ")), "{stdout}");

    // Duplicate name, duplicate key, bad name, too small, not a key: exit 20.
    let other = fixture_key("test-only-signer-rsa4096.pub.pem");
    for (args, says) in [
        (
            vec![other.to_str().unwrap(), "--name", "online-ops"],
            "already enrolled",
        ),
        (
            vec![pem.to_str().unwrap(), "--name", "again"],
            "already enrolled as",
        ),
        (
            vec![other.to_str().unwrap(), "--name", "Bad Name"],
            "not valid",
        ),
        (
            vec![
                fixture_key("test-only-signer-rsa2048.pub.pem")
                    .to_str()
                    .unwrap(),
                "--name",
                "small",
            ],
            "RSA-2048",
        ),
        (
            vec![
                fixture_key("test-only-ec-p256.pub.pem").to_str().unwrap(),
                "--name",
                "ec",
            ],
            "not an RSA",
        ),
        (
            vec![fixture_key(SIGNER).to_str().unwrap(), "--name", "private"],
            "PUBLIC KEY",
        ),
    ] {
        let mut a = vec!["trust", "add-signer"];
        a.extend(args.iter().copied());
        let out = s.airlock(&a);
        assert_eq!(out.status.code(), Some(20), "{a:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{a:?}: {}",
            text(&out.stderr)
        );
    }
    let out = s.airlock(&[
        "trust",
        "add-signer",
        other.to_str().unwrap(),
        "--name",
        "backup",
    ]);
    assert!(out.status.success());

    let out = s.airlock(&["trust", "list", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["online-ops", "backup"]);
    assert_eq!(v["signers"][0]["fingerprint"], fp.as_str());
    assert_eq!(v["signers"][1]["bits"], 4096);
    let table = text(&s.airlock(&["trust", "list"]).stdout);
    assert!(
        table.contains("online-ops") && table.contains("backup"),
        "{table}"
    );

    let out = s.airlock(&["trust", "remove", "online-ops"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = s.airlock(&["trust", "remove", "online-ops"]);
    assert_eq!(out.status.code(), Some(20));
    assert!(text(&out.stderr).contains("online-ops"));
    let v: Value = serde_json::from_slice(&s.airlock(&["trust", "list", "--json"]).stdout).unwrap();
    assert_eq!(v["signers"].as_array().unwrap().len(), 1);

    // The removed signer's bundles are no longer accepted.
    let b = s.dir.path().join("b");
    copy_dir(base_bundle(), &b);
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(12), "{}", text(&out.stderr));
}

#[test]
fn tampered_trust_store_is_refused() {
    let s = TokenlessBench::new(airlock_bin!());
    let store = s.dir.path().join("state/trust/request-signers.json");
    let t = fs::read_to_string(&store).unwrap();
    fs::write(&store, t.replace("online-ops", "Online Ops")).unwrap();
    let out = s.verify(base_bundle(), &[]);
    assert_eq!(out.status.code(), Some(20), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("request-signers.json"));
}

// ---------------------------------------------------------------- success

#[test]
fn valid_bundle_is_accepted_with_a_summary() {
    let s = TokenlessBench::new(airlock_bin!());
    let out = s.verify(base_bundle(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let sums = fs::read(base_bundle().join("SHA256SUMS")).unwrap();
    let sums_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&sums))
    };
    for want in [
        "prod-s3",
        "alias/prod-s3",
        "SYMMETRIC_DEFAULT",
        "RSAES_OAEP_SHA_256",
        "prod-signing",
        "ECC_NIST_P256",
        "RSA_AES_KEY_WRAP_SHA_256",
        "online-ops",
        &sums_hash,
    ] {
        assert!(stdout.contains(want), "summary lacks {want}: {stdout}");
    }
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    let out = s.verify(base_bundle(), &["--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["request_id"], "2026-11-28-prod-rotation");
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    assert_eq!(v["keys"][1]["wrapping_key_spec"], "RSA_3072");
    assert_eq!(v["signer"]["name"], "online-ops");
    assert_eq!(v["sha256sums_sha256"], sums_hash.as_str());
    // The bundle sha256sum -c accepts is the one airlock accepts.
    sh(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(base_bundle()));
}

#[test]
fn rsa4096_signer_and_hand_made_existing_material_are_accepted() {
    let s = TokenlessBench::new(airlock_bin!());
    let pem = fixture_key("test-only-signer-rsa4096.pub.pem");
    let out = s.airlock(&[
        "trust",
        "add-signer",
        pem.to_str().unwrap(),
        "--name",
        "backup",
    ]);
    assert!(out.status.success());
    let b = s.dir.path().join("b4096");
    make_fixture_bundle(
        &b,
        &[
            "--key",
            "dev-hmac:HMAC_256:RSAES_OAEP_SHA_256:RSA_2048:EXISTING_KEY_MATERIAL:dev-hmac-v1",
        ],
    );
    sign_with(&b, "test-only-signer-rsa4096.key.pem", "32");
    let out = s.verify(&b, &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signer"]["name"], "backup");
    assert_eq!(v["keys"][0]["material"]["hsm_label"], "dev-hmac-v1");
}

#[test]
fn sha1_needs_allow_sha1_and_then_warns() {
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.dir.path().join("sha1");
    make_fixture_bundle(
        &b,
        &[
            "--key",
            "dev-s3:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_1:RSA_2048",
        ],
    );
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(14), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--allow-sha1"));
    assert!(text(&out.stderr).contains("dev-s3"));
    let out = s.verify(&b, &["--allow-sha1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("SHA-1"), "{}", text(&out.stderr));
}

#[test]
fn under_two_hours_left_is_a_warning() {
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.dir.path().join("soon");
    make_fixture_bundle(
        &b,
        &["--valid-hours", "1", "--prefix", "soon", "--count", "1"],
    );
    let out = s.verify(&b, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("soon-00001"),
        "{err}"
    );
}

#[test]
fn expired_parameters_are_refused() {
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.dir.path().join("expired");
    make_fixture_bundle(
        &b,
        &[
            "--valid-hours",
            "-1",
            "--key",
            "old-key:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096",
        ],
    );
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(18), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("old-key"));
}

#[test]
fn more_than_10000_keys_are_refused() {
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.dir.path().join("many");
    make_fixture_bundle(&b, &["--count", "10001", "--wrapping-key-spec", "RSA_2048"]);
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(13), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("10000"), "{}", text(&out.stderr));
}

#[test]
fn empty_trust_store_is_a_trust_error() {
    let s = TokenlessBench::empty(airlock_bin!());
    let out = s.verify(base_bundle(), &[]);
    assert_eq!(out.status.code(), Some(20), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("add-signer"));
}

// ---------------------------------------------------------------- matrix

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    fs::write(dir.join(rel), bytes).unwrap();
}

fn der(pem_fixture: &str) -> Vec<u8> {
    Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(fixture_key(pem_fixture))
        .output()
        .unwrap()
        .stdout
}

/// Replaces the first SHA256SUMS line for `path` by `line`.
fn replace_sums_line(text: String, path: &str, f: impl Fn(&str) -> String) -> String {
    text.lines()
        .map(|l| {
            if l.ends_with(&format!("  {path}")) {
                f(l)
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

const TOKEN: &str = "keys/prod-s3/ImportToken.bin";
const WRAP: &str = "keys/prod-s3/WrappingPublicKey.bin";

#[test]
fn tamper_matrix_layout() {
    run_matrix(&[
        case(
            "symlink added",
            |d| symlink("../../request.json", d.join("keys/prod-s3/link")).unwrap(),
            10,
            &["keys/prod-s3/link", "symbolic link"],
        ),
        case(
            "listed file replaced by a symlink",
            |d| {
                fs::remove_file(d.join(TOKEN)).unwrap();
                symlink("/etc/hostname", d.join(TOKEN)).unwrap();
            },
            10,
            &[TOKEN, "symbolic link"],
        ),
        case(
            "extra unlisted file",
            |d| write(d, "notes.txt", b"hi"),
            10,
            &["notes.txt", "not listed"],
        ),
        case(
            "listed file missing",
            |d| fs::remove_file(d.join(TOKEN)).unwrap(),
            10,
            &[TOKEN, "missing"],
        ),
        case(
            "SHA256SUMS.sig missing",
            |d| fs::remove_file(d.join("SHA256SUMS.sig")).unwrap(),
            10,
            &["SHA256SUMS.sig", "missing"],
        ),
        case(
            "SHA256SUMS missing",
            |d| fs::remove_file(d.join("SHA256SUMS")).unwrap(),
            10,
            &["SHA256SUMS", "missing"],
        ),
        case(
            "`..` path in SHA256SUMS",
            |d| edit_sums(d, |t| format!("{}  ../outside\n{t}", "0".repeat(64))),
            10,
            &["../outside", ".."],
        ),
        case(
            "absolute path in SHA256SUMS",
            |d| edit_sums(d, |t| format!("{}  /etc/passwd\n{t}", "0".repeat(64))),
            10,
            &["/etc/passwd", "absolute"],
        ),
        case(
            "oversized key file",
            |d| {
                write(d, TOKEN, &vec![7u8; 1024 * 1024 + 1]);
                resum(d);
            },
            10,
            &[TOKEN, "limit"],
        ),
        case(
            "oversized request.json",
            |d| {
                let mut j = fs::read(d.join("request.json")).unwrap();
                j.resize(16 * 1024 * 1024 + 1, b' ');
                write(d, "request.json", &j);
            },
            10,
            &["request.json", "limit"],
        ),
        case(
            "hard link",
            |d| {
                let outside = d.parent().unwrap().join(format!(
                    "{}-outside",
                    d.file_name().unwrap().to_str().unwrap()
                ));
                fs::hard_link(d.join(TOKEN), outside).unwrap();
            },
            10,
            &[TOKEN, "hard links"],
        ),
        case(
            "non-UTF-8 file name",
            |d| {
                use std::os::unix::ffi::OsStrExt;
                fs::write(
                    d.join("keys")
                        .join(std::ffi::OsStr::from_bytes(b"bad\xffname")),
                    b"x",
                )
                .unwrap();
            },
            10,
            &["keys", "UTF-8"],
        ),
        case(
            "FIFO",
            |d| {
                sh(Command::new("mkfifo").arg(d.join("keys/fifo")));
            },
            10,
            &["keys/fifo", "FIFO"],
        ),
        case(
            "signed extra file that belongs to no key",
            |d| {
                write(d, "keys/prod-s3/notes.txt", b"x");
                resum(d);
            },
            10,
            &["keys/prod-s3/notes.txt", "no key"],
        ),
        case(
            "key named in request.json without its files",
            |d| {
                fs::remove_dir_all(d.join("keys/prod-s3")).unwrap();
                resum(d);
            },
            10,
            &["keys/prod-s3/WrappingPublicKey.bin", "missing"],
        ),
    ]);
}

#[test]
fn tamper_matrix_checksums_and_signature() {
    run_matrix(&[
        case(
            "uppercase hex",
            |d| {
                edit_sums(d, |t| {
                    replace_sums_line(t, "request.json", |l| l[..64].to_uppercase() + &l[64..])
                })
            },
            11,
            &["SHA256SUMS line", "uppercase"],
        ),
        case(
            "one space instead of two",
            |d| {
                edit_sums(d, |t| {
                    replace_sums_line(t, "request.json", |l| l.replacen("  ", " ", 1))
                })
            },
            11,
            &["SHA256SUMS line", "two spaces"],
        ),
        case(
            "binary-mode marker",
            |d| {
                edit_sums(d, |t| {
                    replace_sums_line(t, "request.json", |l| l.replacen("  ", " *", 1))
                })
            },
            11,
            &["SHA256SUMS line", "two spaces"],
        ),
        case(
            "unsorted lines",
            |d| {
                edit_sums(d, |t| {
                    let mut l: Vec<&str> = t.lines().collect();
                    l.reverse();
                    l.iter().map(|x| format!("{x}\n")).collect()
                })
            },
            11,
            &["SHA256SUMS line 2", "sorted"],
        ),
        case(
            "duplicate line",
            |d| {
                edit_sums(d, |t| {
                    let first = t.lines().next().unwrap().to_string();
                    format!("{first}\n{t}")
                })
            },
            11,
            &["SHA256SUMS line 2", "twice"],
        ),
        case(
            "CRLF line endings",
            |d| edit_sums(d, |t| t.replace('\n', "\r\n")),
            11,
            &["SHA256SUMS line 1", "carriage return"],
        ),
        case(
            "no final newline",
            |d| edit_sums(d, |t| t.trim_end().to_string()),
            11,
            &["SHA256SUMS", "newline"],
        ),
        case(
            "flipped digest (re-signed)",
            |d| {
                edit_sums(d, |t| {
                    replace_sums_line(t, TOKEN, |l| {
                        let c = if l.starts_with('0') { "1" } else { "0" };
                        format!("{c}{}", &l[1..])
                    })
                })
            },
            11,
            &[TOKEN, "SHA-256"],
        ),
        case(
            "flipped byte in a file",
            |d| {
                let mut b = fs::read(d.join(TOKEN)).unwrap();
                b[0] ^= 1;
                write(d, TOKEN, &b);
            },
            11,
            &[TOKEN, "SHA-256"],
        ),
        case(
            "flipped byte in request.json",
            |d| {
                let mut b = fs::read(d.join("request.json")).unwrap();
                let i = b.len() / 2;
                b[i] ^= 0x20;
                write(d, "request.json", &b);
            },
            11,
            &["request.json"],
        ),
        case(
            "flipped signature byte",
            |d| {
                let mut b = fs::read(d.join("SHA256SUMS.sig")).unwrap();
                b[100] ^= 1;
                write(d, "SHA256SUMS.sig", &b);
            },
            12,
            &["SHA256SUMS.sig", "does not verify"],
        ),
        case(
            "truncated signature",
            |d| {
                let b = fs::read(d.join("SHA256SUMS.sig")).unwrap();
                write(d, "SHA256SUMS.sig", &b[..b.len() - 1]);
            },
            12,
            &["SHA256SUMS.sig", "383 bytes"],
        ),
        case(
            "SHA256SUMS recomputed without re-signing",
            |d| {
                let sig = fs::read(d.join("SHA256SUMS.sig")).unwrap();
                write(d, TOKEN, b"another token");
                sh(Command::new(generator())
                    .arg("--no-sign")
                    .arg("--resign")
                    .arg(d));
                write(d, "SHA256SUMS.sig", &sig);
            },
            12,
            &["SHA256SUMS.sig", "does not verify"],
        ),
        case(
            "untrusted signer",
            |d| sign_with(d, "test-only-other-signer-rsa3072.key.pem", "32"),
            12,
            &["online-ops", "not enrolled"],
        ),
        case(
            "RSA-2048 signer",
            |d| sign_with(d, "test-only-signer-rsa2048.key.pem", "32"),
            12,
            &["256 bytes"],
        ),
        case(
            "PSS salt length 20",
            |d| sign_with(d, SIGNER, "20"),
            12,
            &["does not verify"],
        ),
        case(
            "PKCS#1 v1.5 signature",
            |d| {
                sh(Command::new("openssl")
                    .args(["dgst", "-sha256", "-sign"])
                    .arg(fixture_key(SIGNER))
                    .arg("-out")
                    .arg(d.join("SHA256SUMS.sig"))
                    .arg(d.join("SHA256SUMS")));
            },
            12,
            &["does not verify"],
        ),
    ]);
}

#[test]
fn tamper_matrix_schema() {
    run_matrix(&[
        case(
            "unknown JSON field",
            |d| {
                edit_json(d, |v| {
                    key0(v)["colour"] = "blue".into();
                })
            },
            13,
            &["keys[0]", "unknown field `colour`"],
        ),
        case(
            "unknown top-level field",
            |d| {
                edit_json(d, |v| {
                    v["note"] = "x".into();
                })
            },
            13,
            &["unknown field `note`"],
        ),
        case(
            "missing field",
            |d| {
                edit_json(d, |v| {
                    key0(v)
                        .as_object_mut()
                        .unwrap()
                        .remove("parameters_valid_to");
                })
            },
            13,
            &["keys[0]", "parameters_valid_to"],
        ),
        case(
            "bad request_id",
            |d| {
                edit_json(d, |v| {
                    v["request_id"] = "rotation 2026!".into();
                })
            },
            13,
            &["request_id"],
        ),
        case(
            "bad account",
            |d| {
                edit_json(d, |v| {
                    v["aws_account"] = "11112222333".into();
                })
            },
            13,
            &["aws_account", "12 digits"],
        ),
        case(
            "bad key name",
            |d| {
                edit_json(d, |v| {
                    key0(v)["name"] = "Prod_S3".into();
                })
            },
            13,
            &["keys[0].name", "Prod_S3"],
        ),
        case(
            "alias without alias/",
            |d| {
                edit_json(d, |v| {
                    key0(v)["alias"] = "prod-s3".into();
                })
            },
            13,
            &["keys[0] (prod-s3).alias"],
        ),
        case(
            "ARN that is not a KMS key ARN",
            |d| {
                edit_json(d, |v| {
                    key0(v)["key_arn"] = "arn:aws:s3:::my-bucket".into();
                })
            },
            13,
            &["keys[0] (prod-s3).key_arn"],
        ),
        case(
            "unknown key spec",
            |d| {
                edit_json(d, |v| {
                    key0(v)["key_spec"] = "AES_256".into();
                })
            },
            13,
            &["keys[0] (prod-s3).key_spec", "AES_256"],
        ),
        case(
            "EXISTING_KEY_MATERIAL with generate",
            |d| {
                edit_json(d, |v| {
                    key0(v)["import_type"] = "EXISTING_KEY_MATERIAL".into();
                })
            },
            13,
            &["keys[0] (prod-s3).material", "EXISTING_KEY_MATERIAL"],
        ),
        case(
            "existing without hsm_label",
            |d| {
                edit_json(d, |v| {
                    key0(v)["material"] = serde_json::json!({"source": "existing"});
                })
            },
            13,
            &["keys[0] (prod-s3).material", "hsm_label"],
        ),
        case(
            "timestamp not in UTC",
            |d| {
                edit_json(d, |v| {
                    key0(v)["parameters_valid_to"] = "2099-01-01T10:00:00+01:00".into();
                })
            },
            13,
            &["parameters_valid_to", "UTC"],
        ),
        case(
            "wrong format tag",
            |d| {
                edit_json(d, |v| {
                    v["format"] = "airlock-request/2".into();
                })
            },
            13,
            &["format"],
        ),
        case(
            "empty ImportToken.bin",
            |d| {
                write(d, TOKEN, b"");
                resum(d);
            },
            13,
            &[TOKEN, "empty"],
        ),
        case(
            "not JSON",
            |d| {
                write(d, "request.json", b"{\"format\": ");
                resum(d);
            },
            13,
            &["request.json", "line 1"],
        ),
    ]);
}

#[test]
fn tamper_matrix_semantics() {
    run_matrix(&[
        case(
            "AES with RSA_AES_KEY_WRAP",
            |d| {
                edit_json(d, |v| {
                    key0(v)["wrapping_algorithm"] = "RSA_AES_KEY_WRAP_SHA_256".into();
                })
            },
            14,
            &["prod-s3", "RSA_AES_KEY_WRAP_SHA_256", "SYMMETRIC_DEFAULT"],
        ),
        case(
            "RSA key with RSAES_OAEP",
            |d| {
                edit_json(d, |v| {
                    key0(v)["key_spec"] = "RSA_2048".into();
                })
            },
            14,
            &["prod-s3", "RSA_2048"],
        ),
        case(
            "P-521 with OAEP under RSA_2048",
            |d| {
                write(d, WRAP, &der("test-only-wrapping-rsa2048.pub.pem"));
                edit_json(d, |v| {
                    key0(v)["key_spec"] = "ECC_NIST_P521".into();
                    key0(v)["wrapping_key_spec"] = "RSA_2048".into();
                });
            },
            14,
            &["prod-s3", "ECC_NIST_P521"],
        ),
        case(
            "SHA-1 without --allow-sha1",
            |d| {
                edit_json(d, |v| {
                    key0(v)["wrapping_algorithm"] = "RSAES_OAEP_SHA_1".into();
                })
            },
            14,
            &["prod-s3", "--allow-sha1"],
        ),
        Case {
            name: "SHA-1 with --allow-sha1",
            mutate: |d| {
                edit_json(d, |v| {
                    key0(v)["wrapping_algorithm"] = "RSAES_OAEP_SHA_1".into();
                })
            },
            code: 0,
            says: &["SHA-1"],
            args: &["--allow-sha1"],
        },
        case(
            "wrapping key of the wrong size",
            |d| {
                write(d, WRAP, &der("test-only-wrapping-rsa3072.pub.pem"));
                resum(d);
            },
            15,
            &[WRAP, "RSA-3072", "RSA_4096"],
        ),
        case(
            "wrapping key with e = 3",
            |d| {
                write(d, WRAP, &der("test-only-wrapping-rsa4096-e3.pub.pem"));
                resum(d);
            },
            15,
            &[WRAP, "exponent"],
        ),
        case(
            "wrapping key not RSA",
            |d| {
                write(d, WRAP, &der("test-only-ec-p256.pub.pem"));
                resum(d);
            },
            15,
            &[WRAP, "not an RSA key"],
        ),
        case(
            "wrapping key garbage DER",
            |d| {
                write(d, WRAP, b"\x30\x82\x01\x22garbage");
                resum(d);
            },
            15,
            &[WRAP, "DER"],
        ),
        case(
            "wrapping key as PEM text",
            |d| {
                write(
                    d,
                    WRAP,
                    &fs::read(fixture_key("test-only-wrapping-rsa4096.pub.pem")).unwrap(),
                );
                resum(d);
            },
            15,
            &[WRAP, "DER"],
        ),
        case(
            "ARN in another region",
            |d| {
                edit_json(d, |v| {
                    let a = key0(v)["key_arn"]
                        .as_str()
                        .unwrap()
                        .replace("eu-west-1", "us-east-1");
                    key0(v)["key_arn"] = a.into();
                })
            },
            16,
            &["prod-s3", "us-east-1", "eu-west-1"],
        ),
        case(
            "ARN in another account",
            |d| {
                edit_json(d, |v| {
                    let a = key0(v)["key_arn"]
                        .as_str()
                        .unwrap()
                        .replace("111122223333", "444455556666");
                    key0(v)["key_arn"] = a.into();
                })
            },
            16,
            &["prod-s3", "444455556666"],
        ),
        case(
            "duplicate name",
            |d| {
                edit_json(d, |v| {
                    // A second entry for prod-s3 (other alias and ARN): same folder.
                    let mut k = key0(v).clone();
                    k["alias"] = "alias/prod-s3-again".into();
                    k["key_arn"] = k["key_arn"]
                        .as_str()
                        .unwrap()
                        .replace("-8000-", "-9000-")
                        .into();
                    v["keys"].as_array_mut().unwrap().push(k);
                })
            },
            17,
            &["keys[0] and keys[2]", "name", "prod-s3"],
        ),
        case(
            "duplicate ARN",
            |d| {
                edit_json(d, |v| {
                    let a = key0(v)["key_arn"].clone();
                    v["keys"][1]["key_arn"] = a;
                })
            },
            17,
            &["key_arn"],
        ),
        case(
            "duplicate alias",
            |d| {
                edit_json(d, |v| {
                    v["keys"][1]["alias"] = "alias/prod-s3".into();
                })
            },
            17,
            &["alias", "alias/prod-s3"],
        ),
        case(
            "expired parameters",
            |d| {
                edit_json(d, |v| {
                    v["keys"][1]["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
                })
            },
            18,
            &["prod-signing", "expired", "2020-01-01T00:00:00Z"],
        ),
    ]);
}

#[test]
fn order_of_checks_is_the_documented_one() {
    // A bundle with a schema error AND a bad signature reports the
    // signature (checked first); one with a duplicate AND an expired key
    // reports the duplicate.
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.bundle_copy(base_bundle(), "order1");
    edit_json(&b, |v| {
        v["extra"] = 1.into();
    });
    sign_with(&b, "test-only-other-signer-rsa3072.key.pem", "32");
    assert_eq!(s.verify(&b, &[]).status.code(), Some(12));
    let b = s.bundle_copy(base_bundle(), "order2");
    edit_json(&b, |v| {
        v["keys"][1]["alias"] = "alias/prod-s3".into();
        v["keys"][1]["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
    });
    assert_eq!(s.verify(&b, &[]).status.code(), Some(17));
}

// ---------------------------------------------------------------- replicas

const MRK: &str = "mrk-1234567890abcdef1234567890abcdef";

/// Makes `prod-s3` a multi-Region key (an `mrk-` id) with replicas in
/// us-east-1 (RSA_2048 wrapping key) and ap-southeast-2 (RSA_3072), each
/// with its own files, then `f` changes the result; re-summed and signed.
fn with_replicas(d: &Path, f: impl FnOnce(&Path, &mut Value)) {
    for (region, pem) in [
        ("us-east-1", "test-only-wrapping-rsa2048.pub.pem"),
        ("ap-southeast-2", "test-only-wrapping-rsa3072.pub.pem"),
    ] {
        fs::create_dir_all(d.join("keys/prod-s3/replicas").join(region)).unwrap();
        write(
            d,
            &format!("keys/prod-s3/replicas/{region}/WrappingPublicKey.bin"),
            &der(pem),
        );
        write(
            d,
            &format!("keys/prod-s3/replicas/{region}/ImportToken.bin"),
            format!("token for {region}").as_bytes(),
        );
    }
    let p = d.join("request.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    let k = key0(&mut v);
    let valid = k["parameters_valid_to"].clone();
    k["key_arn"] = format!("arn:aws:kms:eu-west-1:111122223333:key/{MRK}").into();
    k["replicas"] = serde_json::json!([
        {"region": "us-east-1", "key_arn": format!("arn:aws:kms:us-east-1:111122223333:key/{MRK}"),
         "wrapping_algorithm": "RSAES_OAEP_SHA_256", "wrapping_key_spec": "RSA_2048",
         "parameters_valid_to": valid},
        {"region": "ap-southeast-2", "key_arn": format!("arn:aws:kms:ap-southeast-2:111122223333:key/{MRK}"),
         "wrapping_algorithm": "RSAES_OAEP_SHA_256", "wrapping_key_spec": "RSA_3072",
         "parameters_valid_to": valid},
    ]);
    f(d, &mut v);
    fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    resum(d);
}

fn replica(v: &mut Value, i: usize) -> &mut Value {
    &mut v["keys"][0]["replicas"][i]
}

#[test]
fn multi_region_replicas_are_checked_like_keys() {
    run_matrix(&[
        case(
            "two replicas with their own wrapping keys",
            |d| with_replicas(d, |_, _| {}),
            0,
            &[],
        ),
        case(
            "replicas on a key that is not multi-Region",
            |d| {
                with_replicas(d, |_, v| {
                    key0(v)["key_arn"] =
                        "arn:aws:kms:eu-west-1:111122223333:key/00000001-0000-4000-8000-000000000001"
                            .into();
                })
            },
            13,
            &["prod-s3", "replicas", "mrk-"],
        ),
        case(
            "a replica ARN with another key id",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 0)["key_arn"] =
                        "arn:aws:kms:us-east-1:111122223333:key/mrk-00000000000000000000000000000000"
                            .into();
                })
            },
            13,
            &["replicas[0].key_arn", "not a replica of"],
        ),
        case(
            "a replica in another account",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 1)["key_arn"] =
                        format!("arn:aws:kms:ap-southeast-2:444455556666:key/{MRK}").into();
                })
            },
            13,
            &["replicas[1].key_arn", "same account"],
        ),
        case(
            "a replica whose ARN is in another region than it says",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 0)["region"] = "us-west-2".into();
                })
            },
            13,
            &["replicas[0].key_arn", "us-west-2"],
        ),
        case(
            "a replica in the primary's own region",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 0)["region"] = "eu-west-1".into();
                    replica(v, 0)["key_arn"] =
                        format!("arn:aws:kms:eu-west-1:111122223333:key/{MRK}").into();
                })
            },
            13,
            &["replicas[0].region", "primary"],
        ),
        case(
            "the same region twice",
            |d| {
                with_replicas(d, |_, v| {
                    let first = replica(v, 0).clone();
                    *replica(v, 1) = first;
                })
            },
            13,
            &["replicas[1].region", "twice"],
        ),
        case(
            "an unknown field in a replica",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 0)["import_type"] = "NEW_KEY_MATERIAL".into();
                })
            },
            13,
            &["import_type"],
        ),
        case(
            "a replica without its import token",
            |d| {
                with_replicas(d, |d, _| {
                    fs::remove_file(d.join("keys/prod-s3/replicas/us-east-1/ImportToken.bin"))
                        .unwrap();
                })
            },
            10,
            &["keys/prod-s3/replicas/us-east-1/ImportToken.bin", "missing"],
        ),
        case(
            "files for a region the request does not list",
            |d| {
                with_replicas(d, |d, _| {
                    fs::create_dir_all(d.join("keys/prod-s3/replicas/sa-east-1")).unwrap();
                    write(d, "keys/prod-s3/replicas/sa-east-1/ImportToken.bin", b"x");
                })
            },
            10,
            &["keys/prod-s3/replicas/sa-east-1/ImportToken.bin", "no key"],
        ),
        case(
            "a replica's wrapping key of another size than it says",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 1)["wrapping_key_spec"] = "RSA_4096".into();
                })
            },
            15,
            &["prod-s3/replicas/ap-southeast-2", "RSA-3072", "RSA_4096"],
        ),
        case(
            "a replica with SHA-1 without --allow-sha1",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 0)["wrapping_algorithm"] = "RSAES_OAEP_SHA_1".into();
                })
            },
            14,
            &["prod-s3/replicas/us-east-1", "--allow-sha1"],
        ),
        case(
            "a replica's import parameters expired",
            |d| {
                with_replicas(d, |_, v| {
                    replica(v, 1)["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
                })
            },
            18,
            &["prod-s3/replicas/ap-southeast-2", "expired"],
        ),
    ]);
}

#[test]
fn a_tampered_request_says_stop_and_what_to_do_on_the_cli() {
    let s = TokenlessBench::new(airlock_bin!());
    let b = s.bundle_copy(base_bundle(), "stop");
    let token = b.join("keys/prod-s3/ImportToken.bin");
    let mut bytes = fs::read(&token).unwrap();
    bytes[0] ^= 1;
    fs::write(&token, bytes).unwrap();
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(11));
    let err = text(&out.stderr);
    assert!(
        err.contains("airlock: STOP: possible tampering (Checksums, exit 11)")
            && err.contains("keep the USB medium exactly as it is, as evidence"),
        "{err}"
    );
    assert!(
        err.contains("airlock: what to do (Checksums, exit 11): The bundle was damaged or changed in transit: copy it again."),
        "{err}"
    );
    // An ordinary refusal gets its class's advice and no STOP.
    let b = s.bundle_copy(base_bundle(), "expired");
    edit_json(&b, |v| {
        key0(v)["parameters_valid_to"] = "2020-01-01T00:00:00Z".into();
    });
    let out = s.verify(&b, &[]);
    assert_eq!(out.status.code(), Some(18));
    let err = text(&out.stderr);
    assert!(!err.contains("STOP"), "{err}");
    assert!(
        err.contains("airlock: what to do (Expired, exit 18): Run get-parameters-for-import again"),
        "{err}"
    );
}
