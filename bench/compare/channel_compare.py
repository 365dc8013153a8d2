#!/usr/bin/env python3
"""shmkit channel next to a Unix socket, a POSIX message queue and the array module's ping-pong, on this machine.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/channel_compare.py [--build-dir build] [--json OUT]
                                                      [--repetitions N] [--quick]

It runs build/bench/channel_channel_bench with --benchmark_format=json (the
channel's ping-pong of 64 B and 4 MiB samples, the same ping-pong through a
Unix stream socket pair and through two POSIX message queues, 64 B
throughput to one subscriber, one publisher feeding 4 subscribers), then
BM_Array_CrossProcessLatency of build/bench/array_array_bench (one cache line
bounced between two processes: the floor any shared-memory transport pays),
in the same run, and prints one table (operation, shmkit, peer, peer figure,
ratio, what the figure is) followed by the targets, each PASS or MISS.
Latency figures are the median one-way time (half a busy-wait round trip,
each round trip timed on its own with the TSC: clock_gettime costs 30-90 ns
in a VM, which a steady_clock timing added to every round trip); every
figure is the best of N repetitions, but the fan-out's: the rate of five
processes on two cores moves with the scheduler from run to run (200-500 k
frames/s), so its two sizes run interleaved in random order, 10 times
each, and the rows quote the median rate of each. A POSIX message may not exceed
/proc/sys/fs/mqueue/msgsize_max (8 KiB unless root raises it), so the 4 MiB
message-queue row is empty with that reason on most machines. The targets
are informative: the script exits 0 unless it is used wrongly.
bench/compare/report.py runs this with the other comparisons.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from compare_common import (Comparison, Figure, Source, Target, Unavailable, benchmark_key, parse_benchmark_json,
                            print_alone, progress, row, target)

BINARY = Path("bench") / "channel_channel_bench"
ARRAY_BINARY = Path("bench") / "array_array_bench"
ARRAY_LATENCY = "BM_Array_CrossProcessLatency"
PEER = "Unix socket, POSIX message queue, SharedArray cache-line ping-pong"
SMALL, LARGE = 64, 4 << 20
SIZES = {SMALL: "64 B", LARGE: "4 MiB"}

LATENCY = "one-way latency, p50 of half a busy-wait ping-pong between two processes"
# operation, shmkit benchmark, peer, peer benchmark (in the channel program unless noted), what the figure is
LATENCY_ROWS = [
    *[(f"one-way latency {label}", f"BM_Channel_PingPong/{size}", f"Unix socket pair, {label} messages",
       f"BM_Channel_UnixSocketPingPong/{size}", LATENCY + "; the socket copies every byte twice")
      for size, label in SIZES.items()],
    *[(f"one-way latency {label}", f"BM_Channel_PingPong/{size}", f"POSIX message queue, {label} messages",
       f"BM_Channel_MqueuePingPong/{size}", LATENCY + "; the queue copies every byte twice")
      for size, label in SIZES.items()],
    ("one-way latency 64 B", f"BM_Channel_PingPong/{SMALL}", "SharedArray: one uint64 bounced (array module)",
     ARRAY_LATENCY, LATENCY + "; the array row moves one cache line and holds no sample"),
]
FAN_OUT = "BM_Channel_FanOut4"
FAN_OUT_RUNS = 10
# "Independent of size", allowing for the scheduler: the medians of two sizes
# were 0.9-1.2x of each other in runs of this program.
FAN_OUT_SAME_RATE = 0.8
RATE_ROWS = [
    ("4 MiB frames, 1 publisher -> 4 subscribers", f"{FAN_OUT}/{LARGE}",
     "64 KiB frames, 1 -> 4 (same program)", f"{FAN_OUT}/{64 << 10}",
     f"frames/s delivered to every subscriber, median of {FAN_OUT_RUNS} runs of each size (3 with --quick) in "
     "random order; equal rates mean no byte is copied"),
]
THROUGHPUT = "BM_Channel_Throughput64B"
# How the ping-pongs run (rest_before_run in channel_bench.cpp); back to back
# they measured 180-245 ns on the development VM.
RESTED = "(each run after 0.5 s idle)"


def benchmark_names() -> dict[Path, set[str]]:
    """Every benchmark each program must run for the rows and targets (checked by the tests)."""
    channel = {bench for _, bench, _, peer, _ in LATENCY_ROWS + RATE_ROWS for bench in (bench, peer)} | {THROUGHPUT}
    return {BINARY: channel - {ARRAY_LATENCY}, ARRAY_BINARY: {ARRAY_LATENCY}}


def run_json(binary: Path, arguments: list[str]) -> str:
    if not binary.exists():
        raise Unavailable(f"{binary} is not built: run scripts/build")
    command = [str(binary), "--benchmark_format=json", *arguments]
    progress(f"running {' '.join(command)}")
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{binary.name} exited with {completed.returncode}: {completed.stderr.strip()[-300:]}")
    return completed.stdout


def run_program(binary: Path, repetitions: int, min_time: float, pattern: str | None = None) -> dict[str, Figure]:
    arguments = [f"--benchmark_repetitions={repetitions}", f"--benchmark_min_time={min_time}"]
    if pattern:
        arguments.append(f"--benchmark_filter={pattern}")
    figures, _ = parse_benchmark_json(run_json(binary, arguments))
    return figures


def median_rates(text: str) -> dict[str, Figure]:
    """Figures whose rates are the medians of every repetition (not the best, as parse_benchmark_json keeps)."""
    figures, _ = parse_benchmark_json(text)
    items: dict[str, list[float]] = {}
    bytes_: dict[str, list[float]] = {}
    for entry in json.loads(text).get("benchmarks", []):
        if entry.get("run_type", "iteration") == "iteration" and not entry.get("error_occurred"):
            key = benchmark_key(entry.get("run_name", entry["name"]))
            items.setdefault(key, []).append(float(entry["items_per_second"]))
            if "bytes_per_second" in entry:
                bytes_.setdefault(key, []).append(float(entry["bytes_per_second"]))
    for key, figure in figures.items():
        figure.items_per_second = statistics.median(items[key])
        figure.bytes_per_second = statistics.median(bytes_[key]) if key in bytes_ else None
        figure.ns = 1e9 / figure.items_per_second
    return figures


def run_fan_out(binary: Path, runs: int, min_time: float) -> dict[str, Figure]:
    """Both fan-out sizes, interleaved in random order: each row the median of `runs`."""
    return median_rates(run_json(binary, [
        f"--benchmark_filter={FAN_OUT}", "--benchmark_enable_random_interleaving=true",
        f"--benchmark_repetitions={runs}", f"--benchmark_min_time={min_time}"]))


def rows_from(shmkit: Source, array: Source) -> list:
    def latency(figure: Figure) -> float:
        return figure.latency_ns

    def per_second(figure: Figure) -> float | None:
        return figure.items_per_second

    rows = []
    for operation, bench, peer, peer_bench, measures in LATENCY_ROWS:
        source = array if peer_bench == ARRAY_LATENCY else shmkit
        rows.append(row("channel", operation, measures, "ns", shmkit.get(bench, latency), peer,
                        source.get(peer_bench, latency)))
    for operation, bench, peer, peer_bench, measures in RATE_ROWS:
        rows.append(row("channel", operation, measures, "ops/s", shmkit.get(bench, per_second), peer,
                        shmkit.get(peer_bench, per_second)))
    return rows


def check_targets(shmkit: dict[str, Figure]) -> list[Target]:
    def latency(size: int) -> tuple[str, bool]:
        p50 = shmkit[f"BM_Channel_PingPong/{size}"].latency_ns
        return f"{p50:.0f} ns", p50 <= 200.0

    def throughput() -> tuple[str, bool]:
        rate = shmkit[THROUGHPUT].items_per_second
        return f"{rate / 1e6:.2f} M samples/s", rate >= 10e6

    def fan_out() -> tuple[str, bool]:
        large = shmkit[f"{FAN_OUT}/{LARGE}"].items_per_second
        small = shmkit[f"{FAN_OUT}/{64 << 10}"].items_per_second
        return f"{large / 1e3:.1f} k frames/s of 4 MiB = {large / small:.0%} of the 64 KiB rate (medians)", \
            large >= FAN_OUT_SAME_RATE * small

    return [
        target(f"one-way latency of 64 B samples <= 200 ns p50 {RESTED}", lambda: latency(SMALL)),
        target(f"one-way latency of 4 MiB samples <= 200 ns p50 {RESTED}", lambda: latency(LARGE)),
        target(">= 10 M samples/s of 64 B to one subscriber", throughput),
        target(f"1 publisher -> 4 subscribers of 4 MiB frames, rate independent of size "
               f"(>= {FAN_OUT_SAME_RATE:.0%} of the 64 KiB rate)", fan_out),
    ]


def missing_prerequisites(build_dir: Path) -> list[str]:
    return [f"{build_dir / binary} (its rows stay empty): run scripts/build"
            for binary in (BINARY, ARRAY_BINARY) if not (build_dir / binary).exists()]


def collect(build_dir: Path, repetitions: int = 5, quick: bool = False) -> Comparison:
    """Runs the channel benchmarks and the array ping-pong; a part that cannot run leaves its rows empty."""
    min_time = 0.05 if quick else 0.5
    repetitions = 2 if quick else repetitions
    fan_out_runs = 3 if quick else FAN_OUT_RUNS
    shmkit = Source.measure(
        str(build_dir / BINARY), lambda: {
            **run_program(build_dir / BINARY, repetitions, min_time, f"-{FAN_OUT}"),
            **run_fan_out(build_dir / BINARY, fan_out_runs, min(min_time, 0.3)),
        })
    array = Source.measure(str(build_dir / ARRAY_BINARY),
                           lambda: run_program(build_dir / ARRAY_BINARY, repetitions, min_time, ARRAY_LATENCY))
    return Comparison(
        section="channel",
        peer=PEER,
        rows=rows_from(shmkit, array),
        targets=check_targets(shmkit.values),
        raw={
            "shmkit": {name: asdict(figure) for name, figure in shmkit.values.items()},
            "array": {name: asdict(figure) for name, figure in array.values.items()},
            "errors": {s.label: s.error for s in (shmkit, array) if s.error},
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path("build"), help="Meson build directory (default: build)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every raw figure to OUT")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions of each benchmark (default: 5)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier figures)")
    args = parser.parse_args(argv)

    return print_alone(lambda: collect(args.build_dir, args.repetitions, args.quick), args.json)


if __name__ == "__main__":
    sys.exit(main())
