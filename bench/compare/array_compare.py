#!/usr/bin/env python3
"""shmkit SharedArray next to what Python users do today, on this machine.

Usage (from the repository root, after `ninja -C build`):

    /usr/bin/python3 bench/compare/array_compare.py [--build-dir build] [--json OUT]
                                                    [--repetitions N] [--quick]

It runs build/bench/array_array_bench with --benchmark_format=json, then the
same operations the Python way (numpy ndarray over
multiprocessing.shared_memory, multiprocessing.Lock, multiprocessing.Process),
timed with time.perf_counter_ns, and prints one table:

    operation | shmkit ns | peer ns | ratio (peer / shmkit)

followed by the design targets, each PASS or MISS. Every figure is the best of
N repetitions (the least disturbed run; on a shared 2-core machine the median
drifts with whatever else runs). Python figures include the interpreter's
loop overhead, as users pay it. The targets are informative: the script
exits 0 unless something crashed. --json writes every raw figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import Callable

import numpy as np

ELEMENTS = 1024  # element benchmarks cycle through 8 KiB, as the C++ ones do
MASK = ELEMENTS - 1
SLICE_BYTES = 1 << 20
SLICE_ELEMENTS = SLICE_BYTES // 8
PING, PONG = 0, 8  # separate cache lines, as in the C++ benchmark
STOP = np.iinfo(np.uint64).max

_TIME_UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


@dataclass
class Figure:
    ns: float  # per operation, best of the repetitions
    bytes_per_second: float | None = None


# ---------------------------------------------------------------------------
# shmkit: the Google Benchmark binary


def run_shmkit(build_dir: Path, repetitions: int, min_time: float) -> tuple[dict[str, Figure], dict]:
    binary = build_dir / "bench" / "array_array_bench"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} does not exist: build it first (ninja -C {build_dir})")
    command = [
        str(binary),
        "--benchmark_format=json",
        f"--benchmark_repetitions={repetitions}",
        f"--benchmark_min_time={min_time}",
    ]
    print(f"running {' '.join(command)} ...", file=sys.stderr, flush=True)
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    report = json.loads(completed.stdout)
    figures: dict[str, Figure] = {}
    for entry in report["benchmarks"]:
        if entry.get("run_type") != "iteration" or entry.get("error_occurred"):
            continue
        name = entry["run_name"].split("/")[0]
        ns = entry["real_time"] * _TIME_UNITS_NS[entry["time_unit"]]
        bps = entry.get("bytes_per_second")
        best = figures.get(name)
        if best is None or ns < best.ns:
            figures[name] = Figure(ns, bps)
    return figures, report.get("context", {})


# ---------------------------------------------------------------------------
# Python peers: numpy over multiprocessing.shared_memory


def best_of(rounds: int, iterations: int, body: Callable[[int], None], ops_per_iteration: float = 1.0) -> float:
    """Best per-operation time in ns over `rounds` calls of body(iterations)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        body(iterations)
        elapsed = time.perf_counter_ns() - start
        best = min(best, elapsed / (iterations * ops_per_iteration))
    return best


def _echo(name: str) -> None:
    """Child of the latency peer: copies every new ping to the pong element."""
    shm = shared_memory.SharedMemory(name)
    a = np.ndarray((16,), np.uint64, buffer=shm.buf)
    last = 0
    while True:
        value = a[PING]
        if value == STOP:
            break
        if value != last:
            a[PONG] = value
            last = value
    del a
    shm.close()


