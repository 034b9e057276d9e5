//! Records the git commit and build profile for `airlock --version`.
//! `AIRLOCK_GIT_COMMIT` may be set by an offline build that has no `.git`.

use std::process::Command;

fn main() {
    let commit = std::env::var("AIRLOCK_GIT_COMMIT").ok().unwrap_or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    });
    println!("cargo:rustc-env=AIRLOCK_GIT_COMMIT={commit}");
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=AIRLOCK_BUILD_PROFILE={profile}");
    println!("cargo:rerun-if-env-changed=AIRLOCK_GIT_COMMIT");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
}
