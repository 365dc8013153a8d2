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
rounded to the us.

It also runs build/bench/store/store_writers_bench (4 writer processes
setting a 100 B value by name, each its own, and 1 reader getting them by
name meanwhile; see bench/store/writers_bench.cpp) on the store with its
default spin_us and with --spin-us 0, and the same program on the Redis
server with hiredis (SET/GET, the same processes, barrier and timing, which
redis-benchmark cannot express: its clients live in one process and all
run the same command). The three alternate, WRITER_REPETITIONS times each,
and each one's rows quote its run with the most sets/s. Without the
redis-server package (scripts/install-deps --bench) or a built LMDB peer
their rows say so; the script exits 0 unless it is used wrongly (the
targets are informative). bench/compare/report.py runs this with the other comparisons.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from compare_common import (Comparison, Figure, INSTALL_HINT, Source, Unavailable, redis_server, standard_main, progress, row,
                            run_benchmark, target)

SHMKIT_BINARY = Path("bench") / "store_store_bench"
LMDB_BINARY = Path("bench") / "store" / "store_lmdb_peer_bench"
WRITERS_BINARY = Path("bench") / "store" / "store_writers_bench"
PEER = ("Redis over a Unix socket (redis-benchmark, 1 client; hiredis for 4 writers x 1 reader) and LMDB "
        "(C API, same process)")
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
    ("set by name 100 B, 120 ms after the last", "BM_Store_SetAfterIdle", "Redis SET", "redis", "SET", P50),
    ("first set of a new name, 1 ms after the last (published)", "BM_Store_FirstBindAfterIdle/busy_cores:0",
     "Redis SET", "redis", "SET", P50),
    ("the same, every core busy meanwhile", "BM_Store_FirstBindAfterIdle/busy_cores:1", "Redis SET", "redis", "SET",
     P50),
    ("set by name 100 B, --persist", "BM_Store_SetName100BPersisted", "LMDB put (own txn)", "lmdb",
     "BM_Store_LmdbPut100B", P50),
]
# operation, shmkit benchmark, peer benchmark in the same program: bandwidth in GB/s
MEMCPY_ROWS = [
    ("put 64 MiB (create, copy, seal)", "BM_Store_Put64MiB", "memcpy 64 MiB, prefaulted", "BM_Store_Memcpy64MiB"),
]

# store_writers_bench: writer processes, sets of a 100 B value per writer
# (sized for ~2 s a run on a 2-core machine), repetitions of each of the
# three configurations (the store, the store with --spin-us 0, Redis).
WRITERS = 4
WRITER_SETS, WRITER_SETS_QUICK = 10000, 1000
WRITER_REPETITIONS, WRITER_REPETITIONS_QUICK = 3, 1
WRITER_RUNS = {"shmkit": [], "shmkit --spin-us 0": ["--spin-us", "0"], "redis": None}  # None: --redis SOCKET
WRITER_SHAPE = f"{WRITERS} writer processes + 1 reader, 100 B, a name per writer"
# operation suffix, figure of store_writers_bench's JSON, unit, Redis's side, what the figure is
WRITER_ROWS = [
    ("sets/s", "sets_per_second", "ops/s", "Redis SET, same processes (hiredis)",
     f"sets of all writers per second, first start to last end; {WRITER_SHAPE}"),
    ("set p99", "set_p99_ns", "ns", "Redis SET, same processes (hiredis)",
     f"p99 of each set timed alone, writers merged; {WRITER_SHAPE}"),
    ("reader gets/s", "reader_gets_per_second", "ops/s", "Redis GET, same processes (hiredis)",
     f"reader's gets by name while the writers set; {WRITER_SHAPE}"),
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


def writer_rows(shmkit: Source, no_spin: Source, redis: Source) -> list:
    """The rows of store_writers_bench: the store (default, --spin-us 0) next to Redis."""
    rows = []
    for label, ours in ((f"{WRITERS} writers x 1 reader", shmkit), (f"{WRITERS} writers x 1 reader, --spin-us 0",
                                                                     no_spin)):
        for what, key, unit, peer, measures in WRITER_ROWS:
            rows.append(row("store", f"{label}: {what}", measures, unit, ours.get(key), peer, redis.get(key)))
    return rows


def writer_figures(result: dict) -> dict[str, float]:
    """One store_writers_bench JSON result -> the figures rows use."""
    return {"sets_per_second": result["sets_per_second"], "set_p50_ns": result["set_p50_ns"],
            "set_p99_ns": result["set_p99_ns"], "reader_gets_per_second": result["reader"]["gets_per_second"],
            "reader_get_p99_ns": result["reader"]["get_p99_ns"]}


def run_writers_once(binary: Path, args: list[str], sets: int) -> dict:
    command = [str(binary), "--writers", str(WRITERS), "--sets", str(sets), *args]
    progress(f"running {' '.join(command)}")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"{binary.name} exited with {completed.returncode}: {completed.stderr.strip()[-300:]}")
    return json.loads(completed.stdout)


