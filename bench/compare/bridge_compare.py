#!/usr/bin/env python3
"""shmkit's bridge over Redis next to improv's way (redis-py SET/GET of pickled values), in one run.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/bridge_compare.py [--build-dir build] [--json OUT] [--quick]

It starts Debian's redis-server on a random 127.0.0.1 port (no persistence),
then runs build/bench/bridge/bridge_bridge_bench against it (SHMKIT_BENCH_REDIS):

1. a float64 set in store A until store B reads it, through two `Bridge`s
   and Redis on loopback (p50 and p99 of 2000 sets);
2. bridged sets per second: 2000 names set in A until B holds them all;
3. log entries forwarded per second by the `shmkit log forward` forwarder
   (one writer, entries of 100 B and 1 MiB, from the first log() until Redis
   holds the last one);

and, with redis-py on the same server, what improv does: SET of a pickled
value on one connection, then GET (and unpickle) on a second one until it
is seen (p50, p99); SETs of pickled values per second; and SETs of pickled
(source, time, payload) log entries of 100 B and 1 MiB per second. It
prints the table and the targets (p50 <= 500 us, >= 200k entries/s of
100 B, >= 500 MB/s of 1 MiB entries), PASS or MISS, and exits 0 unless used
wrongly. Without redis-server or python3-redis (scripts/install-deps
--bench) the rows say so. bench/compare/report.py runs this with the other
comparisons.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from compare_common import (Comparison, Figure, INSTALL_HINT, Source, Unavailable, redis_server, standard_main, progress, row,
                            run_benchmark, target)

BINARY = Path("bench") / "bridge" / "bridge_bridge_bench"
PEER = "improv's way: redis-py SET/GET of pickled values, same Redis (loopback TCP)"
SET_GET = "redis-py SET, GET on a 2nd connection"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1))]


def run_redis_py(port: int, quick: bool) -> dict[str, float]:
    """improv's way with redis-py: latency percentiles (ns) and rates."""
    try:
        import redis
    except ImportError as e:
        raise Unavailable(f"python3-redis is not installed: run {INSTALL_HINT}") from e
    progress("running redis-py SET/GET of pickled values")
    a = redis.Redis(host="127.0.0.1", port=port)
    b = redis.Redis(host="127.0.0.1", port=port)
    samples = []
    for i in range(1, (300 if quick else 2000) + 1):
        value = float(i)
        start = time.perf_counter_ns()
        a.set("improv:x", pickle.dumps(value))
        while pickle.loads(b.get("improv:x")) != value:
            pass
        samples.append(time.perf_counter_ns() - start)
    figures = {"p50_ns": percentile(samples, 0.5), "p99_ns": percentile(samples, 0.99)}
    sets = 2000 if quick else 20000
    start = time.perf_counter()
    for i in range(sets):
        a.set(f"improv:k{i}", pickle.dumps(float(i)))
    figures["sets_per_second"] = sets / (time.perf_counter() - start)
    for size, count, key in ((100, 5000 if quick else 50000, "small"), (1 << 20, 32 if quick else 256, "large")):
        payload = bytes(size)
        start = time.perf_counter()
        for i in range(count):
            a.set(f"improv:log:{key}:{i}", pickle.dumps((1, i, payload)))
        seconds = time.perf_counter() - start
        figures[f"{key}_entries_per_second"] = count / seconds
        figures[f"{key}_bytes_per_second"] = count * size / seconds
        a.flushall()
    return figures


def run_shmkit(build_dir: Path, port: int) -> dict[str, Figure]:
    binary = build_dir / BINARY
    if not binary.exists():
        raise Unavailable(f"{binary} is not built: run scripts/build")
    os.environ["SHMKIT_BENCH_REDIS"] = f"redis://127.0.0.1:{port}/0"
    try:
        figures, _ = run_benchmark(binary, 1, 0.01)
    finally:
        del os.environ["SHMKIT_BENCH_REDIS"]
    return figures


