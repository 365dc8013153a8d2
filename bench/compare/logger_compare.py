#!/usr/bin/env python3
"""shmkit's logger next to what ataraxis users do today (numpy), on this machine.

Usage (from the repository root, after `ninja -C build`):

    /usr/bin/python3 bench/compare/logger_compare.py [--build-dir build]
        [--entries N] [--size BYTES] [--repetitions R] [--json OUT]

In one run it measures:

1. `shmkit log bench` (real producer processes, end to end until the record
   files are written): 2 producers x 2,000,000 entries of 64 bytes into a log
   directory on /dev/shm and on /tmp, and 2 x 512 frames of 1 MiB on
   /dev/shm. Producer-side log() latency percentiles come from the same runs.
2. Assembly of N entries of BYTES payload (default 100,000 x 256 B, logged by
   `shmkit log bench`) with `shmkit log assemble` stored and `--compress 6`.
3. numpy with this interpreter on the same number of entries of the same size
   and bytes: `np.save` of one file per entry (what ataraxis' logger does
   while logging), and `np.savez` / `np.savez_compressed` of all entries (what
   its assembly does).

Entry rates count archive members; MB/s counts the bytes of the .npy members
(128-byte header + 9-byte prefix + payload), the same for both sides. numpy
member names use a running index as the time, shmkit's the producers' µs
clock; member count and sizes are identical. Figures are the best of R runs.
The script exits 0 unless a command fails; targets are printed PASS/MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NPY_HEADER = 128
PREFIX = 9


def run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if not match:
        sys.exit(f"cannot find /{pattern}/ in:\n{text}")
    return float(match.group(1))


def log_bench(shmkit: str, out: Path, instance: str, producers: int, entries: int, size: int,
              ring: int = 4 << 20) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    text = run([shmkit, "log", "bench", "--instance", instance, "--out", str(out), "--producers", str(producers),
                "--entries", str(entries), "--size", str(size), "--ring-bytes", str(ring), "--fsync", "none"])
    return {
        "entries_per_s": number(r"throughput: (\d+) entries/s", text),
        "mb_per_s": number(r"entries/s, ([\d.]+) MB/s", text),
        "p50_ns": number(r"p50 (\d+) ns", text),
        "p99_ns": number(r"p99 (\d+) ns", text),
        "p999_ns": number(r"p99\.9 (\d+) ns", text),
        "dropped": number(r"dropped: (\d+)", text),
        "log_dir": str(out / f"{instance}_data_log"),
    }


def assemble(shmkit: str, log_dir: str, level: int) -> float:
    args = [shmkit, "log", "assemble", log_dir, "--threads", "1"]
    if level:
        args += ["--compress", str(level)]
    text = run(args)
    return number(r"entries from \d+ sources in ([\d.e-]+) s", text)


def numpy_entries(count: int, size: int) -> list[np.ndarray]:
    # The payload pattern of `shmkit log bench` producer 0: byte i = i * 31.
    payload = bytes((i * 31) & 0xFF for i in range(size))
    return [np.frombuffer(bytes([1]) + t.to_bytes(8, "little") + payload, np.uint8) for t in range(count)]


def best(repetitions: int, fn):
    return min(fn() for _ in range(repetitions))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    shmkit = str(Path(args.build_dir) / "src" / "cli" / "shmkit")
    tag = f"cmp{os.getpid()}"
    shm = Path("/dev/shm") / f"shmkit-compare-{tag}"
    tmp = Path(tempfile.gettempdir()) / f"shmkit-compare-{tag}"
    results: dict = {}
    try:
        def bench(where: Path, producers, entries, size, ring=4 << 20):
            runs = [log_bench(shmkit, where, tag, producers, entries, size, ring) for _ in range(args.repetitions)]
            out = max(runs, key=lambda r: r["entries_per_s"])
            out["p50_ns"] = min(r["p50_ns"] for r in runs)
            out["p999_ns"] = min(r["p999_ns"] for r in runs)
            shutil.rmtree(where, ignore_errors=True)
            return out

        results["small_shm"] = bench(shm, 2, 2_000_000, 64)
        results["small_tmp"] = bench(tmp, 2, 2_000_000, 64)
        results["frames_shm"] = bench(shm, 2, 512, 1 << 20, ring=16 << 20)

        n, size = args.entries, args.size
        member_mb = n * (NPY_HEADER + PREFIX + size) / 1e6

        def shmkit_assembly(level: int) -> float:
            b = log_bench(shmkit, shm, tag, 1, n - 1, size)  # + the onset entry = n members
            seconds = assemble(shmkit, b["log_dir"], level)
            shutil.rmtree(shm, ignore_errors=True)
            return seconds

        results["assemble_stored_s"] = best(args.repetitions, lambda: shmkit_assembly(0))
        results["assemble_deflate_s"] = best(args.repetitions, lambda: shmkit_assembly(6))

        entries = numpy_entries(n, size)
        arrays = {f"001_{t:020d}": a for t, a in enumerate(entries)}
        tmp.mkdir(parents=True, exist_ok=True)

        def per_entry_save() -> float:
            d = tmp / "npy"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            s = timed(lambda: [np.save(d / f"{name}.npy", a, allow_pickle=False) for name, a in arrays.items()])
            shutil.rmtree(d, ignore_errors=True)
            return s

        results["np_save_per_entry_s"] = best(args.repetitions, per_entry_save)
        results["np_savez_s"] = best(args.repetitions, lambda: timed(lambda: np.savez(tmp / "a.npz", **arrays)))
        results["np_savez_compressed_s"] = best(
            args.repetitions, lambda: timed(lambda: np.savez_compressed(tmp / "c.npz", **arrays)))
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    r = results
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print("logging (shmkit log bench, 2 producer processes, end to end into record files)")
    for key, label in (("small_shm", "64 B entries -> /dev/shm"), ("small_tmp", "64 B entries -> /tmp"),
                       ("frames_shm", "1 MiB frames -> /dev/shm")):
        b = r[key]
        print(f"  {label:26s} {b['entries_per_s']:>12,.0f} entries/s {b['mb_per_s']:>9,.1f} MB/s  "
              f"log() p50 {b['p50_ns']:.0f} ns, p99 {b['p99_ns']:.0f} ns, p99.9 {b['p999_ns']:.0f} ns, "
              f"dropped {b['dropped']:.0f}")
    n = args.entries
    np_rate = n / r["np_save_per_entry_s"]
    print(f"  numpy np.save per entry     {np_rate:>12,.0f} entries/s  "
          f"(shmkit 64 B to /tmp is {r['small_tmp']['entries_per_s'] / np_rate:,.0f}x)")
    print()
    print(f"assembly of {n:,} entries of {args.size} B ({member_mb:.1f} MB of .npy members)")
    rows = [("shmkit assemble, stored", r["assemble_stored_s"]), ("numpy np.savez", r["np_savez_s"]),
            ("shmkit assemble --compress 6", r["assemble_deflate_s"]),
            ("numpy np.savez_compressed", r["np_savez_compressed_s"])]
    for label, seconds in rows:
        print(f"  {label:30s} {seconds:8.3f} s {n / seconds:>12,.0f} entries/s {member_mb / seconds:>9,.1f} MB/s")
    stored_ratio = r["np_savez_s"] / r["assemble_stored_s"]
    deflate_ratio = r["np_savez_compressed_s"] / r["assemble_deflate_s"]
    print(f"  ratio stored (shmkit / numpy throughput):     {stored_ratio:.1f}x")
    print(f"  ratio compressed (shmkit / numpy throughput): {deflate_ratio:.1f}x")
    print()
    targets = [
        ("log() p50 <= 100 ns (64 B)", r["small_shm"]["p50_ns"] <= 100),
        ("log() p99.9 <= 2 us (64 B)", r["small_shm"]["p999_ns"] <= 2000),
        (">= 2 M entries/s, 64 B, /dev/shm", r["small_shm"]["entries_per_s"] >= 2e6),
        (">= 2 M entries/s, 64 B, /tmp", r["small_tmp"]["entries_per_s"] >= 2e6),
        (">= 1 GB/s, 1 MiB frames, /dev/shm", r["frames_shm"]["mb_per_s"] >= 1000),
        ("stored assembly >= 300k entries/s", n / r["assemble_stored_s"] >= 300_000),
        ("compressed assembly >= 3x numpy MB/s", deflate_ratio >= 3),
    ]
    print("targets")
    for label, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {label}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
