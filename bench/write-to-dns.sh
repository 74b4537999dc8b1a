#!/usr/bin/env bash
# Time from an admin API write's HTTP response to the new DNS answer, with the full
# IP-to-ASN dataset ingested (every ASN its own provider, as bench/run.sh sets it up).
# Real HTTP and UDP on loopback, release build. Not a test: it takes a few minutes.
#
# usage: bench/write-to-dns.sh [--asn-dir DIR] [--runs N]
#
#   --asn-dir DIR   directory with asn-ipv4.csv and asn-ipv6.csv (npm package
#                   @ip-location-db/asn); default: fetched with `npm pack` into the cache
#   --runs N        create and delist rounds (default 5)
#
# Needs: cargo, python3. Cache: $DNSBL_BENCH_CACHE or ~/.cache/dnsbl-bench.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${DNSBL_BENCH_CACHE:-$HOME/.cache/dnsbl-bench}
asn_dir="" runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --asn-dir) asn_dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$cache"

if [ -z "$asn_dir" ]; then
  asn_dir=$cache/asn/package
  if [ ! -f "$asn_dir/asn-ipv4.csv" ]; then
    (cd "$cache" && mkdir -p asn && cd asn && npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz)
  fi
fi
for file in asn-ipv4.csv asn-ipv6.csv; do
  [ -f "$asn_dir/$file" ] || { echo "missing $asn_dir/$file" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --locked -p dnsbl)
binary=$target/release/dnsbl

# The zones/ of the side-by-side benchmark; its query file is not used here.
data=$cache/data-1000
if [ ! -f "$data/zones/register.toml" ]; then
  python3 "$root/bench/gen.py" "$asn_dir" "$data" 1000
fi

work=$cache/write-to-dns
rm -rf "$work"
mkdir -p "$work"
echo "ingesting the full dataset" >&2
"$binary" ingest --zones "$data/zones" --db "$work/ingested.sqlite" \
  --asn-data "$asn_dir/asn-ipv4.csv" "$asn_dir/asn-ipv6.csv" >/dev/null
python3 "$root/bench/write_to_dns.py" --dnsbl "$binary" --zones "$data/zones" \
  --db "$work/ingested.sqlite" --work "$work" --runs "$runs"
