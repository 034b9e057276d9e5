#!/usr/bin/env bash
# Shared functions of the online-side scripts (prepare-request.sh,
# import-bundle.sh, compliance-report.sh, make-iam-policies.sh): documented
# exit codes, error messages that say what/where/what to do, the aws CLI
# wrapper that honours --dry-run and the endpoint settings, atomic output
# folders, and the bundle checks done with sha256sum and openssl only.
# Sourced, never run.

# Exit codes shared by every online script (docs/online-runbook.md lists them).
readonly EX_OK=0
readonly EX_NONCOMPLIANT=1 # compliance-report.sh: something is not on the rotated key
readonly EX_USAGE=2        # bad command line
readonly EX_DEPENDENCY=3   # a needed tool (aws, jq, openssl, sha256sum) is missing
readonly EX_IO=4           # a file or folder could not be read or written, or already exists
readonly EX_DECLINED=5     # the operator declined a confirmation; nothing more was changed
readonly EX_PLAN=10        # plan.json is invalid (the message names the key and field)
readonly EX_AWS=11         # an AWS call failed (the message names the call and the key)
readonly EX_KEY_STATE=12   # a KMS key or alias is not in the state the step needs
readonly EX_BUNDLE=20      # the import bundle does not verify (layout, sums, signature)
readonly EX_DIGEST=21      # the bundle's SHA256SUMS digest differs from the one typed in
readonly EX_CONTENT=22     # import.json does not match the request or the account
readonly EX_KEY_TEST=30    # a key failed its post-import test (encrypt/decrypt, MAC, sign)
readonly EX_ROTATION=31    # on-demand rotation failed or an old ciphertext no longer decrypts
export EX_OK EX_NONCOMPLIANT EX_USAGE EX_DEPENDENCY EX_IO EX_DECLINED EX_PLAN EX_AWS \
    EX_KEY_STATE EX_BUNDLE EX_DIGEST EX_CONTENT EX_KEY_TEST EX_ROTATION

# The exit-code paragraph every --help ends with.
exit_codes_help() {
    cat <<'EOF'
Exit codes:
   0  success
   1  (compliance-report.sh only) at least one resource is NON_COMPLIANT
   2  usage: unknown option or missing argument
   3  a needed tool is missing (aws, jq, openssl, sha256sum)
   4  a file or folder could not be read or written, or the output already exists
   5  the operator declined a confirmation; nothing further was changed
  10  plan.json is invalid (the message names the key and the field)
  11  an AWS call failed (the message names the call, the key and AWS's error)
  12  a KMS key or alias is not in the state this step needs
  20  the import bundle does not verify (layout, SHA256SUMS, signature)
  21  the bundle's SHA256SUMS digest is not the one read from the attestation
  22  import.json does not match the request, the account or the key
  30  a key failed its test after import (encrypt/decrypt, MAC, sign/verify)
  31  on-demand rotation failed, or a ciphertext made before it no longer decrypts
EOF
}

SCRIPT_NAME=${SCRIPT_NAME:-$(basename "$0")}
DRY_RUN=${DRY_RUN:-0}
ENDPOINT_URL=${ENDPOINT_URL:-}

# die CODE WHAT... : prints "<script>: error: ..." and exits with CODE.
die() {
    local code=$1
    shift
    printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit "$code"
}

info() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$SCRIPT_NAME" "$*" >&2; }

# need TOOL...: exits 3 naming the first missing tool.
need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            die "$EX_DEPENDENCY" "'$t' is not installed or not on PATH; install it (Debian: apt-get install ${t/sha256sum/coreutils}; aws CLI: pip install awscli) and run again"
    done
}

# Prints a command line with each argument shell-quoted (for --dry-run).
quote_cmd() {
    local out="" a
    for a in "$@"; do out+="$(printf '%q' "$a") "; done
    printf '%s\n' "${out% }"
}

# aws_call WHAT SERVICE OPERATION ARGS...: runs the aws CLI with JSON output,
# the --endpoint-url when one was given, and prints its stdout. On failure
# exits 11 naming WHAT (the key or resource), the call and AWS's own message.
# Under --dry-run it prints the command to stderr prefixed "DRY-RUN:" and
# returns without calling AWS.
aws_call() {
    local what=$1
    shift
    local cmd=(aws --output json)
    [[ -n $ENDPOINT_URL ]] && cmd+=(--endpoint-url "$ENDPOINT_URL")
    cmd+=("$@")
    if [[ $DRY_RUN == 1 ]]; then
        printf 'DRY-RUN: %s\n' "$(quote_cmd "${cmd[@]}")" >&2
        return 0
    fi
    local err rc=0 out
    err=$(mktemp)
    out=$("${cmd[@]}" 2>"$err") || rc=$?
    if ((rc != 0)); then
        local msg
        msg=$(tr '\n' ' ' <"$err")
        rm -f "$err"
        die "$EX_AWS" "'aws $1 $2' for $what failed (exit $rc): ${msg:-no message}. Check the credentials/role for this step, the region and the endpoint; nothing after this call was done"
    fi
    rm -f "$err"
    printf '%s\n' "$out"
}

