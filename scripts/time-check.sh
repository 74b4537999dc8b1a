#!/usr/bin/env bash
# Times `dnsbl check` (the ExecStartPre of deploy/dnsbl.service) with the bundled zones/
# in three cases. Without a database. On a database that `dnsbl serve` set up with the
# same files, which check reads only. After a register.toml change, which check rehearses
# on a copy. Then the last two cases again with 393,216 generated IPv4 /24 rows ingested
# besides the bundled slices. Prints each run's time in milliseconds,
# sorted. Usage: scripts/time-check.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p dnsbl >/dev/null
bin=$target/release/dnsbl
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# Runs `dnsbl check` RUNS times on zones directory $2 and database $3, labelled $1.
time_check() {
    local label=$1 zones=$2 db=$3 times=() status
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        status=0
        "$bin" check --zones "$zones" --db "$db" >/dev/null 2>&1 || status=$?
        end=$(date +%s%N)
        times+=($(((end - start) / 1000000)))
    done
    echo "$label (exit status $status): $(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')ms"
}

# Appends a provider to the register of zones directory $1.
add_provider() {
    printf '\n[[provider]]\nname = "Timing Example"\ncategory = "spam-operation"\nnetblocks = ["203.0.113.0/24"]\n' \
        >>"$1/register.toml"
}

cp -r zones "$work/zones"
time_check "no database" "$work/zones" "$work/none.sqlite"
"$bin" serve --zones "$work/zones" --db "$work/served.sqlite" --listen 127.0.0.1:0 \
    --no-admin >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 300); do
    grep -q "DNS listening" "$work/serve.log" && break
    sleep 0.1
done
kill "$server"
wait "$server" || true
time_check "served, files unchanged" "$work/zones" "$work/served.sqlite"
add_provider "$work/zones"
time_check "served, register changed" "$work/zones" "$work/served.sqlite"

# 30.0.0.0 to 35.255.255.255 is outside the bundled slice.
cp -r zones "$work/large"
python3 - "$work/synthetic-v4.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as out:
    for a in range(30, 36):
        for b in range(256):
            for c in range(256):
                out.write(f"{a}.{b}.{c}.0,{a}.{b}.{c}.255,{random.randint(1, 70000)},Org\n")
PY
"$bin" ingest --zones "$work/large" --db "$work/large.sqlite" \
    --asn-data "$work/synthetic-v4.csv" "$work"/large/data/*.csv >/dev/null 2>&1
ls -l "$work"/large.sqlite*
time_check "generated rows, files unchanged" "$work/large" "$work/large.sqlite"
add_provider "$work/large"
time_check "generated rows, register changed" "$work/large" "$work/large.sqlite"
