#!/usr/bin/env bash
# Builds the offline kit that carries Airlock across the air gap: on a
# CONNECTED Debian 12 machine, it writes into OUTDIR
#
#   source/              `git archive` of one commit, with `cargo vendor`ed
#                        crates (source/vendor/), the .cargo/config.toml that
#                        points cargo at them, and AIRLOCK_GIT_COMMIT
#   debs/                the .deb files the workstation needs to build and run
#                        Airlock, with their whole dependency closure
#                        (ceremony-scripts/offline-kit/debian-packages.txt)
#   toolchain/           the Rust toolchain this machine builds with (rustc,
#                        cargo, std), as a tarball
#   KIT-INFO             commit, SOURCE_DATE_EPOCH, rustc version, contents
#   install.sh           verifies SHA256SUMS, installs the .debs, builds with
#                        `cargo build --release --locked --offline`
#                        reproducibly, installs /usr/local/bin/airlock
#   SHA256SUMS           sorted, coreutils format, over every other file
#
# and prints the SHA-256 of SHA256SUMS: the kit digest the two custodians
# read aloud and compare (docs/install.md).
#
# Usage: make-offline-kit.sh [--ref REF] [--no-debs] [--no-toolchain] OUTDIR
#   --ref REF        commit to package (default HEAD); uncommitted changes
#                    are never in the kit, and install.sh and the package
#                    list are that commit's own
#   --no-debs        skip the .deb download (tests; the workstation then
#                    must already have the packages)
#   --no-toolchain   skip the toolchain tarball (tests; the workstation then
#                    must already have the same rustc)
#
# Exit codes: 0 kit written; 2 usage error; 3 a tool or input is missing or
# a step failed (the message names which).
set -euo pipefail

usage() { sed -n '/^# Usage:/,/^# a step failed/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "make-offline-kit: $*" >&2; exit 3; }
log() { echo "make-offline-kit: $*" >&2; }

ref=HEAD with_debs=1 with_toolchain=1 outdir=""
while (($#)); do
  case "$1" in
    --ref) [[ $# -ge 2 ]] || usage; ref=$2; shift 2 ;;
    --no-debs) with_debs=0; shift ;;
    --no-toolchain) with_toolchain=0; shift ;;
    -h|--help) usage ;;
    -*) echo "make-offline-kit: unknown option $1" >&2; usage ;;
    *) [[ -z $outdir ]] || usage; outdir=$1; shift ;;
  esac
done
[[ -n $outdir ]] || usage

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
for tool in git tar cargo rustc sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found; install it on this connected machine first"
done
((with_debs == 0)) || command -v apt-get >/dev/null || die "apt-get not found; the kit is made on Debian 12 (or use --no-debs)"

if [[ -e $outdir ]] && [[ -n $(ls -A "$outdir" 2>/dev/null) ]]; then
  die "$outdir exists and is not empty; give a new or empty directory (a kit is never written over an old one)"
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

commit_full=$(git -C "$repo" rev-parse --verify "$ref^{commit}" 2>/dev/null) \
  || die "--ref $ref is not a commit in $repo"
