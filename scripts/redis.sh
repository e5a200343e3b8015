#!/usr/bin/env bash
# A project-local Redis on loopback, nothing persisted.
#   scripts/redis.sh start DIR [PORT]   start; prints host:port
#   scripts/redis.sh stop DIR           stop it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

cmd=${1:?usage: redis.sh start|stop DIR [PORT]}
dir=${2:?usage: redis.sh start|stop DIR [PORT]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
  if [ -f "$dir/redis.pid" ]; then
    local pid; pid=$(cat "$dir/redis.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/redis.pid"
  fi
}

case "$cmd" in
  start)
    stop
    port=$(free_port "${3:-56379}")
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" --dir "$dir" --save "" --appendonly no >/dev/null
    for _ in $(seq 100); do
      redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG || { tail -n 20 "$dir/redis.log" >&2; exit 1; }
    echo "$port" > "$dir/port"
    echo "127.0.0.1:$port"
    ;;
  stop) stop ;;
  *) echo "usage: redis.sh start|stop DIR [PORT]" >&2; exit 2 ;;
esac
