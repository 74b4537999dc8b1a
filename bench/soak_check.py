#!/usr/bin/env python3
"""The soak test's checker: sends known queries at a steady rate from its own loopback
address and compares every response with the expected answer exactly (rcode, and the
sorted A or TXT values). Prints one JSON line with the counts; exits 1 on any wrong
answer. A response that does not arrive within the timeout counts as lost, not wrong.

usage: soak_check.py SERVER_PORT SOURCE_ADDRESS SECONDS [RATE]
"""

import json
import random
import socket
import struct
import sys
import time

TIMEOUT = 2.0
NOERROR, NXDOMAIN = 0, 3
A, TXT = 1, 16

# Answers of the bundled zones/ (see README.md): name, type, rcode, sorted values.
KNOWN = [
    ("7.100.10.5.bl.example", A, NOERROR, ["127.0.0.2"]),
    (
        "7.100.10.5.bl.example",
        TXT,
        NOERROR,
        [
            "5.10.100.7 is listed: SoftLayer Technologies Inc. (AS36351) is a hosting "
            "provider that sends spam to its customers"
        ],
    ),
    ("2.0.0.127.bl.example", A, NOERROR, ["127.0.0.2"]),
    ("1.0.0.127.bl.example", A, NXDOMAIN, []),
    ("hostgator.com.dbl.example", A, NOERROR, ["127.0.0.2"]),
    ("mail.hostgator.com.dbl.example", A, NOERROR, ["127.0.0.2"]),
    ("test.dbl.example", A, NOERROR, ["127.0.0.2"]),
    ("invalid.dbl.example", A, NXDOMAIN, []),
]


def encode_query(query_id, name, qtype):
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    return header + labels + b"\x00" + struct.pack(">HH", qtype, 1)


def skip_name(message, offset):
    while True:
        length = message[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length


def decode_response(message):
    """Returns (id, rcode, truncated, sorted values of A and TXT answers)."""
    query_id, flags, qdcount, ancount = struct.unpack(">HHHH", message[:8])
    offset = 12
    for _ in range(qdcount):
        offset = skip_name(message, offset) + 4
    values = []
    for _ in range(ancount):
        offset = skip_name(message, offset)
        rtype, _, _, rdlength = struct.unpack(">HHIH", message[offset : offset + 10])
        offset += 10
        rdata = message[offset : offset + rdlength]
        offset += rdlength
        if rtype == A:
            values.append(".".join(str(byte) for byte in rdata))
        elif rtype == TXT:
            parts, index = [], 0
            while index < len(rdata):
                length = rdata[index]
                parts.append(rdata[index + 1 : index + 1 + length].decode("utf-8", "replace"))
                index += 1 + length
            values.append("".join(parts))
    return query_id, flags & 0x0F, bool(flags & 0x0200), sorted(values)


def main():
    port, source, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(TIMEOUT)
    counts = {"sent": 0, "correct": 0, "wrong": 0, "lost": 0, "truncated": 0}
    wrong = []
    rng = random.Random(1)
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        due = start + index / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        name, qtype, rcode, values = KNOWN[index % len(KNOWN)]
        query_id = rng.randrange(65536)
        sock.sendto(encode_query(query_id, name, qtype), ("127.0.0.1", port))
        counts["sent"] += 1
        index += 1
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                counts["lost"] += 1
                break
            sock.settimeout(remaining)
            try:
                message, _ = sock.recvfrom(65535)
            except socket.timeout:
                counts["lost"] += 1
                break
            got_id, got_rcode, truncated, got_values = decode_response(message)
            if got_id != query_id:
                continue
            if truncated:
                counts["truncated"] += 1
            elif (got_rcode, got_values) == (rcode, values):
                counts["correct"] += 1
            else:
                counts["wrong"] += 1
                wrong.append({"query": name, "type": qtype, "rcode": got_rcode, "values": got_values})
            break
    counts["wrong_answers"] = wrong[:10]
    print(json.dumps(counts))
    sys.exit(1 if counts["wrong"] else 0)


if __name__ == "__main__":
    main()