def run_writers(build_dir: Path, quick: bool) -> tuple[dict[str, Source], dict[str, list[dict]]]:
    """store_writers_bench on the store (WRITER_RUNS) and on a private Redis,
    alternating; a Source per configuration (its run with the most sets/s),
    and every run's JSON."""
    binary = build_dir / WRITERS_BINARY
    label = str(binary)
    repetitions, sets = (WRITER_REPETITIONS_QUICK, WRITER_SETS_QUICK) if quick else (WRITER_REPETITIONS, WRITER_SETS)
    runs: dict[str, list[dict]] = {name: [] for name in WRITER_RUNS}
    errors: dict[str, str] = {}
    if not binary.exists():
        errors = {name: f"{binary} is not built: run scripts/build" for name in WRITER_RUNS}
    with contextlib.ExitStack() as stack:
        redis_socket = None
        if "redis" not in errors:
            try:
                redis_socket = stack.enter_context(redis_server())
            except (Unavailable, RuntimeError) as e:
                errors["redis"] = str(e)
        for _ in range(repetitions):
            for name, args in WRITER_RUNS.items():
                if name in errors:
                    continue
                try:
                    runs[name].append(run_writers_once(binary, ["--redis", str(redis_socket)] if args is None else args,
                                                       sets))
                except (OSError, ValueError, KeyError, RuntimeError, subprocess.SubprocessError) as e:
                    errors[name] = f"{label} failed ({name}): {type(e).__name__}: {e}"
    sources = {}
    for name in WRITER_RUNS:
        source_label = "Redis" if name == "redis" else f"{label} ({name})"
        if name in errors:
            sources[name] = Source(source_label, error=errors[name])
        else:
            best = max(runs[name], key=lambda r: r["sets_per_second"])
            sources[name] = Source(source_label, writer_figures(best))
    return sources, runs


def missing_prerequisites(build_dir: Path) -> list[str]:
    missing = [f"{build_dir / SHMKIT_BINARY} (its rows stay empty): run scripts/build"
               ] if not (build_dir / SHMKIT_BINARY).exists() else []
    if not (build_dir / LMDB_BINARY).exists():
        missing.append(f"{build_dir / LMDB_BINARY} (no LMDB rows): install liblmdb-dev (scripts/install-deps), "
                       "then scripts/build")
    if not (build_dir / WRITERS_BINARY).exists():
        missing.append(f"{build_dir / WRITERS_BINARY} (no writers x reader rows): run scripts/build")
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
    writers, writer_runs = run_writers(build_dir, quick)

    s = shmkit.values

    def p50(name: str) -> float:
        return s[name].latency_ns

    def put_share() -> tuple[str, bool]:
        share = s["BM_Store_Put64MiB"].bytes_per_second / s["BM_Store_Memcpy64MiB"].bytes_per_second
        return f"{share:.0%} of memcpy", share >= 0.7

    def set_no_spin() -> tuple[str, bool]:
        ours, redis_set = p50("BM_Store_SetName100BNoSpin"), redis.values["SET"]
        # The ratio moves with Redis's own figure (15-90 us on this VM,
        # lowest when the machine is busy and its thread never sleeps).
        return f"{ours:.0f} ns, {redis_set / ours:.0f}x Redis SET", ours <= 1000

    def writers_next_to_redis() -> tuple[str, None]:
        ours, theirs = writers["shmkit"].values, writers["redis"].values
        return (f"{ours['sets_per_second']:.0f} sets/s ({ours['sets_per_second'] / theirs['sets_per_second']:.2f}x "
                f"Redis), p99 {ours['set_p99_ns'] / 1e3:.1f} us (Redis {theirs['set_p99_ns'] / 1e3:.1f} us)", None)

    targets = [
        target("get p50 <= 1 us", lambda: (f"{p50('BM_Store_GetSealedSmall'):.0f} ns",
                                           p50("BM_Store_GetSealedSmall") <= 1000)),
        target("create_and_seal 100 B p50 <= 1 us (client-side write)",
               lambda: (f"{p50('BM_Store_CreateAndSeal100B'):.0f} ns", p50("BM_Store_CreateAndSeal100B") <= 1000)),
        target("contains p50 <= 500 ns", lambda: (f"{p50('BM_Store_Contains'):.0f} ns",
                                                  p50("BM_Store_Contains") <= 500)),
        target("64 MiB put >= 70% of memcpy", put_share),
        target("get by name p50 <= 2 us", lambda: (f"{p50('BM_Store_GetName'):.0f} ns",
                                                   p50("BM_Store_GetName") <= 2000)),
        target("set of a small value p50 <= 20 us", lambda: (f"{p50('BM_Store_SetName100B'):.0f} ns",
                                                             p50("BM_Store_SetName100B") <= 20000)),
        target("set by name 100 B, --spin-us 0: p50 <= 1 us (ratio to Redis SET shown)", set_no_spin),
        target(f"{WRITERS} writer processes x 1 reader: sets/s and p99 next to Redis", writers_next_to_redis),
    ]
    return Comparison(
        section="store",
        peer=PEER,
        rows=rows_from(shmkit, lmdb, redis) + writer_rows(writers["shmkit"], writers["shmkit --spin-us 0"],
                                                           writers["redis"]),
        targets=targets,
        raw={
            "benchmark_context": context,
            "shmkit": {name: asdict(f) for name, f in shmkit.values.items()},
            "lmdb": {name: asdict(f) for name, f in lmdb.values.items()},
            "redis_p50_ns": redis.values,
            "writers": writer_runs,
            "errors": {x.label: x.error for x in (shmkit, lmdb, redis, *writers.values()) if x.error},
        },
    )


def main() -> int:
    return standard_main(__doc__, collect, quick_help="one short repetition (smoke test)")


if __name__ == "__main__":
    sys.exit(main())
