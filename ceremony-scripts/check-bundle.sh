#!/usr/bin/env bash
# The independent check of an import bundle with sha256sum and openssl only
# (docs/online-runbook.md, "Checking a bundle by hand"): the digest read
# from the attestation, the seal under the enrolled ceremony key, every
# file's SHA-256. Usage: check-bundle.sh BUNDLE CEREMONY-KEY.pem DIGEST
set -euo pipefail
b=$1 key=$2 want=$(tr -d ' :-' <<<"$3" | tr A-F a-f)
[[ $(sha256sum <"$b/SHA256SUMS" | cut -c1-64) == "$want" ]] || { echo "digest differs from the attestation" >&2; exit 1; }
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$key" -signature "$b/SHA256SUMS.sig" "$b/SHA256SUMS" >&2
(cd "$b" && sha256sum -c --strict --quiet SHA256SUMS) && echo "bundle $b: digest, seal and every listed file check out"