def run_python_peers(repetitions: int, scale: float) -> dict[str, Figure]:
    def n(count: int) -> int:
        return max(1, int(count * scale))

    peers: dict[str, Figure] = {}
    segments: list[shared_memory.SharedMemory] = []

    def shared(shape: tuple[int, ...], dtype: type) -> np.ndarray:
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        shm = shared_memory.SharedMemory(create=True, size=size)
        segments.append(shm)
        return np.ndarray(shape, dtype, buffer=shm.buf)

    try:
        elements = shared((ELEMENTS,), np.float64)
        plain = np.zeros(ELEMENTS)
        lock = multiprocessing.Lock()

        def plain_write(count: int) -> None:
            for i in range(count):
                plain[i & MASK] = i

        def unlocked_write(count: int) -> None:
            for i in range(count):
                elements[i & MASK] = i

        def unlocked_read(count: int) -> None:
            for i in range(count):
                _ = elements[i & MASK]

        def locked_write(count: int) -> None:
            for i in range(count):
                with lock:
                    elements[i & MASK] = i

        def locked_read(count: int) -> None:
            for i in range(count):
                with lock:
                    _ = elements[i & MASK]

        def lock_unlock(count: int) -> None:
            for _ in range(count):
                with lock:
                    pass

        # int64: `+= 1` on a uint64 element goes through float64 in numpy 1.x
        counter = shared((8,), np.int64)

        def locked_increment(count: int) -> None:
            for _ in range(count):
                with lock:
                    counter[0] += 1

        print("running the Python peers ...", file=sys.stderr, flush=True)
        peers["plain_write"] = Figure(best_of(repetitions, n(300_000), plain_write))
        peers["unlocked_write"] = Figure(best_of(repetitions, n(300_000), unlocked_write))
        peers["unlocked_read"] = Figure(best_of(repetitions, n(300_000), unlocked_read))
        peers["locked_write"] = Figure(best_of(repetitions, n(200_000), locked_write))
        peers["locked_read"] = Figure(best_of(repetitions, n(200_000), locked_read))
        peers["lock_unlock"] = Figure(best_of(repetitions, n(200_000), lock_unlock))
        peers["locked_increment"] = Figure(best_of(repetitions, n(200_000), locked_increment))

        big = shared((SLICE_ELEMENTS,), np.float64)
        big[:] = 1.0
        private_source = np.full(SLICE_ELEMENTS, 2.0)
        private_target = np.zeros(SLICE_ELEMENTS)

        def copy_private(count: int) -> None:
            for _ in range(count):
                np.copyto(private_target, private_source)

        def read_slice(count: int) -> None:
            for _ in range(count):
                np.copyto(private_target, big)

        def write_slice(count: int) -> None:
            for _ in range(count):
                np.copyto(big, private_source)

        def locked_copy(count: int) -> None:  # the Python way to a consistent copy
            for _ in range(count):
                with lock:
                    np.copyto(private_target, big)

        for key, body in [("memcpy", copy_private), ("read_slice", read_slice), ("write_slice", write_slice),
                          ("snapshot", locked_copy)]:
            ns = best_of(repetitions, n(3_000), body)
            peers[key] = Figure(ns, SLICE_BYTES / ns * 1e9)

        peers["latency"] = Figure(python_latency(repetitions, n(20_000)))
    finally:
        for shm in segments:
            shm.close()
            shm.unlink()
    return peers


def python_latency(repetitions: int, round_trips: int) -> float:
    """One-way write-to-visible latency: half a ping-pong with a second Process."""
    shm = shared_memory.SharedMemory(create=True, size=16 * 8)
    a = np.ndarray((16,), np.uint64, buffer=shm.buf)
    a[:] = 0
    child = multiprocessing.Process(target=_echo, args=(shm.name,), daemon=True)
    child.start()
    sequence = 0
    try:

        def ping_pong(count: int) -> None:
            nonlocal sequence
            deadline = time.monotonic() + 60
            for _ in range(count):
                sequence += 1
                a[PING] = sequence
                spins = 0
                while a[PONG] != sequence:
                    spins += 1
                    if spins % 100_000 == 0 and (not child.is_alive() or time.monotonic() > deadline):
                        raise RuntimeError("the Python echo process died or stalled")

        return best_of(repetitions, round_trips, ping_pong, ops_per_iteration=2.0)
    finally:
        a[PING] = STOP
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
        del a
        shm.close()
        shm.unlink()


# ---------------------------------------------------------------------------
# The table and the targets

# operation, shmkit benchmark, peer key
ROWS = [
    ("plain array element write (baseline)", "BM_Array_PlainWrite", "plain_write"),
    ("element write, unlocked", "BM_Array_UnlockedWrite", "unlocked_write"),
    ("element read, unlocked", "BM_Array_UnlockedRead", "unlocked_read"),
    ("element write, checked Index", "BM_Array_CheckedWrite", "unlocked_write"),
    ("element read, checked Index", "BM_Array_CheckedRead", "unlocked_read"),
    ("element write, locked", "BM_Array_LockedWrite", "locked_write"),
    ("element read, locked", "BM_Array_LockedRead", "locked_read"),
    ("lock + unlock", "BM_Array_LockGuard", "lock_unlock"),
    ("atomic increment (py: locked +=)", "BM_Array_AtomicFetchAdd", "locked_increment"),
    ("memcpy 1 MiB, private (baseline)", "BM_Array_Memcpy1MiB", "memcpy"),
    ("read_slice 1 MiB", "BM_Array_ReadSlice1MiB", "read_slice"),
    ("write_slice 1 MiB", "BM_Array_WriteSlice1MiB", "write_slice"),
    ("snapshot 1 MiB (py: locked copy)", "BM_Array_Snapshot1MiB", "snapshot"),
    ("cross-process latency, one way", "BM_Array_CrossProcessLatency", "latency"),
]


@dataclass
class Target:
    text: str
    measured: str
    passed: bool | None  # None: shown for information, not a target


def format_ns(ns: float) -> str:
    if ns < 10:
        return f"{ns:.2f}"
    if ns < 1000:
        return f"{ns:.1f}"
    return f"{ns:,.0f}"


