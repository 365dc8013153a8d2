#!/usr/bin/env python3
"""shmkit's object store next to Redis and LMDB, in one run on this machine.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/store_compare.py [--build-dir build] [--json OUT] [--quick]

It runs build/bench/store_store_bench and build/bench/store/store_lmdb_peer_bench
(Google Benchmark, JSON output), then starts Debian's redis-server on a
private Unix socket (no persistence), measures the Redis commands of ROWS
(100-byte values) with redis-benchmark (one client, no pipelining: one round
trip per operation, as a store client pays), stops it, and prints one table
(operation, shmkit p50, peer, peer p50, ratio, what the figure is), with the
64 MiB put next to memcpy, followed by the store's latency targets, each PASS or
MISS. redis-benchmark reports latency in 1 us steps, so Redis figures are
rounded to the us. Without the redis-server package (scripts/install-deps
--bench) or a built LMDB peer their rows say so; the script exits 0
unless it is used wrongly (the targets are informative). bench/compare/report.py runs this with the other comparisons.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from compare_common import (Comparison, Figure, INSTALL_HINT, Source, Unavailable, redis_server, standard_main, progress, row,
                            run_benchmark, target)

SHMKIT_BINARY = Path("bench") / "store_store_bench"
LMDB_BINARY = Path("bench") / "store" / "store_lmdb_peer_bench"
PEER = "Redis over a Unix socket (redis-benchmark, 1 client) and LMDB (C API, same process)"
P50 = "median time per operation, 100 B values"

# operation, shmkit benchmark, peer, peer source ("redis": a redis-benchmark
# test; "lmdb": a benchmark of store_lmdb_peer_bench) and its key, what the
# figure is. Figures are p50 latencies in ns.
ROWS = [
    ("get 100 B (sealed, mapped)", "BM_Store_GetSealedSmall", "Redis GET", "redis", "GET", P50),
    ("get 100 B (sealed, mapped)", "BM_Store_GetSealedSmall", "LMDB get", "lmdb", "BM_Store_LmdbGet100B", P50),
    ("create_and_seal 100 B", "BM_Store_CreateAndSeal100B", "Redis SET", "redis", "SET", P50),
    ("create_and_seal 100 B", "BM_Store_CreateAndSeal100B", "LMDB put (own txn)", "lmdb", "BM_Store_LmdbPut100B",
     P50),
    ("get by name, float64 (Brain::get)", "BM_Store_GetName", "Redis GET", "redis", "GET", P50),
    ("get by name, float64 (Brain::get)", "BM_Store_GetName", "LMDB get", "lmdb", "BM_Store_LmdbGet100B", P50),
    ("set by name 100 B (atomic replace)", "BM_Store_SetName100B", "Redis SET", "redis", "SET", P50),
    ("set by name 100 B, --spin-us 0", "BM_Store_SetName100BNoSpin", "Redis SET", "redis", "SET", P50),
    ("set by name 100 B, --persist", "BM_Store_SetName100BPersisted", "LMDB put (own txn)", "lmdb",
     "BM_Store_LmdbPut100B", P50),
]
# operation, shmkit benchmark, peer benchmark in the same program: bandwidth in GB/s
MEMCPY_ROWS = [
    ("put 64 MiB (create, copy, seal)", "BM_Store_Put64MiB", "memcpy 64 MiB, prefaulted", "BM_Store_Memcpy64MiB"),
]


def benchmark_names() -> dict[Path, set[str]]:
    """Every benchmark the rows and targets use, by program (checked by the tests)."""
    shmkit = {r[1] for r in ROWS} | {r[1] for r in MEMCPY_ROWS} | {r[3] for r in MEMCPY_ROWS} | {"BM_Store_Contains"}
    return {SHMKIT_BINARY: shmkit, LMDB_BINARY: {r[4] for r in ROWS if r[3] == "lmdb"}}


def redis_tests() -> list[str]:
    return sorted({r[4] for r in ROWS if r[3] == "redis"})


def run_redis(requests: int) -> dict[str, float]:
    """Starts redis-server on a Unix socket, measures p50 in ns of redis_tests(), stops it."""
    bench_binary = shutil.which("redis-benchmark")
    if bench_binary is None:
        raise Unavailable(f"redis-benchmark is not installed: run {INSTALL_HINT}")
    progress(f"running redis-benchmark ({', '.join(redis_tests())})")
    with redis_server() as sock:
        out = subprocess.run(
            [bench_binary, "-s", sock, "-t", ",".join(t.lower() for t in redis_tests()), "-d", "100", "-n",
             str(requests), "-c", "1", "--csv"], check=True, capture_output=True, text=True).stdout
    return parse_redis_csv(out)


def parse_redis_csv(text: str) -> dict[str, float]:
    """redis-benchmark --csv output -> p50 latency in ns by test name."""
    return {r["test"]: float(r["p50_latency_ms"]) * 1e6 for r in csv.DictReader(io.StringIO(text))}


def rows_from(shmkit: Source, lmdb: Source, redis: Source) -> list:
    def latency(figure: Figure) -> float:
        return figure.latency_ns

    def gb_per_second(figure: Figure) -> float | None:
        return figure.gb_per_second

    peers = {"redis": (redis, lambda ns: ns), "lmdb": (lmdb, latency)}
    rows = []
    for operation, bench, peer, source, key, measures in ROWS:
        theirs, pick = peers[source]
        rows.append(row("store", operation, measures, "ns", shmkit.get(bench, latency), peer, theirs.get(key, pick)))
    for operation, bench, peer, peer_bench in MEMCPY_ROWS:
        rows.append(row("store", operation, "bandwidth, one 64 MiB object at a time", "GB/s",
                        shmkit.get(bench, gb_per_second), peer, shmkit.get(peer_bench, gb_per_second)))
    return rows


def missing_prerequisites(build_dir: Path) -> list[str]:
    missing = [f"{build_dir / SHMKIT_BINARY} (its rows stay empty): run scripts/build"
               ] if not (build_dir / SHMKIT_BINARY).exists() else []
    if not (build_dir / LMDB_BINARY).exists():
        missing.append(f"{build_dir / LMDB_BINARY} (no LMDB rows): install liblmdb-dev (scripts/install-deps), "
                       "then scripts/build")
    if shutil.which("redis-server") is None or shutil.which("redis-benchmark") is None:
        missing.append(f"redis-server and redis-benchmark (no Redis rows): run {INSTALL_HINT}")
    return missing


def collect(build_dir: Path, quick: bool = False) -> Comparison:
    """Runs the shmkit and LMDB benchmark programs and redis-benchmark."""
    repetitions, min_time, requests = (1, 0.05, 20000) if quick else (3, 0.5, 200000)
    context: dict = {}

    def benchmark(binary: Path) -> dict[str, Figure]:
        figures, found = run_benchmark(build_dir / binary, repetitions, min_time)
        context.update(found)
        return figures

    def lmdb_figures() -> dict[str, Figure]:
        if not (build_dir / LMDB_BINARY).exists():
            raise Unavailable(f"{build_dir / LMDB_BINARY} is not built: install liblmdb-dev (scripts/install-deps), "
                              "then scripts/build")
        return benchmark(LMDB_BINARY)

    shmkit = Source.measure(str(build_dir / SHMKIT_BINARY), lambda: benchmark(SHMKIT_BINARY))
    lmdb = Source.measure("LMDB", lmdb_figures)
    redis = Source.measure("Redis", lambda: run_redis(requests))

    s = shmkit.values

    def p50(name: str) -> float:
        return s[name].latency_ns

    def put_share() -> tuple[str, bool]:
        share = s["BM_Store_Put64MiB"].bytes_per_second / s["BM_Store_Memcpy64MiB"].bytes_per_second
        return f"{share:.0%} of memcpy", share >= 0.7

    targets = [
        target("get p50 <= 1 us", lambda: (f"{p50('BM_Store_GetSealedSmall'):.0f} ns",
                                           p50("BM_Store_GetSealedSmall") <= 1000)),
        target("create_and_seal 100 B p50 <= 15 us", lambda: (f"{p50('BM_Store_CreateAndSeal100B'):.0f} ns",
                                                               p50("BM_Store_CreateAndSeal100B") <= 15000)),
        target("contains p50 <= 500 ns", lambda: (f"{p50('BM_Store_Contains'):.0f} ns",
                                                  p50("BM_Store_Contains") <= 500)),
        target("64 MiB put >= 70% of memcpy", put_share),
        target("get by name p50 <= 2 us", lambda: (f"{p50('BM_Store_GetName'):.0f} ns",
                                                   p50("BM_Store_GetName") <= 2000)),
        target("set of a small value p50 <= 20 us", lambda: (f"{p50('BM_Store_SetName100B'):.0f} ns",
                                                             p50("BM_Store_SetName100B") <= 20000)),
    ]
    return Comparison(
        section="store",
        peer=PEER,
        rows=rows_from(shmkit, lmdb, redis),
        targets=targets,
        raw={
            "benchmark_context": context,
            "shmkit": {name: asdict(f) for name, f in shmkit.values.items()},
            "lmdb": {name: asdict(f) for name, f in lmdb.values.items()},
            "redis_p50_ns": redis.values,
            "errors": {x.label: x.error for x in (shmkit, lmdb, redis) if x.error},
        },
    )


def main() -> int:
    return standard_main(__doc__, collect, quick_help="one short repetition (smoke test)")


if __name__ == "__main__":
    sys.exit(main())
