#!/usr/bin/env bash
# Makes a rehearsal workstation in one folder: a Kryoptic soft token, an
# airlock.toml, three custodians enrolled (2 of 3) with known rehearsal
# passphrases, an enrolled request signer, and a signed request made from a
# rotation plan. Then prints the exact commands of the ceremony to run next.
# Nothing outside the folder is touched (except building airlock if needed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
    cat <<'EOF'
Usage: rehearse.sh DIR [--plan PLAN.json]

Builds a rehearsal workstation in DIR (a new or empty folder):
  DIR/airlock.toml            the configuration (pass it with --config)
  DIR/kryoptic.conf, token/   the soft token (Kryoptic) standing in for the HSM
  DIR/state/                  the state directory: roster (alice, bob, carol;
                              any 2 of the 3), trust store, ceremony signing key
  DIR/secrets/                rehearsal passphrases and the SO PIN (known on
                              purpose: this is a rehearsal, never a real ceremony)
  DIR/online/                 the rehearsal request signer and wrapping keys
  DIR/usb/request/            a signed request bundle, as if carried on USB
  DIR/NEXT-STEPS.txt          the commands to run next (also printed)

Options:
  --plan FILE   a rotation plan (format airlock-plan/1, docs/online-runbook.md);
                its request_id, account, region and keys (name, alias,
                environment, service, key spec) make the request. Default: a
                plan of dev/int/prod x s3/rds/dynamodb symmetric keys.
  -h, --help    this text

Environment: AIRLOCK_BIN (the airlock binary; default: target/debug/airlock,
built if missing), AIRLOCK_KRYOPTIC_MODULE (the Kryoptic PKCS#11 module;
default: target/debug/libairlock_kryoptic.so, built if missing).

Exit codes:
  0  the workstation is ready; the next commands are printed
  2  usage: unknown option, no DIR, or DIR exists and is not empty
  3  a tool is missing (pkcs11-tool, openssl, jq, sha256sum)
  4  the plan cannot be read or is not a valid airlock-plan/1
  5  a step failed (token, enrolment, signer, request); its output is shown
EOF
}

die() { local code=$1; shift; echo "rehearse: $*" >&2; exit "$code"; }

