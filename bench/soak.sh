#!/usr/bin/env bash
# Soak test of dnsbl serve: mixed queries with dnsperf at half the measured maximum rate,
# SIGHUP every 10 seconds, a flood of one identical query from another loopback address
# that response rate limiting has to absorb, and a checker that verifies every answer to
# known queries from a third address. Not a test: prints figures for docs/benchmarks.md.
#
# usage: bench/soak.sh [--minutes N] [--flood-qps N] [--rrl N]
#
#   --minutes N     length of the soak (default 10)
#   --flood-qps N   rate of the identical-query flood from 127.0.0.77 (default 5000)
#   --rrl N         --rrl-responses-per-second of the server (default 50)
#
# Data: the bundled zones/ directory and its routing slice, so it runs offline. The main
# load comes from 127.0.0.1, which is exempt from rate limiting as a trusted resolver
# would be; the checker (127.0.1.88) stays under the rate. The flood's dnsperf waits 1 s
# for a response (-t 1), so dropped queries do not stall it.
# Needs: cargo, python3, dnsperf (Debian package dnsperf).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
minutes=10 flood_qps=5000 rrl=50
command="bench/soak.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --flood-qps) flood_qps=$2; shift 2 ;;
    --rrl) rrl=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
command -v dnsperf >/dev/null || { echo "dnsperf is missing (Debian package dnsperf)" >&2; exit 1; }
seconds=$((minutes * 60))

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --locked -p dnsbl)
dnsbl=$target/release/dnsbl

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Mixed queries: listed and unlisted addresses of the routing slice, about 10% TXT,
# listed and unlisted domains.
python3 - "$root/zones/data/asn-ipv4-slice.csv" "$work/mixed.txt" <<'PY'
import ipaddress, random, sys
rng = random.Random(7)
ranges = []
for line in open(sys.argv[1], encoding="utf-8"):
    start, end = line.split(",")[:2]
    ranges.append((int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end))))
domains = ["hostgator.com", "softlayer.com", "hostopia.com", "aplus.net"]
with open(sys.argv[2], "w") as out:
    for _ in range(200000):
        kind = rng.random()
        if kind < 0.45:
            low, high = rng.choice(ranges)
            address = ipaddress.IPv4Address(rng.randint(low, high))
        elif kind < 0.9:
            address = ipaddress.IPv4Address(rng.randint(1 << 24, 0xDFFFFFFF))
        else:
            address = None
        qtype = "TXT" if rng.random() < 0.1 else "A"
        if address is None:
            domain = rng.choice(domains) if rng.random() < 0.5 else f"x{rng.randint(0, 10**6)}.example"
            out.write(f"{domain}.dbl.example {qtype}\n")
        else:
            out.write(".".join(reversed(str(address).split("."))) + f".bl.example {qtype}\n")
PY
echo "2.0.0.127.bl.example A" > "$work/flood.txt"

cp -r "$root/zones" "$work/zones"
db=$work/dnsbl.sqlite
token=$("$dnsbl" token create --name soak --role read --db "$db")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=info,hickory_server=warn,hickory_net=warn,sqlx=warn "$dnsbl" serve --zones "$work/zones" --db "$db" \
  --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" \
  --rrl-responses-per-second "$rrl" --rrl-exempt 127.0.0.1 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 300); do
  grep -q "admin API listening" "$work/server.log" && break
  sleep 0.2
done
grep -q "admin API listening" "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$server_pid/status"; }
metric() { curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$admin_port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }

echo "measuring the maximum rate (15 s)..."
dnsperf -s 127.0.0.1 -p "$port" -d "$work/mixed.txt" -l 15 -c 8 -q 200 >"$work/max.txt" 2>&1
max_qps=$(awk '/Queries per second/ {print int($4)}' "$work/max.txt")
half=$((max_qps / 2))
rss_start=$(rss)
echo "maximum ${max_qps} q/s; soaking ${minutes} min at ${half} q/s"

dnsperf -s 127.0.0.1 -p "$port" -d "$work/mixed.txt" -l "$seconds" -Q "$half" -c 8 -q 200 >"$work/main.txt" 2>&1 &
main_pid=$!
dnsperf -s 127.0.0.1 -p "$port" -a 127.0.0.77 -d "$work/flood.txt" -l "$seconds" -Q "$flood_qps" -c 1 -q 20000 -t 1 >"$work/flood-out.txt" 2>&1 &
flood_pid=$!
python3 "$root/bench/soak_check.py" "$port" 127.0.1.88 "$seconds" 20 >"$work/check.json" &
check_pid=$!
reloads=0
end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ]; do
  sleep 10
  kill -HUP "$server_pid"
  reloads=$((reloads + 1))
done
check_status=0
wait "$check_pid" || check_status=$?
wait "$main_pid" "$flood_pid" || true
rss_end=$(rss)

sent() { awk '/Queries sent/ {print $3}' "$1"; }
completed() { awk '/Queries completed/ {print $3}' "$1"; }
slipped=$(metric dnsbl_dns_rate_limited_slipped_total)
dropped=$(metric dnsbl_dns_rate_limited_dropped_total)
flood_completed=$(completed "$work/flood-out.txt")

echo
echo "command:        $command"
echo "machine:        $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), $(uname -sr)"
echo "data:           bundled zones/ and routing slice; 200,000 mixed queries (45% listed, 10% TXT, 10% domains)"
echo "maximum:        ${max_qps} q/s (dnsperf -c 8, 15 s, no rate limit for 127.0.0.1)"
echo "main load:      $(sent "$work/main.txt") sent, $(completed "$work/main.txt") completed at -Q ${half}; $(awk '/Queries per second/ {print $4}' "$work/main.txt") q/s"
echo "reloads:        ${reloads} (SIGHUP every 10 s)"
echo "flood:          $(sent "$work/flood-out.txt") sent from 127.0.0.77 at -Q ${flood_qps}; ${flood_completed} responses: $((flood_completed - slipped)) answered in full, ${slipped} slipped (TC); ${dropped} dropped by the server (rate ${rrl}/s, slip 2)"
echo "checker:        $(cat "$work/check.json")"
echo "server RSS:     ${rss_start} at start, ${rss_end} at end"
if [ "$check_status" != 0 ]; then
  echo "WRONG ANSWERS: see the checker line" >&2
  exit 1
fi
