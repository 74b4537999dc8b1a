#!/usr/bin/env python3
"""Generates the benchmark inputs from the IP-to-ASN CSV files (npm package
@ip-location-db/asn): a dnsbl zones/ directory whose register lists every ASN with
its own TXT, the same data as rbldnsd ip4set and ip6trie files, and a seeded dnsperf
query file (half listed, half not, about 10% IPv6 and 10% TXT).

usage: gen.py ASN_DIR OUT_DIR [QUERIES] [SEED]
"""

import bisect
import ipaddress
import json
import os
import random
import sys

ZONE = "bl.example"
CODE = "127.0.0.2"


def read_ranges(path, family):
    ranges = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            parts = line.rstrip("\n").split(",", 3)
            if len(parts) < 3 or not parts[2].isdigit():
                continue
            asn = int(parts[2])
            if asn == 0:
                continue
            org = parts[3].strip('"') if len(parts) > 3 else ""
            start = int(ipaddress.ip_address(parts[0]))
            end = int(ipaddress.ip_address(parts[1]))
            ranges.append((start, end, asn, org))
    ranges.sort()
    return ranges


def text_for(asn, org):
    # rbldnsd replaces '$' with the query; keep the texts identical in both servers.
    org = org.replace("$", "").replace("\\", "")
    return f"AS{asn} {org}".strip()


def write_dnsbl(out, v4, v6, asn_dir):
    zones = os.path.join(out, "zones")
    os.makedirs(os.path.join(zones, "data"), exist_ok=True)
    with open(os.path.join(zones, "zones.toml"), "w", encoding="utf-8") as f:
        f.write(
            f'[[zone]]\nname = "{ZONE}"\nkind = "address"\nttl = 2100\n'
            f'ns = ["ns1.{ZONE}"]\n\n[zone.soa]\nrname = "hostmaster.{ZONE}"\nminimum = 300\n'
        )
    orgs = {}
    for start, end, asn, org in v4 + v6:
        orgs.setdefault(asn, org)
    with open(os.path.join(zones, "register.toml"), "w", encoding="utf-8") as f:
        f.write(
            f'[[category]]\nname = "listed-asn"\ncode = "{CODE}"\ntxt = "{{provider}} is listed"\n\n'
        )
        for asn in sorted(orgs):
            name = json.dumps(text_for(asn, orgs[asn]), ensure_ascii=False)
            f.write(
                f'[[provider]]\nname = {name}\ncategory = "listed-asn"\nasns = ["AS{asn}"]\n\n'
            )
    for name in ("asn-ipv4.csv", "asn-ipv6.csv"):
        link = os.path.join(zones, "data", name)
        if not os.path.exists(link):
            os.symlink(os.path.abspath(os.path.join(asn_dir, name)), link)
    return len(orgs)


def write_rbldnsd(out, v4, v6):
    directory = os.path.join(out, "rbldnsd")
    os.makedirs(directory, exist_ok=True)
    head = (
        f"$SOA 3600 ns1.{ZONE} hostmaster.{ZONE} 0 7200 900 1209600 300\n"
        f"$NS 86400 ns1.{ZONE}\n$TTL 2100\n"
    )
    with open(os.path.join(directory, "asn4.ip4set"), "w", encoding="utf-8") as f:
        f.write(head)
        for start, end, asn, org in v4:
            first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            f.write(f"{first}-{last} :{CODE}:{text_for(asn, org)} is listed\n")
    with open(os.path.join(directory, "asn6.ip6trie"), "w", encoding="utf-8") as f:
        for start, end, asn, org in v6:
            first, last = ipaddress.IPv6Address(start), ipaddress.IPv6Address(end)
            for net in ipaddress.summarize_address_range(first, last):
                f.write(f"{net} :{CODE}:{text_for(asn, org)} is listed\n")
    os.chmod(out, 0o755)
    os.chmod(directory, 0o755)


def covered(starts, ranges, value):
    index = bisect.bisect_right(starts, value) - 1
    return index >= 0 and ranges[index][1] >= value


def write_queries(out, v4, v6, count, seed):
    rng = random.Random(seed)
    starts4 = [r[0] for r in v4]
    starts6 = [r[0] for r in v6]
    with open(os.path.join(out, "queries.txt"), "w", encoding="ascii") as f:
        for _ in range(count):
            ipv6 = rng.random() < 0.1
            listed = rng.random() < 0.5
            qtype = "TXT" if rng.random() < 0.1 else "A"
            ranges, starts = (v6, starts6) if ipv6 else (v4, starts4)
            if listed:
                start, end, _, _ = ranges[rng.randrange(len(ranges))]
                value = rng.randint(start, end)
            else:
                while True:
                    if ipv6:
                        value = rng.getrandbits(125) | (1 << 125)  # 2000::/3
                    else:
                        value = rng.getrandbits(32)
                    if not covered(starts, ranges, value):
                        break
            if ipv6:
                nibbles = f"{value:032x}"
                name = ".".join(reversed(nibbles))
            else:
                name = ".".join(reversed(str(ipaddress.IPv4Address(value)).split(".")))
            f.write(f"{name}.{ZONE} {qtype}\n")


def main():
    asn_dir, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 5782
    os.makedirs(out, exist_ok=True)
    v4 = read_ranges(os.path.join(asn_dir, "asn-ipv4.csv"), 4)
    v6 = read_ranges(os.path.join(asn_dir, "asn-ipv6.csv"), 6)
    providers = write_dnsbl(out, v4, v6, asn_dir)
    write_rbldnsd(out, v4, v6)
    write_queries(out, v4, v6, count, seed)
    print(f"ranges: {len(v4)} IPv4, {len(v6)} IPv6; providers (ASNs): {providers}; queries: {count}")


if __name__ == "__main__":
    main()
