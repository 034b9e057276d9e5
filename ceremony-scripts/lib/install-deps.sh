#!/usr/bin/env bash
# Installs, idempotently, what building and testing Airlock needs on Debian 12:
# system packages (only when one is missing, so a ready machine does no
# network work) and the Rust tools the test command uses.
#
# Usage: install-deps.sh [--test]   (--test adds what only the tests need)
# Exit codes: 0 ready; 3 cargo missing; 4 installing would upgrade an
# installed package to a version from outside Debian 12's own archives
# (another release, backports, a third-party source), or changed one the
# plan did not name.
#
# Upgrades from Debian 12's own archive and its security archive are taken:
# a missing -dev package is built against the current point release, and
# a machine made from an older image cannot install it otherwise. Those are
# the stable updates Debian itself ships for the release; nothing else is
# upgraded, and every upgrade is listed.
set -euo pipefail

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

# Build and run: the PKCS#11 soft tokens (SoftHSM2 from Debian, Kryoptic is
# built from crates.io and needs libclang + OpenSSL headers), opensc's
# pkcs11-tool to initialise tokens, openssl/jq for bundles.
pkgs=(build-essential pkg-config libssl-dev libclang-dev clang softhsm2 opensc openssl jq coreutils)
# The desktop app: GTK 3 headers for the rfd folder dialog; OpenGL (Mesa),
# X11 cursor/input and xkbcommon libraries for the glow renderer.
pkgs+=(libgtk-3-dev libgl1 libglx-mesa0 libgl1-mesa-dri libxcursor1 libxi6 libxkbcommon-x11-0)
if [[ $want_test == 1 ]]; then
  pkgs+=(iproute2 util-linux)
  # the online scripts' tests (tests/online/run.sh): shellcheck, curl; the aws CLI
  # comes from the emulator venv (ceremony-scripts/localstack/emulators.sh)
  pkgs+=(shellcheck curl)
  # the attestation tests: pdftotext/pdffonts/pdftoppm, zbarimg, CUPS with a PDF printer
  pkgs+=(poppler-utils zbar-tools cups printer-driver-cups-pdf fonts-dejavu-core)
  # The app under a virtual X server, and screenshots of it.
  pkgs+=(xvfb xauth imagemagick)
fi

# upgrades_in_plan: reads `apt-get -s install` output on stdin and prints the
# packages it would upgrade (an "Inst NAME [OLD-VERSION] ..." line is an
# upgrade of an installed package; a new package has no [OLD-VERSION]).
upgrades_in_plan() { awk '$1 == "Inst" && $3 ~ /^\[/ { print $2 }'; }
# foreign_upgrades_in_plan: the upgrades whose new version does not come from
# Debian 12's archive ("Debian:12.N/...") or its security archive
# ("Debian-Security:12/..."): those are refused.
foreign_upgrades_in_plan() {
  awk '$1 == "Inst" && $3 ~ /^\[/ && $0 !~ /[(,] ?[^ ]* ?Debian(-Security)?:12[.\/]/ { print $2 }'
}

installed_versions() { dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' | awk '$NF == "installed" { print $1, $2 }' | sort; }

# Sourced by the tests with INSTALL_DEPS_LIB_ONLY=1: the functions only.
# shellcheck disable=SC2317  # exit is reached when run, not sourced
if [[ ${INSTALL_DEPS_LIB_ONLY:-} == 1 ]]; then return 0 2>/dev/null || exit 0; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  # Never upgrade what is already installed: --no-upgrade for the packages
  # named, and a dry run first so that a missing package whose dependencies
  # would pull newer versions of installed libraries is refused, not done.
  plan=$(apt-get -s install --no-upgrade "${missing[@]}")
  foreign=$(foreign_upgrades_in_plan <<<"$plan")
  if [[ -n $foreign ]]; then
    echo "install-deps: installing ${missing[*]} would upgrade installed packages from outside Debian 12's archives: ${foreign//$'\n'/ }" >&2
    echo "install-deps: refusing; install them yourself, or fix the apt sources first" >&2
    exit 4
  fi
  upgrades=$(upgrades_in_plan <<<"$plan")
  if [[ -n $upgrades ]]; then
    echo "install-deps: the install needs Debian 12 stable/security updates of: ${upgrades//$'\n'/ }" >&2
  fi
  before=$(installed_versions)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-upgrade "${missing[@]}"
  # Anything that changed beyond the planned upgrades is refused after the fact.
  changed=$(comm -23 <(printf '%s\n' "$before") <(installed_versions) | cut -d' ' -f1 | sed 's/:[^:]*$//' |
    grep -vxF -f <(printf '%s\n' "$upgrades" | sed 's/:[^:]*$//') || true)
  if [[ -n $changed ]]; then
    echo "install-deps: these installed packages changed version or were removed during the install, though the plan did not upgrade them: ${changed//$'\n'/ }" >&2
    exit 4
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found; install Rust 1.95 (rustup) first" >&2
  exit 3
fi
if [[ $want_test == 1 ]] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest from crates.io" >&2
  cargo install --locked cargo-nextest
fi
if [[ $want_test == 1 ]] && ! cargo deny --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-deny from crates.io" >&2
  cargo install --locked cargo-deny
fi
# The online tests' Python side (idempotent, each by a stamp of its
# requirements): the LocalStack + moto venv, and parliament (the IAM policy
# linter) in a venv of its own so its pins never meet the emulators'.
if [[ $want_test == 1 ]]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  bash "$here/localstack/emulators.sh" install
  lintv=$here/../.work/lint-venv
  want=$(sha256sum "$here/localstack/lint.txt" | cut -d' ' -f1)
  if [[ ! -x $lintv/bin/parliament || $(cat "$lintv/.airlock-stamp" 2>/dev/null) != "$want" ]]; then
    echo "install-deps: building $lintv (parliament)" >&2
    rm -rf "$lintv"
    "${PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3.13}" -m venv "$lintv"
    "$lintv/bin/pip" install -q -r "$here/localstack/lint.txt"
    printf '%s\n' "$want" >"$lintv/.airlock-stamp"
  fi
fi
