#!/usr/bin/env bash
# Starts the platform: installs what is missing, starts a project-local PostgreSQL and Redis on
# loopback (data under .local/run), runs migrations and serves
#   gRPC (HTTP/2 cleartext)      http://127.0.0.1:50051
#   /healthz and /readyz (HTTP/1.1) http://127.0.0.1:50052
# Ctrl-C (or SIGTERM) stops the host gracefully, then Redis and PostgreSQL. Re-runnable.
set -euo pipefail
cd "$(dirname "$0")"
state=.local/run
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

host_pid=""
stop_all() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
  scripts/redis.sh stop "$state/redis" >/dev/null 2>&1 || true
  scripts/pg.sh stop "$state/pg" >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

bash scripts/ensure-deps.sh
postgres=$(scripts/pg.sh start "$state/pg" 55432 | tail -n 1)
redis=$(scripts/redis.sh start "$state/redis" 56379 | tail -n 1)
echo "PostgreSQL ${postgres%%;Username*} · Redis $redis" >&2

dotnet build Host/PyAirtable.Host -c Release -nologo -v quiet
ConnectionStrings__Postgres="$postgres" ConnectionStrings__Redis="$redis" Files__FileSystem__Path="${Files__FileSystem__Path:-$state/files}" \
  dotnet Host/PyAirtable.Host/bin/Release/net10.0/PyAirtable.Host.dll "$@" &
host_pid=$!
wait "$host_pid"
