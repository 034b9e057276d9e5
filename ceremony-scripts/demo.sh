#!/usr/bin/env bash
# The README's demo command: a whole ceremony on an embedded soft token
# (Kryoptic, built from crates.io) with demo request data. No HSM and no
# AWS account needed. Everything lands in .work/demo/ (recreated each run).
#
#   ceremony-scripts/demo.sh             with a display (DISPLAY or WAYLAND_DISPLAY):
#                                        open the desktop app on the demo data;
#                                        without one: the headless ceremony
#   ceremony-scripts/demo.sh --headless  headless ceremony, then verify the bundle
#   ceremony-scripts/demo.sh --gui       the desktop app even if no display is set
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
gui=0
case "${1:-}" in
  --gui) gui=1 ;;
  --headless) gui=0 ;;
  "") [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]] && gui=1 ;;
  *) echo "usage: $0 [--headless|--gui]" >&2; exit 2 ;;
esac

say() { printf '\n== %s ==\n' "$*"; }

say "dependencies and build"
bash ceremony-scripts/lib/install-deps.sh
cargo build --locked -p airlock-app -p airlock-test-token
airlock="$root/target/debug/airlock"
module="$root/target/debug/libairlock_kryoptic.so"

demo="$root/.work/demo"
rm -rf "$demo"
mkdir -p "$demo"/{token,state,usb,secrets}
chmod 700 "$demo/secrets"

say "soft token (Kryoptic) and configuration"
cat >"$demo/kryoptic.conf" <<CONF
[[slots]]
slot = 1
dbtype = "sqlite"
dbargs = "$demo/token/token.sql"
description = "Airlock demo soft token"
CONF
export KRYOPTIC_CONF="$demo/kryoptic.conf"
printf 'demo-so-pin-%s\n' "$RANDOM$RANDOM" >"$demo/secrets/so-pin"
pkcs11-tool --module "$module" --init-token --label airlock-demo \
  --so-pin "$(cat "$demo/secrets/so-pin")" >/dev/null
cat >"$demo/airlock.toml" <<CONF
[hsm]
module = "$module"
token = "airlock-demo"
[state]
dir = "$demo/state"
CONF
export AIRLOCK_CONFIG="$demo/airlock.toml"
"$airlock" config check

say "online side: signer key and a signed demo request (dev/int/prod x s3/rds/dynamodb)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$demo/secrets/signer.pem" 2>/dev/null
openssl pkey -in "$demo/secrets/signer.pem" -pubout -out "$demo/signer.pub.pem"
keys=()
for env in dev int prod; do
  for svc in s3 rds dynamodb; do
    keys+=(--key "$env-$svc:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096")
  done
done
bash tests/lib/make-request-bundle.sh --out "$demo/usb/request" --signer-key "$demo/secrets/signer.pem" \
  --request-id demo-rotation --wrapping-key-dir "$demo/wrapping-keys" "${keys[@]}" >/dev/null
"$airlock" trust add-signer "$demo/signer.pub.pem" --name demo-online-signer
"$airlock" request verify "$demo/usb/request"

say "enrolment: two custodians, threshold 2 (the HSM user PIN is random and never shown)"
printf 'alice demo passphrase one\n' >"$demo/secrets/alice"
printf 'bob demo passphrase two\n' >"$demo/secrets/bob"
"$airlock" enroll --custodian "alice=@$demo/secrets/alice" --custodian "bob=@$demo/secrets/bob" \
  --threshold 2 --so-pin-file "$demo/secrets/so-pin"
"$airlock" quorum test --custodian "alice=@$demo/secrets/alice" --custodian "bob=@$demo/secrets/bob"
say "trust store: the quorum seals the signer enrolled before the custodians (a ceremony trusts only an HSM-sealed store)"
"$airlock" trust seal --custodian "alice=@$demo/secrets/alice" --custodian "bob=@$demo/secrets/bob"

if [[ $gui == 1 ]]; then
  say "desktop app"
  cat <<TEXT
Preflight: tick "Allow network" unless this machine is really air-gapped.
Custodians: alice types "$(cat "$demo/secrets/alice")", bob types "$(cat "$demo/secrets/bob")".
Request folder: $demo/usb/request
Output folder:  $demo/usb  (the bundle goes into a new folder inside it)
Ceremony signing key for 'airlock bundle verify': $demo/state/ceremony-signing-key.pem
TEXT
  exec "$airlock" --config "$AIRLOCK_CONFIG"
fi

say "ceremony"
# A demo machine is networked: a private network namespace no longer
# counts as an air gap (the check compares it with PID 1's), so the demo
# runs with the journaled network override, printed as NOT AIR-GAPPED.
net=(--allow-network)
run=()
if unshare -n true 2>/dev/null; then
  run=(unshare -n)
fi
"${run[@]}" "$airlock" --config "$AIRLOCK_CONFIG" ceremony run --request "$demo/usb/request" --out "$demo/usb/import-bundle" \
  --custodian "alice=@$demo/secrets/alice" --custodian "bob=@$demo/secrets/bob" "${net[@]}" \
  --request-digest "$(sha256sum "$demo/usb/request/SHA256SUMS" | cut -c1-64)"

say "online side: verify the sealed bundle"
"$airlock" bundle verify "$demo/usb/import-bundle" --ceremony-key "$demo/state/ceremony-signing-key.pem"
(cd "$demo/usb/import-bundle" && sha256sum -c --quiet SHA256SUMS && echo "sha256sum -c: OK")
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
  -verify "$demo/state/ceremony-signing-key.pem" -signature "$demo/usb/import-bundle/SHA256SUMS.sig" \
  "$demo/usb/import-bundle/SHA256SUMS"
echo
echo "Demo complete: the import bundle is in $demo/usb/import-bundle"
