//! The bare PKCS#11 floor of a ceremony's per-key cost (issue 17), for
//! `ceremony-scripts/bench/ceremony-vs-floor.sh`: a plain cryptoki loop on
//! whatever module and token the script set up, with nothing of Airlock's
//! engine in between.
//!
//! - `token_floor fill MODULE LABEL PIN_FILE COUNT`: gives the token COUNT
//!   other objects (AES-256 token keys labelled `fill-N`), as a production
//!   HSM holds thousands of keys of earlier ceremonies.
//! - `token_floor loop MODULE LABEL PIN_FILE COUNT [sha256|sha1]`: per key,
//!   imports an RSA-4096 wrapping public key as a session object, generates
//!   an AES-256 token key, takes its CMAC KCV, wraps it with RSA-OAEP
//!   (SHA-256 by default; SHA-1 for SoftHSM2, which refuses any other OAEP
//!   hash) and destroys the session object; prints the loop's wall time in
//!   seconds.
//! - `token_floor checked ...` (same arguments): as `loop`, plus the one
//!   extra token-object access per key the ceremony keeps on purpose, the
//!   read-back of the new key's attributes (`C_GetAttributeValue`), so the
//!   ceremony's own overhead can be told from that check's.
//!
//! Bench-only (test PIN from a file, keys left on the token): never run it
//! against a real HSM.

#[allow(dead_code)]
#[path = "../benches/bare/mod.rs"]
mod bare;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

fn usage() -> ExitCode {
    eprintln!(
        "usage: token_floor fill|loop|checked MODULE TOKEN_LABEL PIN_FILE COUNT [sha256|sha1]"
    );
    ExitCode::from(2)
}

/// A logged-in read-write session on the token labelled `label`.
fn session(p: &Pkcs11, label: &str, pin_file: &PathBuf) -> Session {
    let slot = p
        .get_slots_with_token()
        .expect("C_GetSlotList")
        .into_iter()
        .find(|s| {
            p.get_token_info(*s)
                .map(|i| i.label().trim_end() == label)
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no token labelled {label:?}"));
    let pin = std::fs::read_to_string(pin_file).expect("reading the PIN file");
    let s = p.open_rw_session(slot).expect("C_OpenSession");
    s.login(UserType::User, Some(&AuthPin::from(pin.trim_end())))
        .expect("C_Login");
    s
}

fn fill(s: &Session, count: usize) {
    for i in 0..count {
        let label = format!("fill-{i:06}").into_bytes();
        s.generate_key(&Mechanism::AesKeyGen, &bare::aes_key_template(label))
            .expect("C_GenerateKey");
    }
}

fn floor_loop(s: &Session, count: usize, oaep: &Mechanism, read_back: bool) -> f64 {
    let sw = rsa::PrivateKey::new(&mut getrandom::SysRng, 4096).expect("RSA-4096");
    let public = sw.to_public_key();
    let start = Instant::now();
    for i in 0..count {
        let wrapping = bare::import_wrapping_key(s, &public);
        let label = format!("floor-{i:06}").into_bytes();
        let k = s
            .generate_key(&Mechanism::AesKeyGen, &bare::aes_key_template(label))
            .expect("C_GenerateKey");
        if read_back {
            let attrs = s
                .get_attributes(k, &bare::READ_BACK)
                .expect("C_GetAttributeValue");
            assert_eq!(attrs.len(), bare::READ_BACK.len());
        }
        let kcv = s.sign(&Mechanism::AesCMac, k, &[0u8; 16]).expect("CMAC");
        assert_eq!(kcv.len(), 16);
        let wrapped = s.wrap_key(oaep, wrapping, k).expect("C_WrapKey");
        assert_eq!(wrapped.len(), 512);
        s.destroy_object(wrapping).expect("C_DestroyObject");
    }
    start.elapsed().as_secs_f64()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, module, label, pin_file, count, hash) = match args.as_slice() {
        [m, md, l, pf, c] => (m, md, l, pf, c, "sha256"),
        [m, md, l, pf, c, h] => (m, md, l, pf, c, h.as_str()),
        _ => return usage(),
    };
    let oaep = match hash {
        "sha256" => bare::oaep_sha256(),
        "sha1" => Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        )),
        _ => return usage(),
    };
    let Ok(count) = count.parse::<usize>() else {
        return usage();
    };
    let p = Pkcs11::new(module).expect("loading the PKCS#11 module");
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let s = session(&p, label, &PathBuf::from(pin_file));
    match mode.as_str() {
        "fill" => fill(&s, count),
        "loop" => println!("{:.6}", floor_loop(&s, count, &oaep, false)),
        "checked" => println!("{:.6}", floor_loop(&s, count, &oaep, true)),
        _ => return usage(),
    }
    s.logout().expect("C_Logout");
    ExitCode::SUCCESS
}
