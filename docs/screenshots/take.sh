#!/usr/bin/env bash
# Retakes the screenshots in this folder: runs the desktop app under Xvfb on
# the demo workstation (run ceremony-scripts/demo.sh --headless first), drives
# a 9-key ceremony with xdotool (mouse positions for a 1400x900 screen), and
# saves one PNG per step, the abort dialog, and the docked journal at
# 1400x900 and (the window resized) 1024x768. Folder choices come from AIRLOCK_GUI_FOLDERS instead
# of the GTK dialog. Needs xvfb, imagemagick and xdotool.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD demo=$root/.work/demo shots=$root/.work/gui-shots out=$root/docs/screenshots
rm -rf "$shots" && mkdir -p "$shots/out"
keys=()
for env in dev int prod; do for svc in s3 rds dynamodb; do
  keys+=(--key "$env-$svc:SYMMETRIC_DEFAULT:RSAES_OAEP_SHA_256:RSA_4096")
done; done
bash tests/lib/make-request-bundle.sh --out "$shots/request" --signer-key "$demo/secrets/signer.pem" \
  --request-id "gui-shots-$RANDOM" --wrapping-key-dir "$demo/wrapping-keys" "${keys[@]}" >/dev/null

export DISPLAY=:99 KRYOPTIC_CONF=$demo/kryoptic.conf AIRLOCK_CONFIG=$demo/airlock.toml
export AIRLOCK_GUI_FOLDERS="$shots/request:$shots/out"
Xvfb :99 -screen 0 1400x900x24 >/dev/null 2>&1 & xvfb=$!
sleep 1
target/debug/airlock --config "$AIRLOCK_CONFIG" >"$shots/app.log" 2>&1 & app=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 5
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-1}"; }
shot() { import -window root "$out/$1.png"; }
next() { click 458 857; }               # the Continue button in the bottom bar
custodian() {                            # name x/y, field y, passphrase
  click "$1" "$2" 0.3; click 620 "$3" 0.3
  xdotool type --delay 30 "$4"; xdotool key Return; sleep 5
}
xdotool windowfocus --sync "$(xdotool search --name Airlock | head -1)" || true
click 330 276 0.5; click 380 484 4; shot 01-preflight; next
custodian 434 221 306 "$(cat "$demo/secrets/alice")"; shot 02-custodians
custodian 431 332 417 "$(cat "$demo/secrets/bob")"; next
click 462 173 4; shot 03-request
click 1316 22 1; shot 11-abort-dialog; xdotool key Escape; sleep 1   # opens on "Keep the ceremony going" (focused); Escape keeps going
next
xdotool mousemove 700 420; for _ in $(seq 15); do xdotool click 5; sleep 0.1; done; sleep 1   # scroll the plan to its last key
click 321 606 1; click 602 606 1; click 510 863 1.5; shot 04-review; next   # ticks, then "The digests match"
click 458 258 2; click 421 273 8; shot 05-generate; next   # the output folder (checked before the login), then log in and generate
click 399 222 5; shot 06-seal-export; next                 # "Seal and export" into the folder chosen before the login
shot 07-attestation; click 529 537 2; next   # no bag serials: "Confirm: no tamper-evident bags are used"
click 510 521 1.5; click 406 571 5; shot 08-wipe; next   # bundle digest confirmed, then the wipe
shot 09-done
click 1114 22; shot 10-journal                                       # the journal docked on the right
xdotool windowsize "$(xdotool search --name Airlock | head -1)" 1024 768; sleep 2
import -window root -crop 1024x768+0+0 +repage "$out/10-journal-1024x768.png"
