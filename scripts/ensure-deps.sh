#!/usr/bin/env bash
# Installs what ./run.sh and ./test.sh need that a fresh Debian 12 machine with only the .NET SDK
# lacks: PostgreSQL server binaries, Redis, and the tools of the test suites. Idempotent; installs only what is missing.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto) come with libprotobuf-dev, only a
# recommendation of protobuf-compiler, and we install without recommendations.
[ -f /usr/include/google/protobuf/timestamp.proto ] || missing+=(libprotobuf-dev)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
# The Python interop suite: Debian's gRPC for /usr/bin/python3 and the protoc plugin for its stubs.
[ -x /usr/bin/grpc_python_plugin ] || missing+=(protobuf-compiler-grpc)
/usr/bin/python3 -c "import grpc, google.protobuf" 2>/dev/null || missing+=(python3-grpcio python3-protobuf)
# …and PyJWT + cryptography, with which it verifies the platform's access tokens against its JWKS.
/usr/bin/python3 -c "import jwt, cryptography" 2>/dev/null || missing+=(python3-jwt python3-cryptography)
# The SMTP server the integration and interop tests mail verification codes to (python3 -m aiosmtpd).
/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null || missing+=(python3-aiosmtpd)
# …and redis-py, with which it reads the event stream straight from Redis.
/usr/bin/python3 -c "import redis" 2>/dev/null || missing+=(python3-redis)
# The JSON/HTTP interop walk (tests/interop/rest) speaks plain HTTP with requests.
/usr/bin/python3 -c "import requests" 2>/dev/null || missing+=(python3-requests)
# test.sh's Prometheus server scrapes the interop host's /metrics (the package's own service is never started: see below).
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
# h2load, with which bench-gateway and bench-hotpath drive the host (the .NET client would be the bottleneck).
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
# kubectl renders the Kubernetes overlays (kubectl kustomize) for test.sh and the manifest tests.
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${missing[*]}; install them (sudo apt-get install -y ${missing[*]}) or run as root" >&2
  exit 1
fi

echo "installing ${missing[*]} (apt-get)…" >&2
# The project runs its own clusters in project-local folders: don't let the package create and
# start a system-wide one on port 5432.
mkdir -p /etc/postgresql-common
if [ ! -f /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
  echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d 101: packages must not start their services (we start our own on other ports).
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.pyairtable
chmod +x /usr/sbin/policy-rc.d.pyairtable
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
restore_policy() {
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.pyairtable
}
# Put the machine's service policy back even when the install fails.
trap restore_policy EXIT
[ $had_policy = 1 ] || cp /usr/sbin/policy-rc.d.pyairtable /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
