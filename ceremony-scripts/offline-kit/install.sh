#!/usr/bin/env bash
# Installs Airlock on the air-gapped workstation from this offline kit,
# without any network:
#
#   1. checks every file against SHA256SUMS, and that the kit holds no file
#      SHA256SUMS does not list and no symbolic link;
#   2. installs the kit's .debs with dpkg -i (only those the workstation
#      does not already have at the same or a newer version);
#   3. unpacks the kit's Rust toolchain (or uses the installed rustc, which
#      must then be the exact version the kit was made with);
#   4. builds in a fresh directory with `cargo build --release --locked
#      --offline` under a clean environment with the reproducibility flags
#      (docs/install.md), and prints the binary's SHA-256;
#   5. installs the binary as PREFIX/bin/airlock and prints `airlock --version`.
#
# Usage: install.sh [--cli-only] [--skip-debs] [--prefix DIR] [--build-dir DIR]
#                   [--toolchain-dir DIR] [--no-install]
#   --cli-only         build without the desktop app (--no-default-features)
#   --skip-debs        do not install the .debs (they are already installed)
#   --prefix DIR       install DIR/bin/airlock (default /usr/local)
#   --build-dir DIR    build here; must be new or empty (default: a new
#                      directory under /var/tmp)
#   --toolchain-dir D  where the kit's toolchain is unpacked (default
#                      /opt/airlock-rust-VERSION)
#   --no-install       build and print the hash, install nothing
#
# Exit codes: 0 installed; 2 usage error; 3 a step failed (named in the
# message); 4 the kit does not match SHA256SUMS (do NOT use it).
set -euo pipefail

