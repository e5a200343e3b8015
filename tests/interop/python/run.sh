#!/usr/bin/env bash
# The Python interop suite: stubs generated now from protos/ (Debian protoc + grpc_python_plugin),
# tests run with Debian's python3-grpcio against $PYAIRTABLE_GRPC_ADDRESS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

/usr/bin/protoc -I"$root/protos" -I"$here/../protos" -I/usr/include \
  --python_out="$out" --grpc_out="$out" --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
  $(cd "$root/protos" && find pyairtable -name '*.proto' | sort) \
  $(cd "$here/../protos" && find . -name '*.proto' | sed 's#^\./##' | sort)

# /usr/bin/python3 explicitly: a pyenv python3 earlier on PATH has no grpc.
PYTHONPATH="$out" /usr/bin/python3 "$here/test_interop.py"
