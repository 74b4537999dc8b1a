#!/usr/bin/env bash
# Export and zone transfer figures on the full IP-to-ASN dataset (npm package
# @ip-location-db/asn, unpacked in DATA, default /tmp/asn/package): ingests it with a
# register of large hosting ASNs, times `dnsbl export`, lists file sizes, then times a
# full AXFR of bl.example from `dnsbl serve` with kdig (Debian package knot-dnsutils).
# Usage: scripts/bench-mirrors.sh [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/asn/package}
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p dnsbl >/dev/null
bin=$target/release/dnsbl
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

mkdir -p "$work/zones/data"
cp zones/zones.toml "$work/zones/"
cp zones/data/*.csv "$work/zones/data/"
cat >"$work/zones/register.toml" <<'TOML'
[[category]]
name = "bad-service-provider"
code = "127.0.0.2"
txt = "{query} is listed: {provider} ({source}) is a hosting provider"

[[provider]]
name = "Large clouds"
category = "bad-service-provider"
asns = ["AS16509", "AS14618", "AS15169", "AS396982", "AS8075", "AS13335", "AS14061", "AS16276", "AS24940", "AS36351", "AS63949", "AS20473"]
domains = ["example.com"]
TOML

"$bin" ingest --zones "$work/zones" --db "$work/db.sqlite" \
  --asn-data "$data/asn-ipv4.csv" "$data/asn-ipv6.csv"
echo "== dnsbl export"
/usr/bin/time -f "export: %e s wall, %M KiB max RSS" \
  "$bin" export --zones "$work/zones" --db "$work/db.sqlite" --dir "$work/export"
ls -l "$work/export"
echo "== second export of unchanged data (no file rewritten)"
/usr/bin/time -f "export: %e s wall" \
  "$bin" export --zones "$work/zones" --db "$work/db.sqlite" --dir "$work/export" >/dev/null

echo "== AXFR of bl.example (work dir $work)"
"$bin" serve --zones "$work/zones" --db "$work/db.sqlite" --listen 127.0.0.1:5399 \
  2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
  grep -q "DNS listening" "$work/serve.log" && break
  sleep 0.2
done
start=$(date +%s.%N)
kdig @127.0.0.1 -p 5399 AXFR bl.example +noall +stats >"$work/axfr.txt" 2>&1 || true
end=$(date +%s.%N)
grep -E "Received|Xfr|records|messages" "$work/axfr.txt" || tail -3 "$work/axfr.txt"
echo "axfr: $(echo "$end - $start" | bc) s wall (kdig)"
grep "zone transfer sent" "$work/serve.log" | sed 's/.*INFO //'

echo "== AXFR of bl.example into a knotd secondary (Debian package knot)"
mkdir -p "$work/knot/db"
cat >"$work/knot/knot.conf" <<KNOT
server:
    listen: 127.0.0.1@5398
    rundir: $work/knot
database:
    storage: $work/knot/db
remote:
  - id: primary
    address: 127.0.0.1@5399
zone:
  - domain: bl.example
    storage: $work/knot
    file: bl.example.secondary
    master: primary
KNOT
knotd -c "$work/knot/knot.conf" >"$work/knot/knotd.log" 2>&1 &
knot=$!
trap 'kill "${server:-0}" "${knot:-0}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for _ in $(seq 600); do
  grep -qs "zone updated" "$work/knot/knotd.log" && break
  sleep 0.1
done
grep -E "AXFR, incoming.*finished|zone updated" "$work/knot/knotd.log" | sed 's/^.*info: //'