usage() { sed -n '/^# Usage:/,/^#   --no-install/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "install: $*" >&2; exit 3; }
log() { echo "install: $*" >&2; }

cli_only=0 skip_debs=0 prefix=/usr/local build_dir="" toolchain_dir="" do_install=1
while (($#)); do
  case "$1" in
    --cli-only) cli_only=1; shift ;;
    --skip-debs) skip_debs=1; shift ;;
    --prefix) [[ $# -ge 2 ]] || usage; prefix=$2; shift 2 ;;
    --build-dir) [[ $# -ge 2 ]] || usage; build_dir=$2; shift 2 ;;
    --toolchain-dir) [[ $# -ge 2 ]] || usage; toolchain_dir=$2; shift 2 ;;
    --no-install) do_install=0; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown argument $1" >&2; usage ;;
  esac
done

kit=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
kit_info() { sed -n "s/^$1=//p" "$kit/KIT-INFO"; }

# 1. Integrity: every listed file matches, and nothing unlisted was added.
[[ -f SHA256SUMS && -f KIT-INFO ]] || { echo "install: $kit has no SHA256SUMS or KIT-INFO; this is not an Airlock kit" >&2; exit 4; }
log "checking $(wc -l <SHA256SUMS) files against SHA256SUMS (digest $(sha256sum SHA256SUMS | cut -d' ' -f1))"
if ! sha256sum --check --strict --quiet SHA256SUMS >&2; then
  echo "install: the kit does NOT match its SHA256SUMS (files listed above); stop and report it" >&2
  exit 4
fi
links=$(find . -type l -printf '%P\n')
if [[ -n $links ]]; then
  printf 'install: the kit holds symbolic links (a kit has none):\n%s\ninstall: stop and report it\n' "$links" >&2
  exit 4
fi
extra=$(comm -13 <(cut -c67- SHA256SUMS | LC_ALL=C sort) \
  <(find . ! -type d ! -path ./SHA256SUMS -printf '%P\n' | LC_ALL=C sort))
if [[ -n $extra ]]; then
  printf 'install: the kit holds files SHA256SUMS does not list:\n%s\ninstall: stop and report it\n' "$extra" >&2
  exit 4
fi
commit=$(cat source/AIRLOCK_GIT_COMMIT)
[[ $commit == "$(kit_info commit)" ]] || die "source/AIRLOCK_GIT_COMMIT ($commit) and KIT-INFO ($(kit_info commit)) disagree"
source_date_epoch=$(kit_info source_date_epoch)
[[ $source_date_epoch =~ ^[0-9]+$ ]] || die "KIT-INFO has no numeric source_date_epoch"
log "kit is intact: commit $commit"

# 2. System packages, offline.
if ((skip_debs == 0)) && compgen -G "debs/*.deb" >/dev/null; then
  [[ $(id -u) -eq 0 ]] || die "installing .debs needs root (or pass --skip-debs if they are installed)"
  todo=()
  for deb in debs/*.deb; do
    # shellcheck disable=SC2016 # dpkg's own ${Field} syntax
    IFS=$'\t' read -r pkg ver arch < <(dpkg-deb --show --showformat='${Package}\t${Version}\t${Architecture}\n' "$deb")
    name=$pkg; [[ $arch == all ]] || name="$pkg:$arch"
    have=$(dpkg-query -W -f='${db:Status-Abbrev}\t${Version}' "$name" 2>/dev/null || true)
    if [[ $have == ii* ]] && dpkg --compare-versions "${have#*$'\t'}" ge "$ver"; then
      continue
    fi
    todo+=("$deb")
  done
  if ((${#todo[@]})); then
    log "dpkg -i: ${#todo[@]} of $(compgen -G 'debs/*.deb' | wc -l) packages are missing or older here"
    DEBIAN_FRONTEND=noninteractive dpkg -i "${todo[@]}" >&2 || die "dpkg -i failed (see above)"
  else
    log "all kit packages are already installed"
  fi
  [[ -z $(dpkg --audit 2>&1) ]] || die "dpkg --audit reports broken packages: $(dpkg --audit 2>&1 | head -5)"
fi

# 3. The toolchain: the kit's, or the same version already installed.
want_rustc=$(kit_info rustc)
tarball=$(kit_info toolchain)
if [[ -n $tarball ]]; then
  version=$(echo "$want_rustc" | awk '{print $2}')
  toolchain_dir=${toolchain_dir:-/opt/airlock-rust-$version}
  if [[ ! -x $toolchain_dir/bin/rustc ]] || [[ $("$toolchain_dir/bin/rustc" -V) != "$want_rustc" ]]; then
    log "unpacking $tarball into $toolchain_dir"
    mkdir -p "$toolchain_dir"
    tar -C "$toolchain_dir" -xzf "$tarball" || die "could not unpack $tarball into $toolchain_dir"
  fi
  sysroot=$toolchain_dir
else
  command -v rustc >/dev/null || die "the kit has no toolchain and rustc is not installed"
  sysroot=$(rustc --print sysroot)
fi
rustc="$sysroot/bin/rustc" cargo="$sysroot/bin/cargo"
[[ -x $cargo ]] || die "no cargo next to rustc in $sysroot"
have_rustc=$("$rustc" -V)
[[ $have_rustc == "$want_rustc" ]] \
  || die "rustc is '$have_rustc' but the kit was made with '$want_rustc'; a different compiler gives a different binary"

# 4. Build in a fresh directory, in a clean environment.
if [[ -z $build_dir ]]; then
  build_dir=$(mktemp -d /var/tmp/airlock-build.XXXXXX)
else
  [[ ! -e $build_dir ]] || [[ -z $(ls -A "$build_dir") ]] || die "--build-dir $build_dir is not empty"
  mkdir -p "$build_dir"
  build_dir=$(cd "$build_dir" && pwd)
fi
log "building in $build_dir"
mkdir -p "$build_dir/home" "$build_dir/cargo-home"
cp -a source "$build_dir/src"

features=()
((cli_only == 0)) || features=(--no-default-features)
# Everything the build can see lives under $build_dir, and that prefix is
# remapped, so no build path reaches the binary. Build ids are dropped and
# symbols stripped so only the code decides the hash.
sep=$'\x1f'
rustflags="--remap-path-prefix=$build_dir=/airlock-build${sep}-Clink-arg=-Wl,--build-id=none${sep}-Cstrip=symbols"
(
  cd "$build_dir/src"
  env -i \
    PATH="$sysroot/bin:/usr/bin:/bin" HOME="$build_dir/home" LC_ALL=C TZ=UTC \
    CARGO_HOME="$build_dir/cargo-home" CARGO_TARGET_DIR="$build_dir/src/target" \
    CARGO_NET_OFFLINE=true RUSTC="$rustc" \
    CARGO_ENCODED_RUSTFLAGS="$rustflags" \
    SOURCE_DATE_EPOCH="$source_date_epoch" AIRLOCK_GIT_COMMIT="$commit" \
    "$cargo" build --release --locked --offline -p airlock-app "${features[@]}"
) >&2 || die "cargo build failed (see above)"
binary="$build_dir/src/target/release/airlock"
hash=$(sha256sum "$binary" | cut -d' ' -f1)
version=$("$binary" --version)
[[ $version == *"commit $commit,"* ]] || die "the built binary says '$version', not commit $commit"

# 5. Install.
if ((do_install)); then
  install -D -m 0755 "$binary" "$prefix/bin/airlock"
  log "installed $prefix/bin/airlock"
fi
echo "binary:  $binary"
echo "sha256:  $hash"
echo "version: $version"
