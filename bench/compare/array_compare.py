#!/usr/bin/env python3
"""shmkit SharedArray next to what Python users do today, on this machine.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/array_compare.py [--build-dir build] [--json OUT]
                                                    [--repetitions N] [--quick]

It runs build/bench/array_array_bench with --benchmark_format=json, then the
same operations the Python way (numpy ndarray over
multiprocessing.shared_memory, multiprocessing.Lock, multiprocessing.Process),
timed with time.perf_counter_ns, and prints one table (operation, shmkit,
peer, peer figure, ratio, what the figure is), including the 1 MiB slice
copies next to memcpy, followed by the design targets, each PASS or MISS.
Every figure is the best of N repetitions (the least disturbed run; on a
shared 2-core machine the median drifts with whatever else runs). Python
figures include the interpreter's loop overhead, as users pay it. The targets
are informative: the script exits 0 unless it is used wrongly. --json writes
every raw figure. bench/compare/report.py runs this with the other
comparisons.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import asdict
from multiprocessing import shared_memory
from pathlib import Path
from typing import Callable

import numpy as np

from compare_common import (Comparison, Figure, Source, Target, print_alone, progress, row, run_benchmark, target)

ELEMENTS = 1024  # element benchmarks cycle through 8 KiB, as the C++ ones do
MASK = ELEMENTS - 1
SLICE_BYTES = 1 << 20
SLICE_ELEMENTS = SLICE_BYTES // 8
PING, PONG = 0, 8  # separate cache lines, as in the C++ benchmark
STOP = np.iinfo(np.uint64).max

BINARY = Path("bench") / "array_array_bench"
PEER = "numpy on multiprocessing.shared_memory (+ multiprocessing.Lock / Process)"


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

        progress("running the Python peers")
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
            peers[key] = Figure(ns, bytes_per_second=SLICE_BYTES / ns * 1e9)

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
# The rows and the targets

ELEMENT_OP = "time per element operation, 1024 float64 elements cycled"
COPY = "time per 1 MiB copy"
# operation, shmkit benchmark, peer, peer key, what the figure is
PYTHON_ROWS = [
    ("plain array element write (baseline)", "BM_Array_PlainWrite", "numpy private array a[i] = v", "plain_write",
     ELEMENT_OP + "; shmkit: std::vector"),
    ("element write, unlocked", "BM_Array_UnlockedWrite", "numpy a[i] = v", "unlocked_write", ELEMENT_OP),
    ("element read, unlocked", "BM_Array_UnlockedRead", "numpy a[i]", "unlocked_read", ELEMENT_OP),
    ("element write, checked Index", "BM_Array_CheckedWrite", "numpy a[i] = v", "unlocked_write", ELEMENT_OP),
    ("element read, checked Index", "BM_Array_CheckedRead", "numpy a[i]", "unlocked_read", ELEMENT_OP),
    ("element write, locked", "BM_Array_LockedWrite", "with Lock: a[i] = v", "locked_write", ELEMENT_OP),
    ("element read, locked", "BM_Array_LockedRead", "with Lock: a[i]", "locked_read", ELEMENT_OP),
    ("lock + unlock", "BM_Array_LockGuard", "with Lock: pass", "lock_unlock", "time per lock and unlock, uncontended"),
    ("atomic increment", "BM_Array_AtomicFetchAdd", "with Lock: a[0] += 1", "locked_increment",
     "time per increment, uncontended"),
    ("memcpy 1 MiB, private (baseline)", "BM_Array_Memcpy1MiB", "np.copyto, private arrays", "memcpy", COPY),
    ("read_slice 1 MiB", "BM_Array_ReadSlice1MiB", "np.copyto from shared", "read_slice", COPY),
    ("write_slice 1 MiB", "BM_Array_WriteSlice1MiB", "np.copyto into shared", "write_slice", COPY),
    ("snapshot 1 MiB (seqlock)", "BM_Array_Snapshot1MiB", "with Lock: np.copyto", "snapshot", COPY),
    ("cross-process latency, one way", "BM_Array_CrossProcessLatency", "numpy busy-wait, 2nd Process",
     "latency", "write in one process until another sees it: half a ping-pong"),
]
# operation, shmkit benchmark; the peer is BM_Array_Memcpy1MiB in the same program
MEMCPY_ROWS = [
    ("read_slice 1 MiB", "BM_Array_ReadSlice1MiB"),
    ("write_slice 1 MiB", "BM_Array_WriteSlice1MiB"),
    ("write_slice 1 MiB, locked", "BM_Array_LockedWriteSlice1MiB"),
    ("snapshot 1 MiB (seqlock)", "BM_Array_Snapshot1MiB"),
]
MEMCPY = "BM_Array_Memcpy1MiB"


def benchmark_names() -> set[str]:
    """Every benchmark of array_array_bench the rows and targets use (checked by the tests)."""
    return ({bench for _, bench, *_ in PYTHON_ROWS} | {bench for _, bench in MEMCPY_ROWS}
            | {MEMCPY, "BM_Array_PlainRead"})


def rows_from(shmkit: Source, peers: Source) -> list:
    def ns(figure: Figure) -> float:
        return figure.ns

    def gb_per_second(figure: Figure) -> float | None:
        return figure.gb_per_second

    rows = [row("array", operation, measures, "ns", shmkit.get(bench, ns), peer, peers.get(key, ns))
            for operation, bench, peer, key, measures in PYTHON_ROWS]
    rows += [row("array", operation, "bandwidth of 1 MiB copies, one core", "GB/s", shmkit.get(bench, gb_per_second),
                 "memcpy 1 MiB, private", shmkit.get(MEMCPY, gb_per_second))
             for operation, bench in MEMCPY_ROWS]
    return rows


def check_targets(shmkit: dict[str, Figure], peers: dict[str, Figure]) -> list[Target]:
    def ns(name: str) -> float:
        return shmkit[name].ns

    def bps(name: str) -> float:
        return shmkit[name].bytes_per_second

    def access() -> tuple[str, bool]:
        write_ratio = ns("BM_Array_UnlockedWrite") / ns("BM_Array_PlainWrite")
        read_ratio = ns("BM_Array_UnlockedRead") / ns("BM_Array_PlainRead")
        return f"write {write_ratio:.2f}x, read {read_ratio:.2f}x of std::vector", max(write_ratio, read_ratio) <= 2.0

    def locked() -> tuple[str, bool]:
        return f"{ns('BM_Array_LockedWrite'):.1f} ns", ns("BM_Array_LockedWrite") < 50.0

    def slices() -> tuple[str, bool]:
        memcpy = bps(MEMCPY)
        read_share = bps("BM_Array_ReadSlice1MiB") / memcpy
        write_share = bps("BM_Array_WriteSlice1MiB") / memcpy
        return (f"read {read_share:.0%}, write {write_share:.0%} of {memcpy / 1e9:.1f} GB/s",
                min(read_share, write_share) >= 0.8)

    def locked_speedup() -> tuple[str, bool]:
        speedup = peers["locked_write"].ns / ns("BM_Array_LockedWrite")
        return f"{speedup:.0f}x", speedup >= 10.0

    def unlocked_speedup() -> tuple[str, bool]:
        write = peers["unlocked_write"].ns / ns("BM_Array_UnlockedWrite")
        read = peers["unlocked_read"].ns / ns("BM_Array_UnlockedRead")
        return f"write {write:.0f}x, read {read:.0f}x", min(write, read) >= 50.0

    def checked() -> tuple[str, None]:
        write = peers["unlocked_write"].ns / ns("BM_Array_CheckedWrite")
        read = peers["unlocked_read"].ns / ns("BM_Array_CheckedRead")
        return f"write {write:.0f}x, read {read:.0f}x faster", None

    return [
        target("unlocked element access within 2x of plain array access", access),
        target("locked uncontended element write < 50 ns", locked),
        target("1 MiB slice copy >= 80% of memcpy bandwidth", slices),
        target(">= 10x faster than Python locked element write", locked_speedup),
        target(">= 50x faster than Python unlocked element op (operator[])", unlocked_speedup),
        target("bounds-checked read()/write() with Index vs Python unlocked", checked),
    ]


def missing_prerequisites(build_dir: Path) -> list[str]:
    return [] if (build_dir / BINARY).exists() else [f"{build_dir / BINARY} (its rows stay empty): run scripts/build"]


def collect(build_dir: Path, repetitions: int = 5, quick: bool = False) -> Comparison:
    """Runs array_array_bench and the Python peers; a part that cannot run leaves its rows empty with a note."""
    context: dict = {}

    def shmkit_figures() -> dict[str, Figure]:
        figures, found = run_benchmark(build_dir / BINARY, repetitions, 0.05 if quick else 0.3)
        context.update(found)
        return figures

    shmkit = Source.measure(str(build_dir / BINARY), shmkit_figures)
    peers = Source.measure("the Python peers", lambda: run_python_peers(repetitions, 0.1 if quick else 1.0))
    return Comparison(
        section="array",
        peer=PEER,
        rows=rows_from(shmkit, peers),
        targets=check_targets(shmkit.values, peers.values),
        raw={
            "benchmark_context": context,
            "shmkit": {name: asdict(figure) for name, figure in shmkit.values.items()},
            "peer": {name: asdict(figure) for name, figure in peers.values.items()},
            "errors": {s.label: s.error for s in (shmkit, peers) if s.error},
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path("build"), help="Meson build directory (default: build)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every raw figure to OUT")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions of each measurement (default: 5)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run, noisier figures)")
    args = parser.parse_args(argv)

    return print_alone(lambda: collect(args.build_dir, args.repetitions, args.quick), args.json)


if __name__ == "__main__":
    sys.exit(main())
