#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine with
# only Rust installed: installs what is missing, builds once into the shared
# target/, checks formatting and lints, then runs every test (unit,
# real-token integration under cargo-nextest, shell-level tests), and on
# exit stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n== %s ==\n' "$*"; }

step "dependencies"
bash ceremony-scripts/lib/install-deps.sh --test
# The online tests (last) need Python 3.13: say so now, not after the build.
bash ceremony-scripts/localstack/emulators.sh python

# Whatever the tests start outside the repository (a cupsd and its print
# queue, the emulators) is stopped and removed on exit, however the run
# ends; what was running before is left alone (ceremony-scripts/lib/cleanup.sh).
# shellcheck source=ceremony-scripts/lib/cleanup.sh
source ceremony-scripts/lib/cleanup.sh
cleanup_snapshot
trap cleanup_restore EXIT

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

step "doc links (every relative link in README.md and docs/*.md resolves)"
bash ceremony-scripts/check-doc-links.sh

step "rehearsal kit (rehearse.sh, then the ceremony it prints)"
bash tests/rehearse/run.sh

step "test hygiene (cleanup of what the run started; install-deps upgrades only within Debian 12)"
bash tests/hygiene/run.sh

step "online tool airlock-online (LocalStack KMS + moto on 127.0.0.1)"
bash tests/online/run.sh