commit=${commit_full:0:12}
source_date_epoch=$(git -C "$repo" log -1 --format=%ct "$commit_full")
if [[ $ref == HEAD ]] && [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  log "note: the work tree has uncommitted changes; the kit holds commit $commit only"
fi

# 1. Source: exactly the tracked files of the commit.
log "source: git archive $commit"
mkdir "$outdir/source"
git -C "$repo" archive --format=tar "$commit_full" | tar -x -C "$outdir/source"
[[ -f $outdir/source/Cargo.lock ]] || die "Cargo.lock is not committed at $commit; --locked builds need it"
[[ ! -e $outdir/source/.cargo/config.toml ]] || die "the source already has .cargo/config.toml; merge the vendoring snippet by hand"
links=$(find "$outdir/source" -type l | head -3)
[[ -z $links ]] || die "the source holds symbolic links (e.g. ${links%%$'\n'*}); SHA256SUMS covers regular files only"
printf '%s\n' "$commit" >"$outdir/source/AIRLOCK_GIT_COMMIT"
# The install script and package list are the packaged commit's own, so a
# kit of an older tag installs the way that tag was meant to.
kit_files=$outdir/source/ceremony-scripts/offline-kit
[[ -f $kit_files/install.sh && -f $kit_files/debian-packages.txt ]] \
  || die "commit $commit has no ceremony-scripts/offline-kit/{install.sh,debian-packages.txt}; it predates the offline kit"

# 2. Vendored crates and the config snippet cargo vendor prints for them.
log "vendor: cargo vendor --locked (every crate in Cargo.lock, all platforms)"
mkdir -p "$outdir/source/.cargo"
vendor_log=$(mktemp)
(cd "$outdir/source" && cargo vendor --locked vendor) >"$outdir/source/.cargo/config.toml" 2>"$vendor_log" \
  || { tail -20 "$vendor_log" >&2; die "cargo vendor failed (is Cargo.lock at $commit up to date with the manifests?)"; }
rm -f "$vendor_log"
grep -q 'directory = "vendor"' "$outdir/source/.cargo/config.toml" \
  || die "cargo vendor printed no source replacement; see $outdir/source/.cargo/config.toml"

# 3. The Debian packages, resolved against an EMPTY dpkg status so the kit
#    holds the whole closure whatever this machine already has installed.
deb_count=0
if ((with_debs)); then
  mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$kit_files/debian-packages.txt" | grep -v '^$')
  log "debs: ${#pkgs[@]} packages and their dependencies (apt-get --download-only, empty status)"
  apt_state=$(mktemp -d)
  trap 'rm -rf "$apt_state"' EXIT
  mkdir -p "$apt_state/archives/partial" "$outdir/debs"
  : >"$apt_state/status"
  apt-get -q -o Dir::State::status="$apt_state/status" -o Dir::Cache::archives="$apt_state/archives" \
    -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false \
    install --download-only -y "${pkgs[@]}" >"$apt_state/apt.log" 2>&1 \
    || { tail -20 "$apt_state/apt.log" >&2; die "apt-get could not download the packages (run apt-get update?)"; }
  mv "$apt_state"/archives/*.deb "$outdir/debs/"
  deb_count=$(find "$outdir/debs" -name '*.deb' | wc -l)
  printf '%s\n' "${pkgs[@]}" >"$outdir/debs/REQUESTED"
fi

# 4. The toolchain: this machine's rustc/cargo/std (without the HTML docs).
rustc_version=$(rustc -V)
toolchain_file=""
if ((with_toolchain)); then
  sysroot=$(rustc --print sysroot)
  host=$(rustc -vV | sed -n 's/^host: //p')
  version=$(rustc -V | awk '{print $2}')
  toolchain_file="toolchain/rust-$version-$host.tar.gz"
  log "toolchain: $rustc_version from $sysroot"
  mkdir -p "$outdir/toolchain"
  tar -C "$sysroot" --exclude=./share/doc --owner=0 --group=0 --numeric-owner -czf "$outdir/$toolchain_file" .
fi

# 5. The install script and what the kit is.
cp "$kit_files/install.sh" "$outdir/install.sh"
chmod 0755 "$outdir/install.sh"
cat >"$outdir/KIT-INFO" <<EOF
commit=$commit
commit_full=$commit_full
source_date_epoch=$source_date_epoch
rustc=$rustc_version
cargo=$(cargo -V)
toolchain=$toolchain_file
debs=$deb_count
made_on=$(uname -srm)
EOF

# 6. SHA256SUMS over every regular file, sorted by path (C locale).
log "SHA256SUMS"
sums=$(mktemp)
(cd "$outdir" && find . -type f -printf '%P\n' | LC_ALL=C sort \
  | xargs -d '\n' sha256sum --) >"$sums"
mv "$sums" "$outdir/SHA256SUMS"
chmod 0644 "$outdir/SHA256SUMS"
digest=$(sha256sum "$outdir/SHA256SUMS" | awk '{print $1}')
files=$(wc -l <"$outdir/SHA256SUMS")
size=$(du -sh "$outdir" | cut -f1)

echo "kit:        $outdir ($files files, $size)"
echo "commit:     $commit_full"
echo "rustc:      $rustc_version"
echo "kit digest: $digest"
echo "read aloud: $(echo "$digest" | sed 's/..../& /g; s/ $//')"
