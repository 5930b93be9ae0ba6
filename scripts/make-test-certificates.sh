#!/usr/bin/env bash
# Makes the certificates the TLS tests use, in the folder given (created if needed):
#   ca.pem / ca.key           a test CA
#   server.pem / server.key   its certificate for localhost and 127.0.0.1, full chain (leaf, CA)
#   other.key                 a key that belongs to no certificate here (mismatch tests)
#   expired.pem / expired.key a certificate valid only in January 2020
#   encrypted.key             server.key under AES-256, password in password.txt
#   wrong-password.txt        a password that is not it
#   rotated.pem / rotated.key a second certificate for localhost (rotation tests)
# Uses only the openssl command; ECDSA P-256 keeps it fast.
set -euo pipefail
dir=${1:?usage: make-test-certificates.sh DIR}
mkdir -p "$dir"
cd "$dir"
curve=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${curve[@]}" -keyout ca.key -out ca.pem -days 30 -subj "/CN=Tickstream Test CA" 2>/dev/null
sign() {  # sign NAME CN [openssl ca dates...]: NAME.key + NAME leaf signed by the CA
  local name=$1 cn=$2; shift 2
  openssl req "${curve[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$name.csr" -out "$name.leaf" \
    -extfile san.ext "$@" >/dev/null 2>&1
  cat "$name.leaf" ca.pem > "$name.pem"
}
cat > ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
: > index.txt
echo 01 > serial
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > san.ext
sign server localhost -days 30
sign rotated localhost -days 60
sign expired localhost -startdate 20200101000000Z -enddate 20200201000000Z
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
echo "correct horse" > password.txt
echo "wrong" > wrong-password.txt
openssl pkey -in server.key -aes256 -passout "pass:correct horse" -out encrypted.key
