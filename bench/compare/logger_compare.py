#!/usr/bin/env python3
"""shmkit's logger next to what ataraxis users do today (numpy), on this machine.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/logger_compare.py [--build-dir build]
        [--entries N] [--size BYTES] [--repetitions R] [--quick] [--json OUT]

In one run it measures:

1. `shmkit log bench` (real producer processes, end to end until the record
   files are written): 2 producers x 2,000,000 entries of 64 bytes into a log
   directory on /dev/shm and on /tmp, and 2 x 512 frames of 1 MiB on
   /dev/shm. Producer-side log() latency percentiles come from the same runs.
2. Assembly of N entries of BYTES payload (default 100,000 x 256 B, logged by
   `shmkit log bench`) with `shmkit log assemble` stored and `--compress 6`.
3. numpy with this interpreter: `np.save` of one file per entry to /tmp (N
   entries of 64 B, what ataraxis' logger does while logging), and `np.savez`
   / `np.savez_compressed` of the N entries of BYTES (what its assembly does).

Entry rates count archive members; the raw MB/s counts the bytes of the .npy
members (128-byte header + 9-byte prefix + payload), the same for both
sides. numpy member names use a running index as the time, shmkit's the
producers' us clock; member count and sizes are identical. Figures are the
best of R runs. The script exits 0 unless it is used wrongly; targets are
printed PASS/MISS, and a part that cannot run leaves its rows empty with the
reason. bench/compare/report.py runs this with the other comparisons.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from compare_common import (Comparison, Source, Unavailable, print_alone, progress, row, target)

NPY_HEADER = 128
PREFIX = 9
CLI = Path("src") / "cli" / "shmkit"
PEER = "numpy np.save per entry, np.savez / np.savez_compressed (what ataraxis does)"


def run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}: {(proc.stdout + proc.stderr)[-300:]}")
    return proc.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if not match:
        raise RuntimeError(f"cannot find /{pattern}/ in: {text[-300:]}")
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


def missing_prerequisites(build_dir: Path) -> list[str]:
    cli = build_dir / CLI
    return [] if cli.exists() else [f"{cli} (its rows stay empty): run scripts/build"]


def collect(build_dir: Path, entries: int = 100_000, size: int = 256, repetitions: int = 1,
            quick: bool = False) -> Comparison:
    """Runs `shmkit log bench`, `shmkit log assemble` and the numpy peers."""
    shmkit = str(build_dir / CLI)
    if quick:
        entries = min(entries, 10_000)
    small, frames = (200_000, 64) if quick else (2_000_000, 512)
    tag = f"cmp{os.getpid()}"
    shm = Path("/dev/shm") / f"shmkit-compare-{tag}"
    tmp = Path(tempfile.gettempdir()) / f"shmkit-compare-{tag}"

    def require_cli() -> None:
        if not Path(shmkit).exists():
            raise Unavailable(f"{shmkit} is not built: run scripts/build")

    def bench(where: Path, producers: int, count: int, payload: int, ring: int = 4 << 20) -> dict:
        runs = [log_bench(shmkit, where, tag, producers, count, payload, ring) for _ in range(repetitions)]
        out = max(runs, key=lambda r: r["entries_per_s"])
        out["p50_ns"] = min(r["p50_ns"] for r in runs)
        out["p999_ns"] = min(r["p999_ns"] for r in runs)
        del out["log_dir"]
        shutil.rmtree(where, ignore_errors=True)
        return out

    def logging() -> dict:
        require_cli()
        progress("running shmkit log bench")
        return {
            "small_shm": bench(shm, 2, small, 64),
            "small_tmp": bench(tmp, 2, small, 64),
            "frames_shm": bench(shm, 2, frames, 1 << 20, ring=16 << 20),
        }

    def shmkit_assembly(level: int) -> float:
        b = log_bench(shmkit, shm, tag, 1, entries - 1, size)  # + the onset entry = `entries` members
        seconds = assemble(shmkit, b["log_dir"], level)
        shutil.rmtree(shm, ignore_errors=True)
        return seconds

    def assembly() -> dict:
        require_cli()
        progress("running shmkit log assemble")
        return {"stored_s": best(repetitions, lambda: shmkit_assembly(0)),
                "deflate_s": best(repetitions, lambda: shmkit_assembly(6))}

    def numpy_peers() -> dict:
        progress("running the numpy peers")
        tmp.mkdir(parents=True, exist_ok=True)
        small_arrays = {f"001_{t:020d}": a for t, a in enumerate(numpy_entries(entries, 64))}
        arrays = {f"001_{t:020d}": a for t, a in enumerate(numpy_entries(entries, size))}

        def per_entry_save() -> float:
            d = tmp / "npy"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            s = timed(lambda: [np.save(d / f"{name}.npy", a, allow_pickle=False) for name, a in small_arrays.items()])
            shutil.rmtree(d, ignore_errors=True)
            return s

        return {
            "np_save_per_entry_s": best(repetitions, per_entry_save),
            "np_savez_s": best(repetitions, lambda: timed(lambda: np.savez(tmp / "a.npz", **arrays))),
            "np_savez_compressed_s": best(
                repetitions, lambda: timed(lambda: np.savez_compressed(tmp / "c.npz", **arrays))),
        }

    try:
        logged = Source.measure("shmkit log bench", logging)
        assembled = Source.measure("shmkit log assemble", assembly)
        numpy = Source.measure("numpy", numpy_peers)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    def rate(count: int):
        return lambda seconds: count / seconds

    member = f"{entries:,} entries of {size} B into one .npz"
    rows = [
        row("logger", "log 64 B entries, 2 producers -> /tmp", "entries/s written to files, end to end; "
            f"numpy: one process, {entries:,} entries", "entries/s",
            logged.get("small_tmp", lambda b: b["entries_per_s"]), "np.save, one file per entry",
            numpy.get("np_save_per_entry_s", rate(entries))),
        row("logger", "assemble, stored", f"entries/s assembled, {member}", "entries/s",
            assembled.get("stored_s", rate(entries)), "np.savez", numpy.get("np_savez_s", rate(entries))),
        row("logger", "assemble, deflate level 6", f"entries/s assembled, {member}", "entries/s",
            assembled.get("deflate_s", rate(entries)), "np.savez_compressed",
            numpy.get("np_savez_compressed_s", rate(entries))),
    ]
    b, a, n = logged.values, assembled.values, numpy.values
    targets = [
        target("log() p50 <= 100 ns (64 B)", lambda: (f"{b['small_shm']['p50_ns']:.0f} ns",
                                                       b["small_shm"]["p50_ns"] <= 100)),
        target("log() p99.9 <= 2 us (64 B)", lambda: (f"{b['small_shm']['p999_ns']:.0f} ns",
                                                       b["small_shm"]["p999_ns"] <= 2000)),
        target(">= 2 M entries/s, 64 B, /dev/shm", lambda: (f"{b['small_shm']['entries_per_s'] / 1e6:.2f} M/s",
                                                             b["small_shm"]["entries_per_s"] >= 2e6)),
        target(">= 2 M entries/s, 64 B, /tmp", lambda: (f"{b['small_tmp']['entries_per_s'] / 1e6:.2f} M/s",
                                                         b["small_tmp"]["entries_per_s"] >= 2e6)),
        target(">= 1 GB/s, 1 MiB frames, /dev/shm", lambda: (f"{b['frames_shm']['mb_per_s']:.0f} MB/s",
                                                              b["frames_shm"]["mb_per_s"] >= 1000)),
        target("no entry dropped", lambda: (f"{sum(x['dropped'] for x in b.values()):.0f} dropped",
                                            all(x["dropped"] == 0 for x in b.values()))),
        target("stored assembly >= 300k entries/s", lambda: (f"{entries / a['stored_s'] / 1e3:.0f}k/s",
                                                             entries / a["stored_s"] >= 300_000)),
        target("compressed assembly >= 3x numpy MB/s",
               lambda: (f"{n['np_savez_compressed_s'] / a['deflate_s']:.1f}x",
                        n["np_savez_compressed_s"] / a["deflate_s"] >= 3)),
    ]
    member_mb = entries * (NPY_HEADER + PREFIX + size) / 1e6
    return Comparison(
        section="logger",
        peer=PEER,
        rows=rows,
        targets=targets,
        raw={"entries": entries, "size": size, "member_mb": member_mb, "log_bench": b, "assembly": a, "numpy": n,
             "errors": {s.label: s.error for s in (logged, assembled, numpy) if s.error}},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path("build"))
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer entries (a smoke run, noisier figures)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every raw figure to OUT")
    args = parser.parse_args()
    return print_alone(lambda: collect(args.build_dir, args.entries, args.size, args.repetitions, args.quick), args.json)


if __name__ == "__main__":
    sys.exit(main())
