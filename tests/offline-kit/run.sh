#!/usr/bin/env bash
# Checks run as `bash -c '...' _ ARGS`: the single quotes are meant.
# shellcheck disable=SC2016
# The offline kit end to end (issue 9):
#   - make-offline-kit.sh writes a kit of HEAD (source, vendored crates,
#     config snippet, AIRLOCK_GIT_COMMIT, install.sh, sorted SHA256SUMS);
#   - the kit's install.sh refuses a changed file, an added file and a
#     symbolic link (exit 4);
#   - install.sh builds the CLI-only release binary inside a network
#     namespace with no interface but loopback (`unshare -n`), twice, in two
#     different build directories, and both binaries have the same SHA-256;
#   - the binary's --version names the kit's commit and the release profile.
#
# Everything is written under .work/offline-kit/ (its own target dirs; the
# shared target/ is never touched). The .deb download and the toolchain
# tarball are skipped here (--no-debs --no-toolchain: slow, and this machine
# has both); docs/install.md records the by-hand run of those paths.
#
# Usage: tests/offline-kit/run.sh        Needs root (unshare -n).
# Prints `N passed, M failed` last; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
work=$root/.work/offline-kit
kit=$work/kit

passed=0 failed=0
pass() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { echo "$passed passed, $failed failed"; ((failed == 0)); exit $?; }

rm -rf "$work"
mkdir -p "$work"

# --- the kit ---------------------------------------------------------------
start=$SECONDS
if ! bash ceremony-scripts/make-offline-kit.sh --no-debs --no-toolchain "$kit" >"$work/make.log" 2>&1; then
  cat "$work/make.log"
  fail "make-offline-kit.sh writes a kit"
  finish
fi
pass "make-offline-kit.sh writes a kit ($((SECONDS - start)) s)"
commit=$(git rev-parse --short=12 HEAD)
digest=$(sha256sum "$kit/SHA256SUMS" | cut -d' ' -f1)

check "kit digest printed is the SHA-256 of SHA256SUMS" grep -qx "kit digest: $digest" "$work/make.log"
check "source is commit $commit with AIRLOCK_GIT_COMMIT and no .git" \
  bash -c '[[ $(cat "$1/source/AIRLOCK_GIT_COMMIT") == "$2" && -f $1/source/Cargo.lock && ! -e $1/source/.git ]]' _ "$kit" "$commit"
check "KIT-INFO records the commit and rustc" \
  bash -c 'grep -qx "commit=$2" "$1/KIT-INFO" && grep -qx "rustc=$(rustc -V)" "$1/KIT-INFO"' _ "$kit" "$commit"
check ".cargo/config.toml replaces crates-io with the vendored directory" \
  bash -c 'grep -q "replace-with = \"vendored-sources\"" "$1/source/.cargo/config.toml" && grep -q "directory = \"vendor\"" "$1/source/.cargo/config.toml"' _ "$kit"
check "every crate in Cargo.lock from crates.io is vendored" \
  bash -c 'n_lock=$(grep -c "^source = \"registry+" "$1/source/Cargo.lock"); n_vend=$(find "$1/source/vendor" -mindepth 1 -maxdepth 1 -type d | wc -l); [[ $n_lock -eq $n_vend ]]' _ "$kit"
check "SHA256SUMS verifies, is sorted, and lists every other file" \
  bash -c 'cd "$1" && sha256sum --check --strict --quiet SHA256SUMS && cut -c67- SHA256SUMS | LC_ALL=C sort -c && [[ $(wc -l <SHA256SUMS) -eq $(find . -type f ! -path ./SHA256SUMS | wc -l) ]]' _ "$kit"

# --- tamper evidence (no build happens: the check comes first) -------------
readme=$kit/source/README.md
cp "$readme" "$work/README.orig"
echo "tampered" >>"$readme"
bash "$kit/install.sh" --skip-debs --no-install >"$work/tamper.log" 2>&1
rc=$?
cp "$work/README.orig" "$readme"
check "install.sh refuses a changed file (exit 4, names it)" \
  bash -c '[[ $1 -eq 4 ]] && grep -q "source/README.md: FAILED" "$2" && grep -q "does NOT match" "$2"' _ "$rc" "$work/tamper.log"

