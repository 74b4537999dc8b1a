#!/usr/bin/env python3
"""Runs the side-by-side benchmark of dnsbl, rbldnsd and a do-nothing responder and
writes its section of docs/benchmarks.md. Started by bench/run.sh, which builds and generates the
inputs; see there for the arguments."""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")
SERVER_CPU = "0"
LOAD_CPU = "1"
PORTS = {"dnsbl": 5350, "dnsbl-base": 5351, "rbldnsd": 5352, "null": 5353}
PROBE_NAME = "2.0.0.127.bl.example"
# The malloc settings of deploy/dnsbl.service, so that dnsbl is measured as deployed.
DNSBL_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_TRIM_THRESHOLD_": "131072",
             "MALLOC_MMAP_THRESHOLD_": "131072"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def probe_packet(ident):
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    name = b"".join(bytes([len(l)]) + l.encode() for l in PROBE_NAME.split(".")) + b"\0"
    return header + name + struct.pack(">HH", 1, 1)


class Prober(threading.Thread):
    """Sends a query every 10 ms from before the server starts until one is answered."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.answered_at = None
        self.stop = False

    def run(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.01)
        ident = 0
        while not self.stop:
            ident = (ident + 1) & 0xFFFF
            try:
                sock.sendto(probe_packet(ident), ("127.0.0.1", self.port))
                sock.recvfrom(4096)
                self.answered_at = time.monotonic()
                return
            except OSError:
                # A refused port (ICMP) returns at once; keep the 10 ms period.
                time.sleep(0.01)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # utime, stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, name, argv, cwd=None, reload=None, env=None):
        self.name, self.argv, self.cwd, self.reload = name, argv, cwd, reload
        self.env = dict(os.environ, **(env or {}))
        self.port = PORTS[name]
        self.process = None

    def start(self, work):
        prober = Prober(self.port)
        prober.start()
        started = time.monotonic()
        self.log_path = os.path.join(work, f"{self.name}.log")
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "w"),
        )
        prober.join(timeout=600)
        prober.stop = True
        if prober.answered_at is None:
            raise SystemExit(f"{self.name} did not answer; see {self.log_path}")
        first_answer = prober.answered_at - started
        time.sleep(1.0)
        return first_answer, rss_kib(self.process.pid)

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def dnsperf(port, queries, seconds, rate=None):
    argv = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(port),
            "-d", queries, "-c", "4", "-T", "1", "-q", "100", "-l", str(seconds)]
    if rate:
        argv += ["-Q", str(int(rate))]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def number(label):
        match = re.search(label + r":\s+([0-9.]+)", output)
        return float(match.group(1)) if match else 0.0

    return {
        "sent": number("Queries sent"),
        "completed": number("Queries completed"),
        "lost": number("Queries lost"),
        "qps": number("Queries per second"),
        "latency_ms": number("Average Latency \\(s\\)") * 1000,
    }


def measure(server, queries, seconds):
    pid = server.process.pid
    before = cpu_ticks(pid)
    result = dnsperf(server.port, queries, seconds)
    after = cpu_ticks(pid)
    user = (after[0] - before[0]) / HZ * 1e6
    system = (after[1] - before[1]) / HZ * 1e6
    done = max(result["completed"], 1)
    result["cpu_us_q"] = (user + system) / done
    result["usr_us_q"] = user / done
    return result


def reload_under_load(server, queries, seconds, rate):
    stop = threading.Event()
    reloads = [0]

    def reloader():
        while not stop.wait(2.0):
            server.reload(server)
            reloads[0] += 1

    thread = threading.Thread(target=reloader, daemon=True)
    thread.start()
    result = dnsperf(server.port, queries, seconds, rate)
    stop.set()
    thread.join()
    result["reloads"] = reloads[0]
    return result


INTRO = """Written by `bench/run.sh` (see its header for the arguments). Data: the full IP-to-ASN
dataset of the npm package @ip-location-db/asn, every ASN listed in one address zone
`bl.example` with its own TXT (`AS<number> <organisation> is listed`, rendered once per
listing); rbldnsd serves the same ranges from an `ip4set` file (ranges as written) and an
`ip6trie` file (the IPv6 ranges cut into prefixes), with the same TXT texts and `-a` (no
authority section in positive answers, as dnsbl). Queries: a seeded file of names, half
listed and half not, about 10% IPv6 and 10% TXT, sent by dnsperf with
`-c 4 -T 1 -q 100`. `null` is `dnsbl-null-responder`, one `recvfrom` and one `sendto` per
query with no lookup: the ceiling of the load generator, and the CPU cost of a server
that answers without batching.
`dnsbl-base` (when present) is dnsbl built from an older commit, answering UDP through
hickory-server. dnsbl runs with the glibc malloc settings of `deploy/dnsbl.service`
(`MALLOC_ARENA_MAX=1`, `MALLOC_TRIM_THRESHOLD_=131072`, `MALLOC_MMAP_THRESHOLD_=131072`),
which `dnsbl serve` also sets itself when none of them is set (see "Resident memory"
below).

