#!/usr/bin/env bash
# Throwaway PKI for CI and labs (never for production): a CA and, per NAME, a certificate with
# SAN DNS:NAME usable as TLS server and client (the audit receiver and its senders).
#   make-pki.sh DIR NAME...      writes DIR/ca.pem, DIR/ca.key, DIR/NAME.pem, DIR/NAME.key
# Existing files are kept, so a second run changes nothing.
set -euo pipefail
dir=${1:?usage: make-pki.sh DIR NAME...}
shift
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=enclave-test-ca" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi
for name in "$@"; do
  [ -f "$name.pem" ] && continue
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$name" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
done
chmod 600 ./*.key
openssl verify -CAfile ca.pem "${@/%/.pem}" >/dev/null