def check_targets(shmkit: dict[str, Figure], peers: dict[str, Figure]) -> list[Target]:
    def ns(name: str) -> float:
        return shmkit[name].ns

    def bps(name: str) -> float:
        return shmkit[name].bytes_per_second or 0.0

    targets = []
    write_ratio = ns("BM_Array_UnlockedWrite") / ns("BM_Array_PlainWrite")
    read_ratio = ns("BM_Array_UnlockedRead") / ns("BM_Array_PlainRead")
    targets.append(Target("unlocked element access within 2x of plain array access",
                          f"write {write_ratio:.2f}x, read {read_ratio:.2f}x of std::vector",
                          max(write_ratio, read_ratio) <= 2.0))
    locked = ns("BM_Array_LockedWrite")
    targets.append(Target("locked uncontended element write < 50 ns", f"{locked:.1f} ns", locked < 50.0))
    memcpy = bps("BM_Array_Memcpy1MiB")
    read_share = bps("BM_Array_ReadSlice1MiB") / memcpy
    write_share = bps("BM_Array_WriteSlice1MiB") / memcpy
    targets.append(Target("1 MiB slice copy >= 80% of memcpy bandwidth",
                          f"read {read_share:.0%}, write {write_share:.0%} of {memcpy / 1e9:.1f} GB/s",
                          min(read_share, write_share) >= 0.8))
    locked_speedup = peers["locked_write"].ns / locked
    targets.append(Target(">= 10x faster than Python locked element write", f"{locked_speedup:.0f}x",
                          locked_speedup >= 10.0))
    write_speedup = peers["unlocked_write"].ns / ns("BM_Array_UnlockedWrite")
    read_speedup = peers["unlocked_read"].ns / ns("BM_Array_UnlockedRead")
    targets.append(Target(">= 50x faster than Python unlocked element op (operator[])",
                          f"write {write_speedup:.0f}x, read {read_speedup:.0f}x",
                          min(write_speedup, read_speedup) >= 50.0))
    checked_write = peers["unlocked_write"].ns / ns("BM_Array_CheckedWrite")
    checked_read = peers["unlocked_read"].ns / ns("BM_Array_CheckedRead")
    targets.append(Target("bounds-checked read()/write() with Index vs Python unlocked",
                          f"write {checked_write:.0f}x, read {checked_read:.0f}x faster", None))
    return targets


def print_report(shmkit: dict[str, Figure], peers: dict[str, Figure], targets: list[Target], context: dict) -> None:
    print()
    print(f"machine: {context.get('num_cpus', os.cpu_count())} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print("peer: numpy ndarray on multiprocessing.shared_memory, multiprocessing.Lock / Process; "
          "best of the repetitions")
    print()
    headers = ("operation", "shmkit ns", "peer ns", "ratio (peer/shmkit)")
    lines = []
    for label, bench, peer in ROWS:
        if bench not in shmkit or peer not in peers:
            lines.append((label, "n/a", "n/a", "n/a"))
            continue
        ours, theirs = shmkit[bench].ns, peers[peer].ns
        lines.append((label, format_ns(ours), format_ns(theirs), f"{theirs / ours:.1f}x"))
    widths = [max(len(row[i]) for row in [headers, *lines]) for i in range(4)]
    print(" | ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("-|-".join("-" * w for w in widths))
    for row in lines:
        print(" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()
    print("bandwidth, 1 MiB: " + ", ".join(
        f"{label} {shmkit[name].bytes_per_second / 1e9:.1f} GB/s"
        for label, name in [("memcpy", "BM_Array_Memcpy1MiB"), ("read_slice", "BM_Array_ReadSlice1MiB"),
                            ("write_slice", "BM_Array_WriteSlice1MiB"), ("snapshot", "BM_Array_Snapshot1MiB")]
        if shmkit.get(name) and shmkit[name].bytes_per_second))
    print()
    print("targets:")
    for target in targets:
        verdict = "info" if target.passed is None else "PASS" if target.passed else "MISS"
        print(f"  {verdict}  {target.text}: {target.measured}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path("build"), help="Meson build directory (default: build)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every raw figure to OUT")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions of each measurement (default: 5)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run, noisier figures)")
    args = parser.parse_args(argv)

    min_time = 0.05 if args.quick else 0.3
    shmkit, context = run_shmkit(args.build_dir, args.repetitions, min_time)
    peers = run_python_peers(args.repetitions, 0.1 if args.quick else 1.0)
    targets = check_targets(shmkit, peers)
    print_report(shmkit, peers, targets, context)
    if args.json:
        args.json.write_text(json.dumps({
            "context": context,
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "shmkit": {name: asdict(figure) for name, figure in shmkit.items()},
            "peer": {name: asdict(figure) for name, figure in peers.items()},
            "targets": [asdict(target) for target in targets],
        }, indent=2) + "\n")
        print(f"\nraw figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
