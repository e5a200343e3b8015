#!/usr/bin/env bash
# Starts or stops s3rver (npm, an S3-compatible server in Node; `npm ci` installs it) for the Files service's S3
# backend tests. Usage:
#   scripts/s3rver.sh start <dir> <port>   # prints http://127.0.0.1:<port> when it answers
#   scripts/s3rver.sh stop <dir>
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
cmd=${1:?start|stop}
dir=${2:?data directory}
case "$cmd" in
  start)
    port=$(free_port "${3:?port}")
    mkdir -p "$dir/data"
    node node_modules/s3rver/bin/s3rver.js -d "$dir/data" -a 127.0.0.1 -p "$port" --silent >"$dir/s3rver.log" 2>&1 &
    echo $! >"$dir/s3rver.pid"
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "http://127.0.0.1:$port"
        exit 0
      fi
      sleep 0.1
    done
    echo "error: s3rver did not start; see $dir/s3rver.log" >&2
    cat "$dir/s3rver.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/s3rver.pid" ]; then
      pid=$(cat "$dir/s3rver.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/s3rver.pid"
    fi
    ;;
  *) echo "usage: $0 start <dir> <port> | stop <dir>" >&2; exit 2 ;;
esac