echo 'fn main() {}' >"$kit/source/vendor/smuggled.rs"
bash "$kit/install.sh" --skip-debs --no-install >"$work/extra.log" 2>&1
rc=$?
rm -f "$kit/source/vendor/smuggled.rs"
check "install.sh refuses a file SHA256SUMS does not list (exit 4, names it)" \
  bash -c '[[ $1 -eq 4 ]] && grep -q "^source/vendor/smuggled.rs$" "$2"' _ "$rc" "$work/extra.log"

ln -s /etc/hostname "$kit/source/.cargo/linked.toml"
bash "$kit/install.sh" --skip-debs --no-install >"$work/link.log" 2>&1
rc=$?
rm -f "$kit/source/.cargo/linked.toml"
check "install.sh refuses a symbolic link in the kit (exit 4, names it)" \
  bash -c '[[ $1 -eq 4 ]] && grep -q "^source/.cargo/linked.toml$" "$2"' _ "$rc" "$work/link.log"

# --- two offline builds -----------------------------------------------------
# Inside `unshare -n` the only interface is lo (down): no route anywhere.
# /proc/net/dev lists the calling process's namespace (/sys/class/net
# would show the namespace sysfs was mounted in).
offline_build() { # NAME BUILD_DIR
  unshare -n bash -c '
    ifaces=$(awk -F: "NR > 2 { gsub(/ /, \"\", \$1); print \$1 }" /proc/net/dev | sort | tr "\n" " ")
    echo "interfaces: $ifaces"
    [[ $ifaces == "lo " ]] || { echo "not isolated: $ifaces"; exit 99; }
    exec bash "$1/install.sh" --cli-only --skip-debs --no-install --build-dir "$2"
  ' _ "$kit" "$2" >"$work/$1.log" 2>&1
}

# The two builds run side by side: each is single-threaded for long
# stretches (codegen-units=1), so on two cores this halves the wall time.
dir_a=$work/build-a
dir_b=$work/elsewhere/deeper/build-b # a different path, of a different length
start=$SECONDS
offline_build build-a "$dir_a" &
pid_a=$!
offline_build build-b "$dir_b" &
pid_b=$!
declare -A hash
for name in build-a build-b; do
  if [[ $name == build-a ]]; then pid=$pid_a dir=$dir_a; else pid=$pid_b dir=$dir_b; fi
  if wait "$pid"; then
    hash[$name]=$(sed -n 's/^sha256:  //p' "$work/$name.log")
    pass "offline build $name in $dir (sha256 ${hash[$name]})"
  else
    tail -30 "$work/$name.log"
    fail "offline build $name in $dir"
  fi
done
echo "     both builds took $((SECONDS - start)) s"
check "the builds ran with no network interface but lo" \
  bash -c 'grep -qx "interfaces: lo " "$1/build-a.log" && grep -qx "interfaces: lo " "$1/build-b.log"' _ "$work"
check "two builds in different directories give the same binary" \
  bash -c '[[ -n $1 && $1 == "$2" ]]' _ "${hash[build-a]:-}" "${hash[build-b]:-}"
check "airlock --version names version, kit commit and release profile" \
  grep -qx "version: airlock $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) (commit $commit, release build)" "$work/build-a.log"
check "no build path leaks into the binary" \
  bash -c 'bin=$1/build-a/src/target/release/airlock; [[ -f $bin ]] && ! grep -q -a -e "$1" -e "$HOME/.cargo" -e "$2" "$bin"' _ "$work" "$(rustc --print sysroot)"
check "the release binary has no fault-injection hook (AIRLOCK_FAULT_FAIL_CALL is debug-only)" \
  bash -c 'bin=$1/build-a/src/target/release/airlock; [[ -f $bin ]] && ! grep -q -a AIRLOCK_FAULT_FAIL_CALL "$bin"' _ "$work"

finish
