#!/usr/bin/env bash
# Runs schemathesis (PyPI package `schemathesis`) against the live OpenAPI document of a
# real `dnsbl serve` on loopback, with an admin token, for every operation of the admin
# API, and prints its summary.
#
# Usage: bench/schemathesis.sh [SECONDS]   (time budget of the run, default 120)
#
# Environment:
#   DNSBL_BIN           the dnsbl binary (default: built with `cargo build -p dnsbl`)
#   SCHEMATHESIS_VENV   Python venv holding schemathesis (default
#                       /tmp/dnsbl-schemathesis-venv, created on first use)
#   SCHEMATHESIS_SEED   seed of the generated requests (default 1)
#   SCHEMATHESIS_CHECKS checks to run (default all but positive_data_acceptance, see below)
#
# positive_data_acceptance is left out by default: it expects every request that matches
# the schema to succeed, but a schema cannot say that a provider must exist or that a
# category name must be one of the stored ones, so it reports every 404 and 422 of that
# kind. Every other check runs, including not_a_server_error (no 5xx) and
# response_schema_conformance.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
budget="${1:-120}"
venv="${SCHEMATHESIS_VENV:-/tmp/dnsbl-schemathesis-venv}"
seed="${SCHEMATHESIS_SEED:-1}"
checks="${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth}"

if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==4.32.5"
fi

bin="${DNSBL_BIN:-}"
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --quiet -p dnsbl)
    bin="${CARGO_TARGET_DIR:-$root/target}/debug/dnsbl"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

token="$("$bin" token create --name schemathesis --role admin --db "$work/dnsbl.sqlite" 2>/dev/null)"
"$bin" serve --zones "$root/zones" --db "$work/dnsbl.sqlite" \
    --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --ingest-source "$root/zones/data/asn-ipv4-slice.csv" \
    --ingest-source "$root/zones/data/asn-ipv6-slice.csv" \
    2>"$work/serve.log" &
server_pid=$!

address=""
for _ in $(seq 1 300); do
    address="$(sed -n 's/.*admin API listening.*address=\([0-9.:]*\).*/\1/p' "$work/serve.log")"
    [ -n "$address" ] && break
    sleep 0.1
done
if [ -z "$address" ]; then
    echo "dnsbl serve did not start its admin API within 30 s; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi

status=0
# Schemathesis keeps a cache in .schemathesis/ of its working directory.
cd "$work"
"$venv/bin/schemathesis" --config-file "$root/bench/schemathesis.toml" \
    run "http://$address/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks "$checks" \
    --max-time "$budget" \
    --workers 2 \
    --seed "$seed" \
    --no-color || status=$?

if grep -q "panicked" "$work/serve.log"; then
    echo "dnsbl serve panicked during the run:" >&2
    grep -A5 "panicked" "$work/serve.log" >&2
    status=1
fi
exit "$status"