The figures that compare servers are ratios within one run: this machine is shared and
noisy, so absolute figures from different runs differ by 10-30%.
"""


def median_ratio(rounds, a, b, key):
    ratios = [r[a][key] / r[b][key] for r in rounds if r.get(a) and r.get(b) and r[b][key]]
    return statistics.median(ratios) if ratios else float("nan")


def machine():
    model = ""
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "model": model,
        "kernel": os.uname().release,
        "dnsperf": subprocess.run(["dnsperf", "-h"], capture_output=True, text=True).stderr.splitlines()[0:1],
    }


def snapshot_millis(log_path):
    with open(log_path, errors="replace") as f:
        found = re.findall(r"snapshot loaded.*?millis=(\d+)", f.read())
    return [int(m) for m in found]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="output directory of bench/gen.py")
    parser.add_argument("--asn-dir", required=True)
    parser.add_argument("--dnsbl", required=True, help="the dnsbl binary")
    parser.add_argument("--dnsbl-base", help="a dnsbl binary built from an older commit")
    parser.add_argument("--base-label", default="")
    parser.add_argument("--null", required=True, help="the dnsbl-null-responder binary")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--label", default="full run")
    parser.add_argument("--out", required=True)
    parser.add_argument("--command", default="")
    parser.add_argument("--profile", action="store_true",
                        help="count instructions per query with callgrind")
    parser.add_argument("--profile-queries", type=int, default=10000)
    args = parser.parse_args()

    work = os.path.join(args.data, "run")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    zones = os.path.join(args.data, "zones")
    queries = os.path.join(args.data, "queries.txt")
    v4 = os.path.join(args.asn_dir, "asn-ipv4.csv")
    v6 = os.path.join(args.asn_dir, "asn-ipv6.csv")

    log("ingesting the full dataset")
    db = os.path.join(work, "ingested.sqlite")
    started = time.monotonic()
    subprocess.run([args.dnsbl, "ingest", "--zones", zones, "--db", db, "--asn-data", v4, v6],
                   check=True, stdout=subprocess.DEVNULL)
    ingest_seconds = time.monotonic() - started

    def dnsbl_server(name, binary):
        # Each server gets its own copy of the database, so a reload of one never
        # touches the other's file.
        copy = os.path.join(work, f"{name}.sqlite")
        shutil.copy(db, copy)
        argv = [binary, "serve", "--zones", zones, "--db", copy,
                "--listen", f"127.0.0.1:{PORTS[name]}", "--poll-seconds", "3600"]
        return Server(name, argv, reload=lambda s: s.process.send_signal(signal.SIGHUP),
                      env=DNSBL_ENV)

    rbl_dir = os.path.join(args.data, "rbldnsd")

    def rbl_reload(server):
        now = time.time()
        for name in ("asn4.ip4set", "asn6.ip6trie"):
            os.utime(os.path.join(rbl_dir, name), (now, now))
        server.process.send_signal(signal.SIGHUP)

    servers = [dnsbl_server("dnsbl", args.dnsbl)]
    if args.dnsbl_base:
        servers.append(dnsbl_server("dnsbl-base", args.dnsbl_base))
    servers.append(Server("rbldnsd", ["rbldnsd", "-n", "-a", "-b", f"127.0.0.1/{PORTS['rbldnsd']}",
                                      "-w", rbl_dir, "-c", "3600",
                                      "bl.example:ip4set:asn4.ip4set",
                                      "bl.example:ip6trie:asn6.ip6trie"],
                          reload=rbl_reload))
    servers.append(Server("null", [args.null, f"127.0.0.1:{PORTS['null']}"]))

    rounds = []
    for number in range(args.rounds):
        order = servers if number % 2 == 0 else [servers[0]] + servers[1:][::-1]
        results = {}
        for server in order:
            log(f"round {number + 1}: {server.name}")
            first_answer, rss = server.start(work)
            try:
                result = measure(server, queries, args.seconds)
            finally:
                server.stop()
            result["first_answer_s"] = first_answer
            result["rss_mib"] = rss / 1024
            results[server.name] = result
        rounds.append(results)

    # dnsbl and rbldnsd only: the older dnsbl build would set a much lower rate.
    max_qps = min(statistics.median(r[name]["qps"] for r in rounds)
                  for name in ("dnsbl", "rbldnsd"))
    reload_rate = max_qps / 2
    reloads = {}
    for server in servers[:-1]:
        if server.name == "dnsbl-base":
            continue
        log(f"reload under load: {server.name} at {reload_rate:.0f} qps")
        server.start(work)
        try:
            reloads[server.name] = reload_under_load(server, queries, args.seconds, reload_rate)
        finally:
            server.stop()
    build_ms = snapshot_millis(os.path.join(work, "dnsbl.log"))

    profiles = []
    if args.profile:
        fixed = os.path.join(work, "profile-queries.txt")
        with open(queries) as source, open(fixed, "w") as target:
            for _, line in zip(range(args.profile_queries), source):
                target.write(line)
        for server in servers[:-1]:
            log(f"callgrind: {server.name}")
            try:
                profiles.append(callgrind(server, work, fixed))
            except (OSError, subprocess.SubprocessError, SystemExit, IndexError) as error:
                # The side-by-side figures above are still worth writing.
                log(f"callgrind of {server.name} failed: {error}")
                server.stop()

    write_report(args, machine(), rounds, servers, reloads, reload_rate, ingest_seconds,
                 build_ms, profiles)


def callgrind(server, work, fixed):
    """Instructions per answered query over a fixed query set, counted by callgrind from
    the first answer on (loading is not counted), with the top functions."""
    out = os.path.join(work, f"callgrind.{server.name}")
    plain = server.argv
    server.argv = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                   f"--callgrind-out-file={out}"] + plain
    try:
        server.start(work)
        pid = str(server.process.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        result = dnsperf_once(server.port, fixed)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        time.sleep(1.0)
    finally:
        server.stop()
        server.argv = plain
    dumps = sorted(f for f in os.listdir(work) if f.startswith(f"callgrind.{server.name}"))
    dump = os.path.join(work, dumps[-1])
    annotate = subprocess.run(["callgrind_annotate", "--threshold=90", dump],
                              capture_output=True, text=True).stdout
    total = 0
    match = re.search(r"^([0-9,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotate, re.M)
    if match:
        total = int(match.group(1).replace(",", ""))
    top = [line for line in annotate.splitlines() if re.match(r"^\s*[0-9,]+ \(", line)][1:13]
    done = max(result["completed"], 1)
    return {"name": server.name, "completed": result["completed"],
            "ir_per_query": total / done, "top": top}


def dnsperf_once(port, queries):
    argv = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(port),
            "-d", queries, "-n", "1", "-Q", "1000", "-c", "1", "-T", "1"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Queries completed:\s+([0-9]+)", output)
    return {"completed": float(match.group(1)) if match else 0.0}


def write_report(args, info, rounds, servers, reloads, reload_rate, ingest_seconds, build_ms,
                 profiles):
    names = [s.name for s in servers]
    lines = []
    add = lines.append
    add(INTRO)
    add(f"## Side by side ({args.label})\n")
    add(f"Machine: {info['nproc']} CPUs, {info['model']}, Linux {info['kernel']}. "
        f"Server pinned to CPU {SERVER_CPU}, dnsperf to CPU {LOAD_CPU}; "
        f"{args.rounds} rounds of {args.seconds} s per server, servers alternating.\n")
    if args.command:
        add(f"Command: `{args.command}`\n")
    add("Per round (qps, lost, mean latency, server CPU per answered query from "
        "/proc/PID/stat as user+system and user only, VmRSS 1 s after the first answer, "
        "start to first answer with a 10 ms prober):\n")
    add("| round | server | qps | lost | latency ms | cpu µs/q | usr µs/q | RSS MiB | first answer s |")
    add("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, results in enumerate(rounds, 1):
        for name in names:
            r = results[name]
            add(f"| {number} | {name} | {r['qps']:.0f} | {r['lost']:.0f} | {r['latency_ms']:.3f} | "
                f"{r['cpu_us_q']:.3f} | {r['usr_us_q']:.3f} | {r['rss_mib']:.1f} | {r['first_answer_s']:.2f} |")
    add("")
    add("Median of per-round ratios, dnsbl / rbldnsd (target in brackets):\n")
    add("| figure | ratio | target |")
    add("| --- | ---: | --- |")
    for key, target in (("cpu_us_q", "≤ 0.7"), ("usr_us_q", "≤ 0.7"), ("qps", "≥ 1"),
                        ("rss_mib", "≤ 0.5"), ("first_answer_s", "≤ 1")):
        add(f"| {key} | {median_ratio(rounds, 'dnsbl', 'rbldnsd', key):.2f} | {target} |")
    if "dnsbl-base" in names:
        add(f"| usr_us_q dnsbl / dnsbl-base ({args.base_label}) | "
            f"{median_ratio(rounds, 'dnsbl', 'dnsbl-base', 'usr_us_q'):.2f} | |")
    add("")
    add(f"Reload under load: dnsperf at {reload_rate:.0f} qps (half the lower of the median qps of dnsbl and rbldnsd) "
        f"for {args.seconds} s while the data is reloaded every 2 s (dnsbl: SIGHUP, which "
        "reads zones/ again and rebuilds the snapshot; rbldnsd: touch both files and SIGHUP):\n")
    add("| server | reloads | sent | completed | lost |")
    add("| --- | ---: | ---: | ---: | ---: |")
    for name, r in reloads.items():
        add(f"| {name} | {r['reloads']} | {r['sent']:.0f} | {r['completed']:.0f} | {r['lost']:.0f} |")
    add("")
    add(f"Ingest of the full dataset (`dnsbl ingest`, fresh database): {ingest_seconds:.1f} s. "
        f"Snapshot build at start (from the `snapshot loaded` log line): "
        f"{', '.join(str(m) for m in build_ms)} ms.\n")
    if profiles:
        add("## Instructions per query (callgrind)\n")
        add("The machine's CPU counters are not available to perf here, so each server runs "
            f"under `valgrind --tool=callgrind --collect-atstart=no`; counting starts after the "
            f"first answer and covers a fixed set of the first {args.profile_queries} queries "
            "of the query file, sent once at 1000 qps. User-space instructions only.\n")
        add("| server | answered | instructions per query |")
        add("| --- | ---: | ---: |")
        for p in profiles:
            add(f"| {p['name']} | {p['completed']:.0f} | {p['ir_per_query']:.0f} |")
        add("")
        for p in profiles:
            add(f"Functions with the most own instructions, {p['name']}:\n")
            add("```")
            lines.extend(p["top"])
            add("```\n")
    report = "\n".join(lines)
    replace_section(args.out, report)
    print(report)


BEGIN = "<!-- bench/run.sh writes from here -->"
END = "<!-- bench/run.sh writes up to here -->"


def replace_section(path, report):
    """Replaces the part of `path` between BEGIN and END with `report`, keeping every other
    section. A file without the markers gets the section after its first line."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    section = f"{BEGIN}\n{report.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        first, _, rest = text.partition("\n")
        text = f"{first}\n\n{section}\n\n{rest.lstrip()}"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
