#!/usr/bin/env bash
# Resident size of `dnsbl serve` on the full IP-to-ASN dataset: VmRSS 1 s after the first
# answer (as bench/bench.py reads it), then after each of three SIGHUP reloads followed by
# 20 queries. Not a test; it needs the cache that bench/run.sh fills.
#
# usage: bench/memory.sh BINARY [PORT] [NAME=VALUE...]
#
#   BINARY      the dnsbl binary to measure (a release build)
#   PORT        DNS port on 127.0.0.1 (default 5380); the admin API gets PORT+1
#   NAME=VALUE  environment settings for the server, for example MALLOC_ARENA_MAX=1
#
# The database is a fresh copy of the cache's ingested.sqlite for every run. Needs dig
# (Debian package bind9-dnsutils) and taskset. Cache: $DNSBL_BENCH_CACHE or
# ~/.cache/dnsbl-bench, subdirectory data-1000000.
set -euo pipefail

binary=$1
port=${2:-5380}
shift $(($# < 2 ? $# : 2))
data=${DNSBL_BENCH_CACHE:-$HOME/.cache/dnsbl-bench}/data-1000000
work=$(mktemp -d)
pid=""
# The server is stopped however the script ends, also when a reader of its output quits.
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 1' PIPE INT TERM
cp "$data/run/ingested.sqlite" "$work/dnsbl.sqlite"

rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

env "$@" taskset -c 0 "$binary" serve --zones "$data/zones" --db "$work/dnsbl.sqlite" \
  --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" \
  --poll-seconds 3600 >"$work/log" 2>&1 &
pid=$!
started=$(date +%s.%N)
for _ in $(seq 1 3000); do
  if dig +time=1 +tries=1 -p "$port" @127.0.0.1 2.0.0.127.bl.example A +short 2>/dev/null |
    grep -q '^127\.0\.0\.2$'; then
    break
  fi
  sleep 0.01
done
first_answer=$(echo "$(date +%s.%N) - $started" | bc)
sleep 1
echo "first answer after ${first_answer} s, VmRSS $(rss_kib "$pid") KiB"
for reload in 1 2 3; do
  kill -HUP "$pid"
  sleep 3
  for octet in $(seq 1 20); do
    dig +time=1 +tries=1 -p "$port" @127.0.0.1 "$octet.0.0.127.bl.example" A +short >/dev/null
  done
  sleep 1
  echo "after reload $reload: VmRSS $(rss_kib "$pid") KiB"
done
kill "$pid"
wait "$pid" || true
pid=""
