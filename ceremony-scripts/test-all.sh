#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine with
# only Rust installed: installs what is missing, builds once into the shared
# target/, checks formatting and lints, then runs every test (unit,
# real-token integration under cargo-nextest, shell-level tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n== %s ==\n' "$*"; }

step "dependencies"
bash ceremony-scripts/lib/install-deps.sh --test

step "build (workspace, Kryoptic test token included)"
cargo build --workspace --all-targets --locked
export AIRLOCK_KRYOPTIC_MODULE="$root/target/debug/libairlock_kryoptic.so"

step "build (airlock-online: its own workspace, once, into the shared target/)"
online=(--manifest-path crates/airlock-online/Cargo.toml)
cargo build "${online[@]}" --target-dir target --all-targets --locked

step "format"
cargo fmt --all -- --check
cargo fmt "${online[@]}" -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy "${online[@]}" --target-dir target --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast
cargo test "${online[@]}" --target-dir target --locked

step "supply chain (cargo deny: licences, bans, sources; advisories need GitHub, see docs/install.md)"
cargo deny check --hide-inclusion-graph licenses bans sources

step "offline kit (build offline in a network namespace, twice; same binary hash)"
bash tests/offline-kit/run.sh

step "fuzz smoke (every parser of outside input, briefly)"
bash ceremony-scripts/fuzz-smoke.sh

step "online tool airlock-online (LocalStack KMS + moto on 127.0.0.1)"
bash tests/online/run.sh
