//! What `airlock --version` prints: version, git commit and build profile,
//! fixed at build time by `build.rs`.

/// `VERSION (commit COMMIT, PROFILE build)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AIRLOCK_GIT_COMMIT"),
    ", ",
    env!("AIRLOCK_BUILD_PROFILE"),
    " build)"
);
