//! Benchmark (issue 8): the bare PKCS#11 cost per key of a ceremony. A bare
//! cryptoki loop makes exactly the token calls `airlock ceremony run` makes
//! per SYMMETRIC_DEFAULT / RSAES_OAEP_SHA_256 key, and nothing else: the
//! resume lookup (`find_key`: two label searches), the generation's own
//! label check, C_GenerateKey, the attribute read-back, the KCV (AES-CMAC
//! of a zero block), the wrapping-key import, C_WrapKey and its
//! C_DestroyObject. It runs SMALL and LARGE keys (default 100 and 1000),
//! each on a fresh token, and prints the slope between them, to compare
//! with the slope of whole ceremonies (ceremony-scripts/bench/ceremony-slope.sh).
//!
//! Run: `cargo build -p airlock-test-token --release &&
//! AIRLOCK_KRYOPTIC_MODULE=$PWD/target/release/libairlock_kryoptic.so
//! cargo bench -p airlock-hsm --features testing --bench ceremony_calls`

mod bare;

use std::time::{Duration, Instant};

use airlock_hsm::testing::{TestToken, TokenKind};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};

/// One key's worth of the ceremony's token calls.
fn bare_loop(p: &Pkcs11, t: &TestToken, public: &rsa::PublicKey, n: usize) -> Duration {
    let s = bare::user_session(p, t);
    let oaep = bare::oaep_sha256();
    let start = Instant::now();
    for i in 0..n {
        let label = format!("key-{i:05}/bench").into_bytes();
        // find_key: by label and class, then by label alone.
        for extra in [vec![Attribute::Class(ObjectClass::SECRET_KEY)], vec![]] {
            let mut template = vec![Attribute::Label(label.clone()), Attribute::Token(true)];
            template.extend(extra);
            assert!(s.find_objects(&template).unwrap().is_empty());
        }
        // generate: its own label check, C_GenerateKey, read-back.
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
        // KCV: AES-CMAC of one zero block.
        assert_eq!(
            s.sign(&Mechanism::AesCMac, k, &[0u8; 16]).unwrap().len(),
            16
        );
        // wrap: import the AWS wrapping key, C_WrapKey, destroy it.
        let wrapping = bare::import_wrapping_key(&s, public);
        assert_eq!(s.wrap_key(&oaep, wrapping, k).unwrap().len(), 512);
        s.destroy_object(wrapping).unwrap();
    }
    let d = start.elapsed();
    s.logout().unwrap();
    d
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let small = env_usize("SMALL", 100);
    let large = env_usize("LARGE", 1000);
    let t = TestToken::new(TokenKind::Kryoptic);
    let sw = rsa::PrivateKey::new(&mut getrandom::SysRng, 4096).unwrap();
    let public = sw.to_public_key();
    let p = Pkcs11::new(t.module_path()).unwrap();
    let _ = p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let ts = bare_loop(&p, &t, &public, small).as_secs_f64();
    bare::wipe_token_keys(&p, &t);
    let tl = bare_loop(&p, &t, &public, large).as_secs_f64();
    bare::wipe_token_keys(&p, &t);
    let slope = (tl - ts) / (large - small) as f64;
    println!("bare loop, {small} keys: {ts:.2} s");
    println!("bare loop, {large} keys: {tl:.2} s");
    println!("bare slope: {:.2} ms/key", slope * 1000.0);
}
