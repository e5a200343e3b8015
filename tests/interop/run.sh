#!/usr/bin/env bash
# Runs the Python and Node interop suites against the host at $PYAIRTABLE_GRPC_ADDRESS (host:port), and the JSON/HTTP
# and gRPC-Web ones against its HTTP/1.1 endpoint at $PYAIRTABLE_HTTP_ADDRESS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${PYAIRTABLE_GRPC_ADDRESS:?set PYAIRTABLE_GRPC_ADDRESS to the gRPC address of the host, e.g. 127.0.0.1:50051}"
: "${PYAIRTABLE_HTTP_ADDRESS:?set PYAIRTABLE_HTTP_ADDRESS to the HTTP/1.1 address of the host, e.g. 127.0.0.1:50053}"
export PYAIRTABLE_HTTP_ADDRESS
status=0
echo "-- python"
bash "$here/python/run.sh" || status=1
echo "-- rest (python requests, JSON/HTTP only)"
/usr/bin/python3 "$here/rest/test_rest.py" || status=1
echo "-- openapi served by the host (independent validator)"
node "$here/openapi/validate.mjs" "http://$PYAIRTABLE_HTTP_ADDRESS/openapi.json" || status=1
echo "-- node (grpc-js; gRPC-Web with Connect-ES, code generated now by protoc-gen-es from protos/)"
# Inside the repository, so the generated modules resolve @bufbuild/protobuf from its node_modules.
gen="$root/.local/interop-gen/es"
rm -rf "$gen"
"$root/node_modules/.bin/buf" generate "$root/protos" --template \
  "{\"version\":\"v2\",\"plugins\":[{\"local\":\"$root/node_modules/.bin/protoc-gen-es\",\"out\":\"$gen\",\"opt\":[\"target=js\",\"import_extension=js\"]}]}" \
  || status=1
echo '{ "type": "module" }' >"$gen/package.json"
PYAIRTABLE_ES_GEN="$gen" node --test --test-reporter=tap "$here/node/interop.test.mjs" "$here/grpcweb/grpcweb.test.mjs" || status=1
exit $status
