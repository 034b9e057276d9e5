#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs are single-quoted on purpose
# The rehearsal kit end to end: ceremony-scripts/rehearse.sh builds a
# workstation from a mixed plan, then the commands it printed are run as
# printed (a whole headless ceremony on the soft token) and the results are
# checked; plus its refusals and exit codes.
# Prints "N passed, M failed" last and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rehearse=$root/ceremony-scripts/rehearse.sh
work=$root/.work/rehearse-tests
rm -rf "$work"
mkdir -p "$work"

# shellcheck source=tests/lib/harness.sh
source "$root/tests/lib/harness.sh"

export AIRLOCK_BIN=${AIRLOCK_BIN:-$root/target/debug/airlock}
export AIRLOCK_KRYOPTIC_MODULE=${AIRLOCK_KRYOPTIC_MODULE:-$root/target/debug/libairlock_kryoptic.so}
if [[ ! -x $AIRLOCK_BIN || ! -f $AIRLOCK_KRYOPTIC_MODULE ]]; then
    cargo build --locked -q -p airlock-app -p airlock-test-token
fi

# --- usage and refusals -------------------------------------------------------
if command -v shellcheck >/dev/null; then
    check "shellcheck is clean on rehearse.sh and this test" shellcheck -x "$rehearse" "$root/tests/rehearse/run.sh"
fi
check "rehearse.sh --help lists the exit codes" bash -c "bash '$rehearse' --help | grep -q '^  4  the plan cannot be read'"
expect "no DIR is a usage error (2)" 2 bash "$rehearse"
expect "an unknown option is a usage error (2)" 2 bash "$rehearse" "$work/x" --no-such-option
mkdir -p "$work/busy"
echo keep >"$work/busy/file"
expect "a non-empty DIR is refused (2)" 2 bash "$rehearse" "$work/busy"
check "... and left as it was" bash -c "[[ \$(ls -A '$work/busy') == file && \$(cat '$work/busy/file') == keep ]]"
echo '{"format": "airlock-plan/1", "request_id": "x", "keys": []}' >"$work/bad-plan.json"
expect "an invalid plan is refused (4)" 4 bash "$rehearse" "$work/ws-bad" --plan "$work/bad-plan.json"
check "... and names the problem" grep -q "keys" "$work/last.out"
check "... before anything is made" test ! -e "$work/ws-bad"
expect "a missing plan is refused (4)" 4 bash "$rehearse" "$work/ws-bad" --plan "$work/no-such-plan.json"

# --- a workstation from a mixed plan -----------------------------------------
cat >"$work/plan.json" <<'JSON'
{
  "format": "airlock-plan/1",
  "request_id": "rehearsal-2026-12",
  "aws_account": "444455556666",
  "aws_region": "eu-central-1",
  "keys": [
    { "name": "prod-s3", "alias": "alias/prod/s3-data", "environment": "prod", "service": "s3",
      "key_spec": "SYMMETRIC_DEFAULT", "strategy": "on-demand" },
    { "name": "prod-mac", "alias": "alias/prod/api-mac", "environment": "prod", "service": "api",
      "key_spec": "HMAC_256", "strategy": "new-key" },
    { "name": "int-sign", "alias": "alias/int/signing", "environment": "int", "service": "signing",
      "key_spec": "ECC_NIST_P256", "strategy": "new-key" }
  ]
}
JSON
ws="$work/rehearsal ws"   # a space, to check the printed commands are quoted
start=$(date +%s)
expect "rehearse.sh builds a workstation from the plan" 0 bash "$rehearse" "$ws" --plan "$work/plan.json"
cp "$work/last.out" "$work/rehearse.out"
echo "      (rehearse.sh took $(($(date +%s) - start)) s)"
check "it prints the commands to run next" grep -q -- "--- commands ---" "$work/rehearse.out"
check "... and leaves them in NEXT-STEPS.txt" cmp -s <(cat "$ws/NEXT-STEPS.txt") "$work/rehearse.out"
req=$ws/usb/request/request.json
check "the request carries the plan's id, account and region" \
    jq -e '.request_id == "rehearsal-2026-12" and .aws_account == "444455556666" and .aws_region == "eu-central-1"' "$req"
check "... and each key's alias, environment and service" jq -e --slurpfile p "$work/plan.json" \
    '[.keys[] | {name, alias, environment, service}] == [$p[0].keys[] | {name, alias, environment, service}]' "$req"
check "... and the preferred wrapping algorithm per key spec" jq -e \
    '[.keys[].wrapping_algorithm] == ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256"]' "$req"
check "secrets are private to the owner" bash -c "[[ \$(stat -c %a '$ws/secrets') == 700 && \$(stat -c %a '$ws/secrets/alice') == 600 ]]"
check "three custodians are enrolled, threshold 2" grep -q "Enrolled 3 custodians (alice, bob, carol), threshold 2 of 3" "$ws/rehearse.log"
expect "running it again on the same DIR is refused (2)" 2 bash "$rehearse" "$ws"

# --- the printed commands, run as printed ---------------------------------------
sed -n '/^--- commands ---$/,/^--- end ---$/p' "$work/rehearse.out" | sed '1d;$d' >"$work/commands.sh"
check "the printed commands include a ceremony run" grep -q "ceremony run" "$work/commands.sh"
n=0
# One shell for all of them, as the operator would type them; stop at the first failure.
{
    echo 'set -e'
    while IFS= read -r line; do
        n=$((n + 1))
        printf '%s\n' "$line"
        printf 'echo "@@ done %d"\n' "$n"
    done <"$work/commands.sh"
} >"$work/commands-run.sh"
unset KRYOPTIC_CONF AIRLOCK_CONFIG
rc=0
(cd /tmp && env -u AIRLOCK_CONFIG bash "$work/commands-run.sh") >"$work/commands.out" 2>&1 || rc=$?
total=$(wc -l <"$work/commands.sh")
done_n=$(grep -c '^@@ done' "$work/commands.out" || true)
if ((rc == 0 && done_n == total)); then ok "all $total printed commands ran (checklist to bundle verify)"; else
    fail "the printed commands (exit $rc after $done_n of $total)" "$(cat "$work/commands.out")"; fi
check "the ceremony sealed an import bundle with its attestation" \
    test -f "$ws/usb/import-bundle/import.json" -a -f "$ws/usb/import-bundle/attestation.pdf"
check "every planned key was wrapped" jq -e '(.keys | length) == 3' "$ws/usb/import-bundle/import.json"
check "the bundle verifies with sha256sum -c as the online side does" \
    bash -c "cd '$ws/usb/import-bundle' && sha256sum -c --quiet SHA256SUMS"
check "the witness's checklist was written" bash -c "head -c 5 '$ws/checklist.pdf' | grep -q '%PDF-'"
if command -v pdftotext >/dev/null; then
    check "the attestation carries the rehearsal bag serial" \
        bash -c "pdftotext '$ws/usb/import-bundle/attestation.pdf' - | grep -q REHEARSAL-0001"
fi
expect "a second run of the same request is refused (50)" 50 env KRYOPTIC_CONF="$ws/kryoptic.conf" \
    "$AIRLOCK_BIN" --config "$ws/airlock.toml" ceremony run --request "$ws/usb/request" \
    --out "$ws/usb/again" --custodian "alice=@$ws/secrets/alice" --custodian "carol=@$ws/secrets/carol" --allow-network