DIR="" PLAN=""
while (($#)); do
    case "$1" in
        --plan) [[ $# -ge 2 ]] || die 2 "--plan needs a file"; PLAN=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) die 2 "unknown option $1 (see --help)" ;;
        *) [[ -z $DIR ]] || die 2 "only one DIR (got $DIR and $1)"; DIR=$1; shift ;;
    esac
done
[[ -n $DIR ]] || { usage >&2; exit 2; }
if [[ -e $DIR && ! -d $DIR ]]; then die 2 "$DIR exists and is not a folder"; fi
if [[ -d $DIR && -n $(ls -A "$DIR") ]]; then
    die 2 "$DIR exists and is not empty; choose a new folder (a rehearsal never reuses one)"
fi
for t in pkcs11-tool openssl jq sha256sum; do
    command -v "$t" >/dev/null || die 3 "$t is not installed (ceremony-scripts/lib/install-deps.sh installs it)"
done

if [[ -n $PLAN ]]; then
    [[ -f $PLAN && -r $PLAN ]] || die 4 "plan $PLAN not found or not readable"
    problems=$(jq -r -f "$here/plan-check.jq" "$PLAN" 2>&1) || die 4 "$PLAN is not JSON: $problems"
    [[ -z $problems ]] || die 4 "$PLAN is not a valid plan:
$problems"
    PLAN=$(cd "$(dirname "$PLAN")" && pwd)/$(basename "$PLAN")
fi

airlock=${AIRLOCK_BIN:-$root/target/debug/airlock}
module_src=${AIRLOCK_KRYOPTIC_MODULE:-$root/target/debug/libairlock_kryoptic.so}
if [[ ! -x $airlock || ! -f $module_src ]]; then
    echo "rehearse: building airlock and the Kryoptic soft token (cargo build --locked)" >&2
    (cd "$root" && cargo build --locked -q -p airlock-app -p airlock-test-token) ||
        die 5 "cargo build failed"
fi
[[ -x $airlock ]] || die 5 "no airlock binary at $airlock"
[[ -f $module_src ]] || die 5 "no Kryoptic module at $module_src"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
mkdir -p "$DIR"/{token,state,usb,online,secrets}
chmod 700 "$DIR/secrets" "$DIR/online"
log=$DIR/rehearse.log
: >"$log"
# step WHAT CMD...: runs CMD with its output in rehearse.log; shows it on failure.
step() {
    local what=$1
    shift
    printf '== %s\n' "$what" >>"$log"
    if ! "$@" >>"$log" 2>&1; then
        tail -20 "$log" >&2
        die 5 "$what failed (full output in $log)"
    fi
}

# The token: a copy of the module, so the folder keeps working after a rebuild.
module=$DIR/token/libairlock_kryoptic.so
cp "$module_src" "$module"
cat >"$DIR/kryoptic.conf" <<CONF
[[slots]]
slot = 1
dbtype = "sqlite"
dbargs = "$DIR/token/token.sql"
description = "Airlock rehearsal soft token"
CONF
export KRYOPTIC_CONF=$DIR/kryoptic.conf
printf 'rehearsal-so-pin-1234\n' >"$DIR/secrets/so-pin"
step "initialise the soft token" pkcs11-tool --module "$module" --init-token \
    --label airlock-rehearsal --so-pin "$(cat "$DIR/secrets/so-pin")"
cat >"$DIR/airlock.toml" <<CONF
# Rehearsal workstation made by ceremony-scripts/rehearse.sh (docs/config.md).
[hsm]
module = "$module"
token = "airlock-rehearsal"
[state]
dir = "$DIR/state"
CONF
al=("$airlock" --config "$DIR/airlock.toml")
step "airlock config check" "${al[@]}" config check

custodians=(alice bob carol)
for c in "${custodians[@]}"; do
    printf '%s rehearsal passphrase\n' "$c" >"$DIR/secrets/$c"
done
chmod 600 "$DIR"/secrets/*
step "enrol alice, bob and carol (any 2 of 3)" "${al[@]}" enroll \
    --custodian "alice=@$DIR/secrets/alice" --custodian "bob=@$DIR/secrets/bob" \
    --custodian "carol=@$DIR/secrets/carol" --threshold 2 --so-pin-file "$DIR/secrets/so-pin"

# The online side: a request signer and a signed request from the plan.
step "make the rehearsal request signer" openssl genpkey -algorithm RSA \
    -pkeyopt rsa_keygen_bits:3072 -out "$DIR/online/signer.pem"
step "export its public key" openssl pkey -in "$DIR/online/signer.pem" -pubout -out "$DIR/online/signer.pub.pem"
# Once custodians are enrolled a trust change needs M of them (sealed by the HSM).
step "enrol the request signer (alice and bob approve)" "${al[@]}" trust add-signer "$DIR/online/signer.pub.pem" \
    --name rehearsal-signer --custodian "alice=@$DIR/secrets/alice" --custodian "bob=@$DIR/secrets/bob"

if [[ -z $PLAN ]]; then
    PLAN=$DIR/online/plan.json
    jq -n '{format: "airlock-plan/1", request_id: "rehearsal", aws_account: "111122223333",
            aws_region: "eu-west-1",
            keys: [("dev", "int", "prod") as $e | ("s3", "rds", "dynamodb") as $s |
                   {name: "\($e)-\($s)", alias: "alias/\($e)-\($s)", environment: $e, service: $s,
                    key_spec: "SYMMETRIC_DEFAULT", strategy: "on-demand"}]}' >"$PLAN"
fi
keyargs=()
while IFS=$'\t' read -r name spec; do
    case "$spec" in
        SYMMETRIC_DEFAULT | HMAC_*) alg=RSAES_OAEP_SHA_256 ;;
        *) alg=RSA_AES_KEY_WRAP_SHA_256 ;;
    esac
    keyargs+=(--key "$name:$spec:$alg:RSA_4096")
done < <(jq -r '.keys[] | [.name, .key_spec] | @tsv' "$PLAN")
request=$DIR/usb/request
step "make the signed request" bash "$root/tests/lib/make-request-bundle.sh" --out "$request" \
    --signer-key "$DIR/online/signer.pem" --wrapping-key-dir "$DIR/online/wrapping-keys" \
    --request-id "$(jq -r .request_id "$PLAN")" \
    --account "$(jq -r '.aws_account // "111122223333"' "$PLAN")" \
    --region "$(jq -r '.aws_region // "eu-west-1"' "$PLAN")" "${keyargs[@]}"
# The plan's aliases, environments and services (the generator uses one
# environment and service for all keys), then sign again.
jq --slurpfile plan "$PLAN" '
    ($plan[0].keys | map({(.name): .}) | add) as $p
    | .keys |= map(. + {alias: $p[.name].alias, environment: $p[.name].environment,
                        service: $p[.name].service})' "$request/request.json" >"$request/request.json.new"
mv "$request/request.json.new" "$request/request.json"
step "sign the request" bash "$root/tests/lib/make-request-bundle.sh" --resign "$request" \
    --signer-key "$DIR/online/signer.pem"
step "airlock request verify" "${al[@]}" request verify "$request"
digest=$(sha256sum "$request/SHA256SUMS" | cut -d' ' -f1)
fingerprint=$(openssl pkey -pubin -in "$DIR/online/signer.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)
nkeys=$(jq '.keys | length' "$request/request.json")

# Paths in the printed commands, quoted for the shell (unchanged when plain).
q() { printf '%q' "$1"; }
A=$(q "$airlock") C=$(q "$DIR/airlock.toml") R=$(q "$request") O=$(q "$DIR/usb/import-bundle")
# The request digest as the online side prints it (sha256sum of SHA256SUMS).
D=$(sha256sum "$request/SHA256SUMS" | cut -c1-64)
cust_alice=$(q "alice=@$DIR/secrets/alice") cust_bob=$(q "bob=@$DIR/secrets/bob")
cust_carol=$(q "carol=@$DIR/secrets/carol")
cat >"$DIR/NEXT-STEPS.txt" <<TEXT
Rehearsal workstation ready in $DIR
  soft token "airlock-rehearsal" (SO PIN: $(cat "$DIR/secrets/so-pin"))
  custodians alice, bob, carol, any 2 of 3; passphrases:
    alice: "$(cat "$DIR/secrets/alice")"   bob: "$(cat "$DIR/secrets/bob")"   carol: "$(cat "$DIR/secrets/carol")"
  request $(jq -r .request_id "$request/request.json"): $nkeys keys, signed by rehearsal-signer
    signer fingerprint (the online operator reads it): $fingerprint
    request digest (the online operator reads it):     $digest

Run these, in order, in one shell (docs/runbook.md says who reads what;
print the witness's sheet with the checklist command first). Leave out
"=@$DIR/secrets/NAME" to have each custodian type their passphrase unseen,
as in a real ceremony, and leave out --request-digest to have the plan shown
and each custodian type yes after the digest was read aloud. --allow-network is only there because a rehearsal
machine is rarely disconnected; leave it out on one that is.

--- commands ---
export KRYOPTIC_CONF=$(q "$DIR/kryoptic.conf")
$A checklist --out $(q "$DIR/checklist.pdf")
$A --config $C config check
$A --config $C hsm probe
$A --config $C ceremony status
$A --config $C request verify $R
$A --config $C quorum test --custodian $cust_alice --custodian $cust_bob
$A --config $C ceremony run --request $R --out $O --custodian $cust_alice --custodian $cust_bob --seal-serial REHEARSAL-0001 --allow-network --request-digest $D
$A bundle verify $O --ceremony-key $(q "$DIR/state/ceremony-signing-key.pem")
--- end ---

Then, with a printer set up (docs/runbook.md): $A print $(q "$DIR/usb/import-bundle/attestation.pdf")
The desktop app on the same workstation: KRYOPTIC_CONF=$(q "$DIR/kryoptic.conf") $A --config $C
To practise a forgotten passphrase, run the ceremony with carol instead of bob,
or replace bob: $A --config $C enroll --replace --current $cust_alice --current $cust_carol --custodian $cust_alice --custodian $cust_carol --custodian dave --threshold 2
TEXT
cat "$DIR/NEXT-STEPS.txt"
