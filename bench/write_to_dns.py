#!/usr/bin/env python3
"""Measures the time from the HTTP response of an admin API write to the first UDP answer
that shows it, on a database holding the full IP-to-ASN dataset. Started by
bench/write-to-dns.sh, which builds the binary and prepares the data; see there.

Each run creates a provider with one netblock (`POST /v1/providers`), polls DNS every
millisecond until the netblock's first address is listed, then delists the provider
(`POST /v1/providers/{name}/delist`) and polls until the name is NXDOMAIN again."""

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

DNS_PORT = 5360
ADMIN_PORT = 8360
POLL_SECONDS = 0.001
TIMEOUT_SECONDS = 60


def log(message):
    print(message, file=sys.stderr, flush=True)


def query(name, ident):
    """Sends an A query over UDP and returns (rcode, answer count), or None when no
    response came within a second or the port was closed (a server still starting)."""
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.sendto(header + qname + struct.pack(">HH", 1, 1), ("127.0.0.1", DNS_PORT))
            response, _ = sock.recvfrom(4096)
        except OSError:
            return None
    flags, _, answers = struct.unpack(">HHH", response[2:8])
    return flags & 0xF, answers


def wait_for(name, listed):
    """Polls until `name` is listed (NOERROR with an answer) or not (NXDOMAIN); returns
    the seconds it took."""
    started = time.monotonic()
    ident = 0
    while time.monotonic() - started < TIMEOUT_SECONDS:
        ident = (ident + 1) & 0xFFFF
        result = query(name, ident)
        if result is not None:
            rcode, answers = result
            if (rcode == 0 and answers > 0) if listed else rcode == 3:
                return time.monotonic() - started
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"{name} did not become {'listed' if listed else 'NXDOMAIN'} within {TIMEOUT_SECONDS} s")


def post(path, token, body):
    """Sends a POST to the admin API and returns (seconds until the response, status)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{ADMIN_PORT}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        return time.monotonic() - started, response.status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dnsbl", required=True, help="the dnsbl binary")
    parser.add_argument("--zones", required=True, help="zones/ of bench/gen.py")
    parser.add_argument("--db", required=True, help="a database with the dataset ingested")
    parser.add_argument("--work", required=True, help="a directory for the copy and the log")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--category", default="listed-asn")
    args = parser.parse_args()

    os.makedirs(args.work, exist_ok=True)
    db = os.path.join(args.work, "write-to-dns.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copy(args.db, db)
    token = subprocess.run(
        [args.dnsbl, "token", "create", "--db", db, "--name", "bench", "--role", "admin"],
        check=True, capture_output=True, text=True).stdout.strip()

    log_path = os.path.join(args.work, "write-to-dns.log")
    server = subprocess.Popen(
        [args.dnsbl, "serve", "--zones", args.zones, "--db", db,
         "--listen", f"127.0.0.1:{DNS_PORT}", "--admin-listen", f"127.0.0.1:{ADMIN_PORT}",
         "--poll-seconds", "3600"],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    results = []
    try:
        # The server answers DNS only once its data is loaded; the admin API starts then too.
        wait_for("2.0.0.127.bl.example", listed=True)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", ADMIN_PORT), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the admin API did not start; see {log_path}")
                time.sleep(0.05)
        for run in range(1, args.runs + 1):
            # 198.51.100.0/24 (TEST-NET-2) is in no routing row of the dataset.
            netblock = f"198.51.100.{run * 8}/29"
            name = f"{run * 8}.100.51.198.bl.example"
            provider = f"write-to-dns-{os.getpid()}-{run}"
            result = query(name, 1)
            if result is None or result[0] != 3:
                raise SystemExit(f"{name} is not NXDOMAIN before the write: {result}")
            create_s, status = post("/v1/providers", token, {
                "name": provider, "category": args.category, "netblocks": [netblock]})
            assert status == 201, status
            listed_s = wait_for(name, listed=True)
            delist_s, status = post(f"/v1/providers/{provider}/delist", token,
                                    {"reason": "benchmark"})
            assert status == 200, status
            unlisted_s = wait_for(name, listed=False)
            results.append((run, create_s, listed_s, delist_s, unlisted_s))
            log(f"run {run}: create response {create_s * 1000:.0f} ms, then listed after "
                f"{listed_s * 1000:.0f} ms; delist response {delist_s * 1000:.0f} ms, then "
                f"NXDOMAIN after {unlisted_s * 1000:.0f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    print("| run | create: HTTP response | create: response to DNS answer "
          "| delist: HTTP response | delist: response to DNS answer |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for run, create_s, listed_s, delist_s, unlisted_s in results:
        print(f"| {run} | {create_s * 1000:.0f} ms | {listed_s * 1000:.0f} ms "
              f"| {delist_s * 1000:.0f} ms | {unlisted_s * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
