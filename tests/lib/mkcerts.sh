#!/bin/sh
# Make the certificates the TLS tests need, fresh each run (keys are never
# committed).  Usage: mkcerts.sh DIR
#   ca.pem/ca.key          test CA
#   other-ca.pem           an unrelated CA (the "wrong CA")
#   server.pem/server.key  signed by ca, for localhost, 127.0.0.1 and ::1
#   wronghost.pem/.key     signed by ca, for wrong.example only
#   expired.pem/.key       signed by ca, expired yesterday
#   selfsigned.pem/.key    self-signed, like a new NPort G2's own certificate
#   client.pem/client.key  signed by ca, a host's client certificate
#   rogue-client.pem/.key  signed by other-ca
set -eu
d=$1
mkdir -p "$d"
cd "$d"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name cn
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

leaf() { # name ca cn san days
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
        -days "$5" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca ca "realcom test CA"
ca other-ca "some other CA"
leaf server ca localhost "DNS:localhost,IP:127.0.0.1,IP:::1" 30
leaf wronghost ca wrong.example "DNS:wrong.example" 30
leaf expired ca localhost "DNS:localhost,IP:127.0.0.1" -1
leaf client ca "realcom host" "DNS:client.invalid" 30
leaf rogue-client other-ca "rogue host" "DNS:rogue.invalid" 30
key selfsigned.key
openssl req -x509 -new -key selfsigned.key -out selfsigned.pem -days 30 \
    -subj "/CN=NPort-6150-G2-ABCDEF" -addext "subjectAltName=IP:127.0.0.1"
