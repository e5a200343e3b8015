# Shared helpers for the scripts (sourced, not run).

# Prints the first free loopback TCP port at or above $1.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  echo "$port"
}

# A folder the postgres user can reach: the project-local one, or (when a parent folder such as
# /root is closed to other users) one under /var/tmp named after it.
pg_reachable_dir() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Absolute, and tested from /: a relative path tested from the current directory does not cross its parents (such as
  # /root, mode 700), which the server, started from / with the absolute path, must cross (./run.sh passes .local/run/pg).
  if [ "$(id -u)" -eq 0 ] && ! (cd / && runuser -u postgres -- test -x "$dir") 2>/dev/null; then
    local alt="/var/tmp/pyairtable-$(echo -n "$(cd "$dir" && pwd)" | md5sum | cut -c1-12)"
    echo "note: postgres cannot reach $dir; using $alt" >&2
    mkdir -p "$alt"
    dir=$alt
  fi
  (cd "$dir" && pwd)
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ]; then echo "$d"; else dirname "$(command -v initdb)"; fi
}

# Runs a PostgreSQL server binary as the postgres user when we are root (it refuses root), from /
# so a working directory the postgres user cannot enter (such as under /root) does not matter.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