def rows_from(shmkit: Source, peer: Source) -> list:
    def field(name: str):
        return lambda f: getattr(f, name)

    return [
        row("bridge", "name set on host A -> read on host B, p50", "median time from set until the other host reads it",
            "ns", shmkit.get("BM_Bridge_SetVisibleOnOtherHost", field("p50_ns")), SET_GET, peer.get("p50_ns")),
        row("bridge", "name set on host A -> read on host B, p99", "99th percentile of the same", "ns",
            shmkit.get("BM_Bridge_SetVisibleOnOtherHost", field("p99_ns")), SET_GET, peer.get("p99_ns")),
        row("bridge", "bridged sets, 2000 names A -> B", "sets/s until the other host holds them all; redis-py: SETs/s",
            "ops/s", shmkit.get("BM_Bridge_SetsPerSecond", field("items_per_second")), "redis-py SET of pickled floats",
            peer.get("sets_per_second")),
        row("bridge", "log forward, 100 B entries", "entries/s into Redis, one writer; redis-py: SETs/s", "entries/s",
            shmkit.get("BM_Bridge_ForwardLogEntries/100", field("items_per_second")),
            "redis-py SET of pickled (source, time, payload)", peer.get("small_entries_per_second")),
        row("bridge", "log forward, 1 MiB entries", "payload MB/s into Redis, one writer; redis-py: SETs", "MB/s",
            shmkit.get("BM_Bridge_ForwardLogEntries/1048576",
                       lambda f: None if f.bytes_per_second is None else f.bytes_per_second / 1e6),
            "redis-py SET of pickled (source, time, payload)",
            peer.get("large_bytes_per_second", lambda v: v / 1e6)),
    ]


def missing_prerequisites(build_dir: Path) -> list[str]:
    missing = [f"{build_dir / BINARY} (its rows stay empty): run scripts/build"
               ] if not (build_dir / BINARY).exists() else []
    if shutil.which("redis-server") is None:
        missing.append(f"redis-server (no bridge rows): run {INSTALL_HINT}")
    try:
        import redis  # noqa: F401
    except ImportError:
        missing.append(f"python3-redis (no redis-py rows): run {INSTALL_HINT}")
    return missing


def collect(build_dir: Path, quick: bool = False) -> Comparison:
    """Starts redis-server, runs the bridge benchmark and redis-py against it."""
    shmkit = Source(str(build_dir / BINARY), error="redis-server did not run")
    peer = Source("redis-py", error="redis-server did not run")
    try:
        with redis_server(tcp=True) as port:
            shmkit = Source.measure(str(build_dir / BINARY), lambda: run_shmkit(build_dir, port))
            peer = Source.measure("redis-py", lambda: run_redis_py(port, quick))
    except Unavailable as e:
        shmkit = Source(str(build_dir / BINARY), error=str(e))
        peer = Source("redis-py", error=str(e))
    s = shmkit.values
    targets = [
        target("set on A -> seen on B p50 <= 500 us",
               lambda: (f"{s['BM_Bridge_SetVisibleOnOtherHost'].p50_ns / 1e3:.0f} us",
                        s["BM_Bridge_SetVisibleOnOtherHost"].p50_ns <= 500e3)),
        target("log forward >= 200k entries/s (100 B)",
               lambda: (f"{s['BM_Bridge_ForwardLogEntries/100'].items_per_second / 1e3:.0f} k entries/s",
                        s["BM_Bridge_ForwardLogEntries/100"].items_per_second >= 200e3)),
        target("log forward >= 500 MB/s (1 MiB)",
               lambda: (f"{s['BM_Bridge_ForwardLogEntries/1048576'].bytes_per_second / 1e6:.0f} MB/s",
                        s["BM_Bridge_ForwardLogEntries/1048576"].bytes_per_second >= 500e6)),
    ]
    return Comparison(
        section="bridge",
        peer=PEER,
        rows=rows_from(shmkit, peer),
        targets=targets,
        raw={
            "shmkit": {name: asdict(f) for name, f in shmkit.values.items()},
            "redis_py": peer.values,
            "errors": {x.label: x.error for x in (shmkit, peer) if x.error},
        },
    )


def main() -> int:
    return standard_main(__doc__, collect)


if __name__ == "__main__":
    sys.exit(main())
