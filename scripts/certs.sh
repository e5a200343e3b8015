#!/usr/bin/env bash
# Makes the platform's private CA (once) and a certificate per host, for mTLS between hosts.
#
#   scripts/certs.sh DIR HOST[:SERVICES][@NAMES] ...
#
#   HOST      the host's name: the certificate's CN and URI SAN spiffe://pyairtable/host/HOST
#   SERVICES  '+'-separated areas the host serves (users+permissions), each a URI SAN
#             spiffe://pyairtable/service/AREA: the identity services have when they call other hosts.
#             An edge (gateway only) has none.
#   NAMES     ','-separated DNS names and IP addresses the host is reached at (SANs); default: HOST,localhost,127.0.0.1
#
# Writes DIR/ca.crt, DIR/ca.key (keep it offline in production) and DIR/HOST.crt, DIR/HOST.key (PEM, EC P-256,
# serverAuth + clientAuth, valid 397 days). Re-running keeps the CA and re-issues the named hosts.
# Example: scripts/certs.sh .local/certs edge users-1:users@users-1,127.0.0.2 workspaces:workspaces+auth
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
dir=$1
shift
mkdir -p "$dir"
chmod 700 "$dir"
days=397

if [ ! -f "$dir/ca.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=PyAirtable/CN=PyAirtable platform CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  chmod 600 "$dir/ca.key"
fi

for spec in "$@"; do
  names=""
  if [[ $spec == *@* ]]; then
    names=${spec#*@}
    spec=${spec%%@*}
  fi
  host=${spec%%:*}
  services=""
  if [[ $spec == *:* ]]; then
    services=${spec#*:}
  fi
  if ! [[ $host =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
    echo "certs.sh: '$host' is not a valid host name (lower-case letters, digits, '-')" >&2
    exit 2
  fi
  [ -n "$names" ] || names="$host,localhost,127.0.0.1"
  san="URI:spiffe://pyairtable/host/$host"
  IFS=',' read -r -a list <<<"$names"
  for n in "${list[@]}"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
  done
  if [ -n "$services" ]; then
    IFS='+' read -r -a areas <<<"$services"
    for a in "${areas[@]}"; do
      if ! [[ $a =~ ^[a-z][a-z0-9]*$ ]]; then
        echo "certs.sh: '$a' is not a service area (e.g. users, permissions)" >&2
        exit 2
      fi
      san="$san,URI:spiffe://pyairtable/service/$a"
    done
  fi
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$host.key" 2>/dev/null
  chmod 600 "$dir/$host.key"
  ext=$(mktemp)
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$san" >"$ext"
  openssl req -new -key "$dir/$host.key" -subj "/O=PyAirtable/CN=$host" 2>/dev/null |
    openssl x509 -req -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days $days -sha256 -extfile "$ext" \
      -out "$dir/$host.crt" 2>/dev/null
  rm -f "$ext"
  echo "$dir/$host.crt ($san)"
done