# aws_try SERVICE OPERATION ARGS...: like aws_call but returns the CLI's exit
# status instead of dying (for look-ups where "not found" is an answer).
aws_try() {
    local cmd=(aws --output json)
    [[ -n $ENDPOINT_URL ]] && cmd+=(--endpoint-url "$ENDPOINT_URL")
    "${cmd[@]}" "$@" 2>/dev/null
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# The SHA-256 of a public key's SubjectPublicKeyInfo DER (the signer
# fingerprint the workstation prints) from a PEM file (public or private).
spki_fingerprint_pem() {
    local pem=$1
    if grep -q 'BEGIN PUBLIC KEY' "$pem"; then
        openssl pkey -pubin -in "$pem" -pubout -outform DER
    else
        openssl pkey -in "$pem" -pubout -outform DER
    fi | sha256sum | cut -d' ' -f1
}

# Writes SHA256SUMS in DIR over every regular file except SHA256SUMS,
# SHA256SUMS.sig and EXCEPT (a further name, e.g. attestation.pdf), sorted
# in byte order (LC_ALL=C), coreutils format.
write_sha256sums() {
    local dir=$1
    local sums
    sums=$(cd "$dir" && find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0 -r sha256sum --) || die "$EX_IO" "cannot hash the files in $dir"
    printf '%s\n' "$sums" >"$dir/SHA256SUMS"
}

# make_staging OUT: creates and prints a fresh sibling temp folder of OUT, so
# that the final rename is atomic on the same file system.
make_staging() {
    local out=$1 parent
    parent=$(dirname -- "$out")
    mkdir -p -- "$parent" || die "$EX_IO" "cannot create the folder $parent; check the path and permissions"
    mktemp -d "$parent/.$(basename -- "$out").partial.XXXXXX" ||
        die "$EX_IO" "cannot create a temporary folder in $parent; check free space and permissions"
}

# publish_dir STAGING OUT: fsyncs STAGING and renames it to OUT (which must not exist).
publish_dir() {
    local staging=$1 out=$2
    sync -f "$staging" 2>/dev/null || sync
    [[ -e $out ]] && die "$EX_IO" "$out appeared while the bundle was being written; the new bundle is left in $staging"
    mv -T -- "$staging" "$out" || die "$EX_IO" "cannot rename $staging to $out"
}

# write_file_atomic FILE: copies stdin to FILE via a temp file in the same folder.
write_file_atomic() {
    local f=$1 tmp
    tmp=$(mktemp "$(dirname -- "$f")/.$(basename -- "$f").XXXXXX") ||
        die "$EX_IO" "cannot create a temporary file next to $f; check the folder and permissions"
    cat >"$tmp" && sync -f "$tmp" 2>/dev/null
    mv -f -- "$tmp" "$f" || die "$EX_IO" "cannot write $f"
}

# Normalises a digest typed from paper: drops spaces, dashes and colons,
# lowercases. Prints nothing when it is not 64 hex digits.
normalise_digest() {
    local d
    d=$(printf '%s' "$1" | tr -d ' :\t-' | tr 'A-F' 'a-f')
    [[ $d =~ ^[0-9a-f]{64}$ ]] && printf '%s' "$d"
    return 0
}

# The wrapping algorithm the spec's matrix prefers for a key spec.
preferred_wrapping_algorithm() {
    case "$1" in
        SYMMETRIC_DEFAULT | HMAC_224 | HMAC_256 | HMAC_384 | HMAC_512) echo RSAES_OAEP_SHA_256 ;;
        RSA_2048 | RSA_3072 | RSA_4096 | ECC_NIST_P256 | ECC_NIST_P384 | ECC_NIST_P521) echo RSA_AES_KEY_WRAP_SHA_256 ;;
        *) return 1 ;;
    esac
}

# The KMS key usage a key spec gets when none is given in the plan.
default_key_usage() {
    case "$1" in
        SYMMETRIC_DEFAULT) echo ENCRYPT_DECRYPT ;;
        HMAC_*) echo GENERATE_VERIFY_MAC ;;
        *) echo SIGN_VERIFY ;;
    esac
}

now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }
