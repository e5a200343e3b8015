#!/usr/bin/env bash
# A project-local PostgreSQL cluster on loopback.
#   scripts/pg.sh start DIR [PORT] [--fast]  init (first time) and start; prints the connection string
#   scripts/pg.sh stop DIR                   stop it (fast shutdown)
# The role "pyairtable" (CREATEDB) owns the database "pyairtable"; its password is generated once
# and kept in DIR/credentials. --fast trades durability for speed (fsync off): for tests only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

cmd=${1:?usage: pg.sh start|stop DIR [PORT] [--fast]}
dir=${2:?usage: pg.sh start|stop DIR [PORT] [--fast]}
bin=$(pg_bindir)

case "$cmd" in
  start)
    port=$(free_port "${3:-55432}")
    fast=0; [ "${4:-}" = "--fast" ] && fast=1
    mkdir -p "$dir"
    reach=$(pg_reachable_dir "$dir")
    data="$reach/data"
    # The passwords live beside the data they belong to (both may be outside the project folder).
    creds="$reach/credentials"
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    if [ -f "$data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$data" stop -m fast >/dev/null 2>&1 || rm -f "$data/postmaster.pid"
    fi
    if [ -f "$data/PG_VERSION" ] && [ ! -f "$creds" ]; then
      echo "note: $data has no credentials beside it; initialising it again" >&2
      as_pg "$bin/pg_ctl" -D "$data" stop -m fast >/dev/null 2>&1 || true
      rm -rf "$data" && mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
      chmod 700 "$data"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      umask 077
      superpw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
      apppw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
      pwfile=$(mktemp)
      echo "$superpw" > "$pwfile"
      [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
      as_pg "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; exit 1; }
      rm -f "$pwfile"
      printf 'SUPER_PASSWORD=%s\nAPP_PASSWORD=%s\n' "$superpw" "$apppw" > "$creds"
      umask 022
    fi
    . "$creds"
    # TCP on loopback only; no unix socket (its path would be limited to 107 bytes, and a clone
    # path with spaces would need quoting through pg_ctl -o).
    opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=300"
    [ $fast = 1 ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 -o "$opts" start >/dev/null \
      || { tail -n 20 "$data/server.log" >&2; exit 1; }
    echo "$data" > "$dir/datadir"
    echo "$port" > "$dir/port"
    PGPASSWORD=$SUPER_PASSWORD "$bin/psql" -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT 'CREATE ROLE pyairtable LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pyairtable')\gexec
ALTER ROLE pyairtable PASSWORD '$APP_PASSWORD';
SELECT 'CREATE DATABASE pyairtable OWNER pyairtable' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pyairtable')\gexec
SQL
    echo "Host=127.0.0.1;Port=$port;Username=pyairtable;Password=$APP_PASSWORD;Database=pyairtable"
    ;;
  stop)
    [ -f "$dir/datadir" ] || exit 0
    data=$(cat "$dir/datadir")
    if [ -f "$data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$data" stop -m fast -w -t 30 >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: pg.sh start|stop DIR [PORT] [--fast]" >&2; exit 2 ;;
esac
