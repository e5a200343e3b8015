#!/usr/bin/env bash
# Runs the whole test suite. Installs what is missing (Debian packages, NuGet packages), starts a
# project-local PostgreSQL and Redis on free loopback ports under .local/test, and stops them on
# exit. Re-runnable; works as root (PostgreSQL itself runs as the postgres user).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
state="$root/.local/test"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

stop_all() {
  # Clusters that tests started for themselves (a test may have been interrupted).
  for dir in "$root"/.local/test-clusters/*/; do
    [ -d "$dir" ] && scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true
  done
  scripts/redis.sh stop "$state/redis" >/dev/null 2>&1 || true
  scripts/s3rver.sh stop "$state/s3" >/dev/null 2>&1 || true
  scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true
  # MSBuild nodes and the compiler server outlive the build: leave nothing running.
  dotnet build-server shutdown >/dev/null 2>&1 || true
}
trap stop_all EXIT
stop_all

bash scripts/ensure-deps.sh
echo "== installing node tools (buf, gRPC for the interop suite, s3rver) with npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== starting PostgreSQL and Redis (loopback, $state)"
PYAIRTABLE_TEST_POSTGRES=$(scripts/pg.sh start "$state/pg" 55433 --fast | tail -n 1)
PYAIRTABLE_TEST_REDIS=$(scripts/redis.sh start "$state/redis" 56380 | tail -n 1)
echo "== starting s3rver (S3-compatible, for the Files service's S3 backend)"
rm -rf "$state/s3"
PYAIRTABLE_TEST_S3=$(scripts/s3rver.sh start "$state/s3" 56390 | tail -n 1)
export PYAIRTABLE_TEST_POSTGRES PYAIRTABLE_TEST_REDIS PYAIRTABLE_TEST_S3

echo "== building (warnings are errors)"
dotnet build PyAirtable.sln -c Release -nologo -v quiet

echo "== contract gate: export drift, buf lint, compatibility with the released baseline"
dotnet Tools/PyAirtable.Tools/bin/Release/net10.0/pyairtable.dll protos check --dir protos
echo "== OpenAPI gate: export drift, compatibility with the released baseline, an independent validator"
dotnet Tools/PyAirtable.Tools/bin/Release/net10.0/pyairtable.dll openapi check --dir openapi --protos protos
node tests/interop/openapi/validate.mjs openapi/pyairtable.openapi.json
echo "== protoc compiles the exported protos"
(cd protos && protoc -I. -I/usr/include --descriptor_set_out=/dev/null $(find pyairtable -name '*.proto' | sort))
echo "== the Contracts package carries the protos"
rm -rf "$state/pack"
dotnet pack Contracts/PyAirtable.Contracts -c Release --no-build -o "$state/pack" -nologo -v quiet
listing=$(unzip -l "$state"/pack/PyAirtable.Contracts.*.nupkg)
for proto in $(cd protos && find pyairtable -name '*.proto' | sort); do
  grep -q "protos/$proto" <<<"$listing" || { echo "error: protos/$proto is missing from the package" >&2; exit 1; }
done

echo "== Kubernetes manifests render (kubectl kustomize; the unit tests load them strictly against the schemas)"
for overlay in deploy/kubernetes/overlays/*/; do
  kubectl kustomize "$overlay" >/dev/null || { echo "error: $overlay does not render" >&2; exit 1; }
done

echo "== running the tests"
log="$state/dotnet-test.log"
set +e
# No "|| true" here: under pipefail it would run and overwrite PIPESTATUS, hiding a failed run.
dotnet test PyAirtable.sln -c Release --no-build -nologo --logger "console;verbosity=normal" 2>&1 | tee "$log" \
  | grep -vE --line-buffered '^\s+Passed [^:]|^\s*$'
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole run: "N passed, M failed" (per-test result lines, cross-checked
# against the runners' own totals).
# The two test projects run side by side and share the console, so their lines can interleave ("  Passed   Passed X",
# then a line that is only a test name): count each result word (one not followed by a colon, as the totals are),
# not lines that start with one.
result_count() { { grep -oP "(?<!\\S)$1(?=\\s+[^\\s:])" "$log" || true; } | wc -l; }
passed=$(result_count Passed)
failed=$(result_count Failed)
skipped=$(result_count Skipped)
runs=$(grep -cE '^Total tests: ' "$log" || true)
total=$(grep -E '^Total tests: ' "$log" | awk '{ s += $3 } END { print s + 0 }')

if [ "$runs" -lt 2 ]; then
  echo "error: expected results from both test projects, got $runs" >&2
  status=1
fi
if [ "$total" -ne $((passed + failed + skipped)) ]; then
  echo "error: the runners counted $total tests, the result lines $((passed + failed + skipped))" >&2
  status=1
fi
echo "== interop: Python and Node clients against the running host, from protos/ alone"
. scripts/common.sh
# Below the ephemeral range (32768+), where outgoing connections could take a port between the check and the bind.
grpc_port=$(free_port 28051)
probe_port=$(free_port $((grpc_port + 1)))
http_port=$(free_port $((probe_port + 1)))
smtp_port=$(free_port $((http_port + 1)))
# The host mails verification codes to a real SMTP server (Debian's python3-aiosmtpd) that keeps them in a
# Maildir, where the interop suites read them.
rm -rf "$state/maildir"
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$state/maildir" >"$state/smtp.log" 2>&1 &
smtp_sink=$!
# The tests make databases of their own; the host takes the cluster's pyairtable database.
# The suites call from one address as fast as they can: rate limits out of reach, as in the integration tests.
ConnectionStrings__Postgres="$PYAIRTABLE_TEST_POSTGRES" \
ConnectionStrings__Redis="$PYAIRTABLE_TEST_REDIS" Redis__InstanceName="interop:" \
Kestrel__Endpoints__Grpc__Url="http://127.0.0.1:$grpc_port" Kestrel__Endpoints__Probes__Url="http://127.0.0.1:$probe_port" \
Kestrel__Endpoints__Http__Url="http://127.0.0.1:$http_port" \
Mail__Host=127.0.0.1 Mail__Port="$smtp_port" Files__FileSystem__Path="$state/interop-files" \
RateLimits__Classes__default__PerClientIp=100000 RateLimits__Classes__default__PerCredential=100000 \
Webhooks__AllowedNetworks=127.0.0.1/32 \
  dotnet Host/PyAirtable.Host/bin/Release/net10.0/PyAirtable.Host.dll >"$state/interop-host.log" 2>&1 &
interop_host=$!
# Debian's Prometheus scrapes the host's /metrics every second while the interop suites call it; afterwards its query
# API must return their RPC counters (tests/interop/prometheus/check.py).
# Its port is below the kernel's ephemeral range (32768+), where the host's own outgoing connections can take a port
# between the check and the bind (seen once in CI); should it still lose the race, it starts again on the next one.
rm -rf "$state/prometheus"; mkdir -p "$state/prometheus"
printf '%s\n' 'global: { scrape_interval: 1s, evaluation_interval: 1s }' 'scrape_configs:' '  - job_name: pyairtable' \
  "    static_configs: [ { targets: [\"127.0.0.1:$probe_port\"] } ]" >"$state/prometheus/prometheus.yml"
prometheus_port=29090
for attempt in 1 2 3; do
  prometheus_port=$(free_port "$prometheus_port")
  prometheus --config.file="$state/prometheus/prometheus.yml" --storage.tsdb.path="$state/prometheus/data" \
    --web.listen-address="127.0.0.1:$prometheus_port" >"$state/prometheus/prometheus.log" 2>&1 &
  prometheus_pid=$!
  sleep 1
  kill -0 "$prometheus_pid" 2>/dev/null && break
  prometheus_port=$((prometheus_port + 1))
done
stop_interop_host() {
  kill -TERM "$prometheus_pid" 2>/dev/null || true; wait "$prometheus_pid" 2>/dev/null || true
  kill -TERM "$interop_host" 2>/dev/null || true; wait "$interop_host" 2>/dev/null || true
  kill -TERM "$smtp_sink" 2>/dev/null || true; wait "$smtp_sink" 2>/dev/null || true
}
trap 'stop_interop_host; stop_all' EXIT
if dotnet Tools/PyAirtable.Tools/bin/Release/net10.0/pyairtable.dll health --address "http://127.0.0.1:$grpc_port" --wait 00:01:00; then
  set +e
  PYAIRTABLE_GRPC_ADDRESS="127.0.0.1:$grpc_port" PYAIRTABLE_HTTP_ADDRESS="127.0.0.1:$http_port" PYAIRTABLE_MAILDIR="$state/maildir" \
    PYAIRTABLE_REDIS="$PYAIRTABLE_TEST_REDIS" PYAIRTABLE_REDIS_PREFIX="interop:" bash tests/interop/run.sh 2>&1 | tee "$state/interop.log"
  interop_status=${PIPESTATUS[0]}
  /usr/bin/python3 tests/interop/prometheus/check.py "http://127.0.0.1:$prometheus_port" 2>&1 | tee -a "$state/interop.log"
  prometheus_status=${PIPESTATUS[0]}
  set -e
  [ "$prometheus_status" -eq 0 ] || { tail -n 20 "$state/prometheus/prometheus.log" >&2; interop_status=1; }
else
  cat "$state/interop-host.log" >&2
  interop_status=1
fi
stop_interop_host
py_passed=$(sed -nE 's/^python interop: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$state/interop.log" 2>/dev/null | tail -n 1)
py_failed=$(sed -nE 's/^python interop: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$state/interop.log" 2>/dev/null | tail -n 1)
rest_passed=$(sed -nE 's/^rest interop: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$state/interop.log" 2>/dev/null | tail -n 1)
rest_failed=$(sed -nE 's/^rest interop: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$state/interop.log" 2>/dev/null | tail -n 1)
node_passed=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$state/interop.log" 2>/dev/null | tail -n 1)
node_failed=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$state/interop.log" 2>/dev/null | tail -n 1)
prom_passed=$(sed -nE 's/^prometheus: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$state/interop.log" 2>/dev/null | tail -n 1)
prom_failed=$(sed -nE 's/^prometheus: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$state/interop.log" 2>/dev/null | tail -n 1)
if [ -z "$py_passed" ] || [ -z "$rest_passed" ] || [ -z "$node_passed" ] || [ -z "$prom_passed" ] || [ "$interop_status" -ne 0 ]; then
  echo "error: the interop suites failed or did not report" >&2
  status=1
fi
passed=$((passed + ${py_passed:-0} + ${rest_passed:-0} + ${node_passed:-0} + ${prom_passed:-0}))
failed=$((failed + ${py_failed:-0} + ${rest_failed:-0} + ${node_failed:-0} + ${prom_failed:-0}))

if [ "$skipped" -ne 0 ]; then
  echo "error: $skipped tests were skipped; nothing may be skipped" >&2
  status=1
fi
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
