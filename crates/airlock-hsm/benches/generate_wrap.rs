//! Benchmark: generate + wrap N SYMMETRIC_DEFAULT keys (RSAES_OAEP_SHA_256)
//! on Kryoptic through Airlock's engine, against a bare cryptoki loop that
//! makes the same PKCS#11 calls per key (label lookup, C_GenerateKey,
//! attribute read-back, wrapping-key import, C_WrapKey, C_DestroyObject)
//! and nothing else. Target: Airlock within 1.25x of the bare loop.
//!
//! Run: `cargo build -p airlock-test-token && cargo bench -p airlock-hsm --features testing --bench generate_wrap`
//! (BENCH_KEYS=N to change the key count, default 1000).

mod bare;

use std::time::{Duration, Instant};

use airlock_core::spec::{KeySpec, WrappingAlgorithm};
use airlock_hsm::Hsm;
use airlock_hsm::testing::{TestToken, TokenKind};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use rsa::pkcs8::EncodePublicKey;

fn airlock_run(hsm: &Hsm, t: &TestToken, spki: &[u8], n: usize, round: usize) -> Duration {
    let mut s = hsm.login_user(t.user_pin()).unwrap();
    s.self_test(&[WrappingAlgorithm::RsaesOaepSha256]).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let k = s
            .generate(
                &format!("airlock-{round}-{i}/bench"),
                KeySpec::SymmetricDefault,
            )
            .unwrap();
        let w = s
            .wrap(&k, spki, WrappingAlgorithm::RsaesOaepSha256)
            .unwrap();
        assert_eq!(w.bytes.len(), 512);
    }
    let d = start.elapsed();
    s.close().unwrap();
    d
}

fn bare_run(
    p: &Pkcs11,
    t: &TestToken,
    public: &rsa::PublicKey,
    n: usize,
    round: usize,
) -> Duration {
    let s = bare::user_session(p, t);
    let oaep = bare::oaep_sha256();
    let start = Instant::now();
    for i in 0..n {
        let label = format!("bare-{round}-{i}/bench").into_bytes();
        assert!(
            s.find_objects(&[Attribute::Label(label.clone()), Attribute::Token(true)])
                .unwrap()
                .is_empty()
        );
        let k = s
            .generate_key(&Mechanism::AesKeyGen, &bare::aes_key_template(label))
            .unwrap();
        assert_eq!(
            s.get_attributes(k, &bare::READ_BACK).unwrap().len(),
            bare::READ_BACK.len()
        );
        let wrapping = bare::import_wrapping_key(&s, public);
        let w = s.wrap_key(&oaep, wrapping, k).unwrap();
        assert_eq!(w.len(), 512);
        s.destroy_object(wrapping).unwrap();
    }
    let d = start.elapsed();
    s.logout().unwrap();
    d
}

fn main() {
    let n: usize = std::env::var("BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let t = TestToken::new(TokenKind::Kryoptic);
    let sw = rsa::PrivateKey::new(&mut getrandom::SysRng, 4096).unwrap();
    let public = sw.to_public_key();
    let spki = public.to_public_key_der().unwrap().as_bytes().to_vec();
    let hsm = Hsm::open(t.module_path(), &t.selector()).unwrap();
    let p = Pkcs11::new(t.module_path()).unwrap();
    let _ = p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let mut bare = Vec::new();
    let mut airlock = Vec::new();
    // Interleaved rounds in alternating order, each from an empty token.
    for round in 0..3 {
        if round % 2 == 0 {
            bare.push(bare_run(&p, &t, &public, n, round));
            bare::wipe_token_keys(&p, &t);
            airlock.push(airlock_run(&hsm, &t, &spki, n, round));
            bare::wipe_token_keys(&p, &t);
        } else {
            airlock.push(airlock_run(&hsm, &t, &spki, n, round));
            bare::wipe_token_keys(&p, &t);
            bare.push(bare_run(&p, &t, &public, n, round));
            bare::wipe_token_keys(&p, &t);
        }
    }
    let b = bare.iter().min().unwrap().as_secs_f64();
    let a = airlock.iter().min().unwrap().as_secs_f64();
    println!(
        "keys per run:   {n} (SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_256, RSA-4096 wrapping key, Kryoptic sqlite)"
    );
    println!(
        "bare cryptoki:  {:?} -> best {b:.3} s ({:.2} ms/key)",
        bare,
        b * 1000.0 / n as f64
    );
    println!(
        "airlock engine: {:?} -> best {a:.3} s ({:.2} ms/key)",
        airlock,
        a * 1000.0 / n as f64
    );
    println!("ratio:          {:.3} (target <= 1.25)", a / b);
}
