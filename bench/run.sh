#!/usr/bin/env bash
# Side-by-side benchmark of dnsbl against rbldnsd and a do-nothing responder on the full
# IP-to-ASN dataset; writes docs/benchmarks.md. Not a test: it takes minutes and needs
# a quiet 2-CPU machine (server on CPU 0, dnsperf on CPU 1).
#
# usage: bench/run.sh [--asn-dir DIR] [--rounds N] [--seconds S] [--queries N]
#                     [--baseline GIT-REV] [--label TEXT] [--no-profile]
#
#   --asn-dir DIR    directory with asn-ipv4.csv and asn-ipv6.csv (npm package
#                    @ip-location-db/asn); default: fetched with `npm pack` into the cache
#   --rounds N       alternating rounds per server (default 3)
#   --seconds S      dnsperf run length per round (default 20)
#   --queries N      size of the seeded query file (default 1000000)
#   --baseline REV   also run dnsbl built from REV (for before/after figures)
#   --label TEXT     what kind of run this is, written into the report
#   --no-profile     skip the callgrind instruction counts
#
# Needs: cargo, python3, taskset, dnsperf, rbldnsd, valgrind (Debian packages dnsperf,
# rbldnsd, valgrind). Cache: $DNSBL_BENCH_CACHE or ~/.cache/dnsbl-bench.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${DNSBL_BENCH_CACHE:-$HOME/.cache/dnsbl-bench}
asn_dir="" rounds=3 seconds=20 queries=1000000 baseline="" label="full run" profile=1
command="bench/run.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --asn-dir) asn_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --no-profile) profile=0; shift ;;
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
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --locked -p dnsbl -p dnsbl-bench)
dnsbl_bin=$cache/dnsbl-current
null_bin=$cache/dnsbl-null-responder
cp "$target/release/dnsbl" "$dnsbl_bin"
cp "$target/release/dnsbl-null-responder" "$null_bin"
base_bin=""
if [ -n "$baseline" ]; then
  base_bin=$cache/dnsbl-$(git -C "$root" rev-parse --short "$baseline")
  if [ ! -x "$base_bin" ]; then
    src=$cache/base-src
    rm -rf "$src"
    git -C "$root" archive --prefix=base-src/ "$baseline" | tar x -C "$cache"
    # A target directory of its own: the baseline's workspace crates get the same
    # artifact names as the current ones and would replace them in a shared one.
    (cd "$src" && CARGO_TARGET_DIR=$cache/base-target cargo build --release --locked -p dnsbl)
    cp "$cache/base-target/release/dnsbl" "$base_bin"
  fi
fi

data=$cache/data-$queries
if [ ! -f "$data/queries.txt" ]; then
  python3 "$root/bench/gen.py" "$asn_dir" "$data" "$queries"
fi

args=(--data "$data" --asn-dir "$asn_dir" --dnsbl "$dnsbl_bin" --null "$null_bin" --rounds "$rounds" --seconds "$seconds"
      --label "$label" --out "$root/docs/benchmarks.md" --command "$command")
if [ -n "$base_bin" ]; then
  args+=(--dnsbl-base "$base_bin" --base-label "$baseline")
fi
if [ "$profile" = 1 ]; then
  args+=(--profile)
fi
python3 "$root/bench/bench.py" "${args[@]}"
