#!/usr/bin/env python3
"""shmkit's object store next to Redis and LMDB, in one run on this machine.

Usage (from the repository root, after `ninja -C build`):

    /usr/bin/python3 bench/compare/store_compare.py [--build-dir build] [--json OUT] [--quick]

It runs build/bench/store_store_bench and build/bench/store/store_lmdb_peer_bench
(Google Benchmark, JSON output), then starts Debian's redis-server on a
private Unix socket (no persistence), measures SET and GET of 100-byte
values with redis-benchmark (one client, no pipelining: one round trip per
operation, as a store client pays), stops it, and prints:

    operation | shmkit p50 ns | peer | peer p50 ns | peer / shmkit

followed by the targets of issue 5, each PASS or MISS. redis-benchmark
reports latency in 1 us steps, so Redis figures are rounded to the us.
Requires the redis-server package (apt-get install redis-server); exits 2
without it, 0 otherwise (the targets are informative).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_benchmark(binary: Path, repetitions: int, min_time: float) -> dict[str, dict]:
    """Runs one Google Benchmark binary; returns the best run of each benchmark by p50."""
    out = subprocess.run(
        [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
         f"--benchmark_min_time={min_time}"],
        check=True, capture_output=True, text=True).stdout
    best: dict[str, dict] = {}
    for row in json.loads(out)["benchmarks"]:
        if row.get("run_type") != "iteration":
            continue
        name = row["run_name"]
        key = row.get("p50_ns", row["real_time"])
        if name not in best or key < best[name].get("p50_ns", best[name]["real_time"]):
            best[name] = row
    return best


def run_redis(requests: int) -> dict[str, float]:
    """Starts redis-server on a Unix socket, measures SET/GET p50 in ns, stops it."""
    server_binary = shutil.which("redis-server")
    bench_binary = shutil.which("redis-benchmark")
    if server_binary is None or bench_binary is None:
        print("store_compare: redis-server and redis-benchmark are needed: apt-get install redis-server",
              file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="shmkit-redis-") as tmp:
        sock = os.path.join(tmp, "redis.sock")
        server = subprocess.Popen(
            [server_binary, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(sock):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.01)  # waiting for an external program to create its socket
            out = subprocess.run(
                [bench_binary, "-s", sock, "-t", "set,get", "-d", "100", "-n", str(requests), "-c", "1",
                 "--csv"], check=True, capture_output=True, text=True).stdout
        finally:
            server.terminate()
            server.wait(timeout=20)
    figures = {}
    for row in csv.DictReader(io.StringIO(out)):
        figures[row["test"]] = float(row["p50_latency_ms"]) * 1e6
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--json", help="write every raw figure here")
    parser.add_argument("--quick", action="store_true", help="one short repetition (smoke test)")
    args = parser.parse_args()

    build = Path(args.build_dir)
    repetitions, min_time, requests = (1, 0.05, 20000) if args.quick else (3, 0.5, 200000)
    shmkit = run_benchmark(build / "bench" / "store_store_bench", repetitions, min_time)
    lmdb = run_benchmark(build / "bench" / "store" / "store_lmdb_peer_bench", repetitions, min_time)
    redis = run_redis(requests)

    def p50(rows: dict[str, dict], name: str) -> float:
        return float(rows[name].get("p50_ns", rows[name]["real_time"]))

    get_ns = p50(shmkit, "BM_Store_GetSealedSmall")
    put_ns = p50(shmkit, "BM_Store_CreateAndSeal100B")
    contains_ns = p50(shmkit, "BM_Store_Contains")
    rows = [
        ("get 100 B (sealed, mapped)", get_ns, "Redis GET", redis["GET"]),
        ("get 100 B (sealed, mapped)", get_ns, "LMDB get", p50(lmdb, "BM_Store_LmdbGet100B")),
        ("create_and_seal 100 B", put_ns, "Redis SET", redis["SET"]),
        ("create_and_seal 100 B", put_ns, "LMDB put (own txn)", p50(lmdb, "BM_Store_LmdbPut100B")),
    ]
    print(f"{'operation':28} {'shmkit p50 ns':>14}  {'peer':20} {'peer p50 ns':>12} {'peer/shmkit':>12}")
    for op, ours, peer, theirs in rows:
        print(f"{op:28} {ours:14.0f}  {peer:20} {theirs:12.0f} {theirs / ours:12.2f}")

    put_bw = shmkit["BM_Store_Put64MiB/real_time"]["bytes_per_second"]
    memcpy_bw = shmkit["BM_Store_Memcpy64MiB/real_time"]["bytes_per_second"]
    print(f"\nput 64 MiB: {put_bw / 2**30:.2f} GiB/s, memcpy: {memcpy_bw / 2**30:.2f} GiB/s "
          f"({100 * put_bw / memcpy_bw:.0f}% of memcpy)")
    targets = [
        ("get p50 <= 1 us", get_ns <= 1000),
        ("create_and_seal 100 B p50 <= 15 us", put_ns <= 15000),
        ("contains p50 <= 500 ns", contains_ns <= 500),
        ("64 MiB put >= 70% of memcpy", put_bw >= 0.7 * memcpy_bw),
    ]
    print("\ntargets (issue 5):")
    for name, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps({"shmkit": shmkit, "lmdb": lmdb, "redis_p50_ns": redis}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
