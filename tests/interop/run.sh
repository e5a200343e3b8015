#!/usr/bin/env bash
# Runs the Python and Node interop suites against the host at $PYAIRTABLE_GRPC_ADDRESS (host:port).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${PYAIRTABLE_GRPC_ADDRESS:?set PYAIRTABLE_GRPC_ADDRESS to the gRPC address of the host, e.g. 127.0.0.1:50051}"
status=0
echo "-- python"
bash "$here/python/run.sh" || status=1
echo "-- node"
node --test --test-reporter=tap "$here/node/interop.test.mjs" || status=1
exit $status
