#!/usr/bin/env python3
"""shmkit from Python next to what Python programs use instead, in one run.

Usage (from the repository root, after `scripts/build`):

    /usr/bin/python3 bench/compare/python_compare.py [--build-dir build] [--json OUT] [--quick]

Everything runs in this interpreter with the extension of BUILD_DIR/python
(`import shmkit`). Each operation is timed call by call with
time.perf_counter_ns (the ~50 ns of the timer pair is in every figure, on
both sides), and each row puts shmkit next to its peer measured in the same
run:

- LogWriter.log of a 100 B payload (p50, p99.9) and the end-to-end rate
  (first log to DataLogger.stop() returning, everything saved), next to
  numpy.save of one .npy per entry, which is what ataraxis' saver does for
  each entry (its queue and pickling come on top of that and are not counted);
- Brain get of a float and of a 4 MiB array, Brain set of a float, against
  `shmkit store` in its own process (BUILD_DIR/src/cli/shmkit; the set also
  with --spin-us 0, for machines with more busy processes than cores), next
  to redis-py GET/SET over a Unix socket of a private redis-server (the
  array as 4 MiB of bytes) and multiprocessing.Manager().dict();
- a SharedArray element write under its lock, next to a numpy array in
  multiprocessing.shared_memory written under a multiprocessing.Lock.

Then the targets, each PASS or MISS. A peer that is not installed
(python3-redis, redis-server: scripts/install-deps --bench) leaves its rows
empty with the reason. bench/compare/report.py runs this with the others.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import shared_memory
from pathlib import Path
from typing import Callable

from compare_common import (Comparison, INSTALL_HINT, Source, Unavailable, redis_server, standard_main, progress, row, target)

PEER = "numpy.save per entry, redis-py over a Unix socket, Manager().dict(), numpy + multiprocessing.Lock"
ARRAY_BYTES = 4 << 20


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def timed(op: Callable[[int], object], count: int, warmup: int = 100) -> dict[str, float]:
    """p50 and p99.9 in ns of op(i), timed one call at a time."""
    for i in range(warmup):
        op(i)
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        start = clock()
        op(i)
        samples[i] = clock() - start
    return {"p50": percentile(samples, 0.5), "p999": percentile(samples, 0.999)}


def import_shmkit(build_dir: Path):
    path = str((build_dir / "python").resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        import shmkit
    except ImportError as e:
        raise Unavailable(f"cannot import shmkit from {path} ({e}): run scripts/build") from None
    return shmkit


def measure_logger(build_dir: Path, count: int) -> dict[str, float]:
    shmkit = import_shmkit(build_dir)
    import numpy as np

    payload = np.arange(100, dtype=np.uint8)
    instance = f"pycompare-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="shmkit-pycompare-") as out:
        logger = shmkit.DataLogger(out, instance, ring_bytes=16 << 20, fsync="none")
        try:
            logger.start()
            with shmkit.LogWriter.connect(instance, policy="block") as writer:
                latency = timed(lambda i: writer.log(1, payload, i + 1), count)
                lost = writer.dropped
            # End to end: a fresh batch, from the first log until everything is on disk.
            with shmkit.LogWriter.connect(instance, policy="block") as writer:
                start = time.perf_counter()
                for i in range(count):
                    writer.log(2, payload, i + 1)
                lost += writer.dropped
            stats = logger.stop()
            seconds = time.perf_counter() - start
        finally:
            logger.close()
            shmkit.DataLogger.remove_segment(instance)
    if lost or stats["dropped"]:
        raise RuntimeError(f"the logger dropped {lost} entries; the figures would flatter it")
    return {"log_p50": latency["p50"], "log_p999": latency["p999"], "log_rate": count / seconds}


def measure_npy(count: int) -> dict[str, float]:
    import numpy as np

    payload = np.arange(100, dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="shmkit-pycompare-npy-") as out:
        directory = Path(out)

        def save(i: int) -> None:
            # ataraxis' entry: [source u8][time u64][payload] in {source:03d}_{time:020d}.npy
            entry = np.concatenate([np.frombuffer(bytes([1]) + (i + 1).to_bytes(8, "little"), np.uint8), payload])
            np.save(directory / f"{1:03d}_{i + 1:020d}.npy", entry, allow_pickle=False)

        latency = timed(save, count, warmup=0)
        start = time.perf_counter()
        for i in range(count, 2 * count):
            save(i)
        os.sync()  # the logger's figure is to disk too (its stop() writes and closes the files)
        seconds = time.perf_counter() - start
    return {"log_p50": latency["p50"], "log_p999": latency["p999"], "log_rate": count / seconds}


SHMKIT_CLI = Path("src") / "cli" / "shmkit"


def measure_brain(build_dir: Path, count: int, spin_us: int = 100) -> dict[str, float]:
    """Brain against `shmkit store` in its own process, as a rig runs it (spin_us: its --spin-us)."""
    shmkit = import_shmkit(build_dir)
    import numpy as np

    if not (build_dir / SHMKIT_CLI).exists():
        raise Unavailable(f"{build_dir / SHMKIT_CLI} is not built: run scripts/build")
    with tempfile.TemporaryDirectory(prefix="shmkit-pycompare-store-") as tmp:
        sock = os.path.join(tmp, "store.sock")
        server = subprocess.Popen([str(build_dir / SHMKIT_CLI), "store", "-m", "64M", "-s", sock, "--spin-us",
                                   str(spin_us)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            brain = shmkit.Brain(sock, f"pycompare-{os.getpid()}", connect_timeout=20.0)  # waits for the server
            try:
                brain["rate"] = 30.0
                brain["frame"] = np.zeros(ARRAY_BYTES, dtype=np.uint8)
                if not isinstance(brain["frame"], np.ndarray) or brain["frame"].nbytes != ARRAY_BYTES:
                    raise RuntimeError("Brain did not give the 4 MiB array back")
                get_float = timed(lambda i: brain["rate"], count)
                get_array = timed(lambda i: brain["frame"], count)
                set_float = timed(lambda i: brain.__setitem__("rate", float(i)), count)
            finally:
                brain.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return {"get_float": get_float["p50"], "get_array": get_array["p50"], "set_float": set_float["p50"]}


def measure_redis(count: int) -> dict[str, float]:
    try:
        import redis
    except ImportError:
        raise Unavailable(f"redis-py (python3-redis) is not installed: run {INSTALL_HINT}") from None
    with redis_server() as sock:
        client = redis.Redis(unix_socket_path=sock)
        client.set("rate", repr(30.0))
        client.set("frame", bytes(ARRAY_BYTES))
        get_float = timed(lambda i: float(client.get("rate")), count)
        get_array = timed(lambda i: client.get("frame"), max(100, count // 20))
        set_float = timed(lambda i: client.set("rate", repr(float(i))), count)
        client.close()
    return {"get_float": get_float["p50"], "get_array": get_array["p50"], "set_float": set_float["p50"]}


def measure_manager(count: int) -> dict[str, float]:
    import numpy as np

    with multiprocessing.Manager() as manager:
        shared = manager.dict()
        shared["rate"] = 30.0
        shared["frame"] = np.zeros(ARRAY_BYTES, dtype=np.uint8)
        get_float = timed(lambda i: shared["rate"], count)
        get_array = timed(lambda i: shared["frame"], max(100, count // 20))
        set_float = timed(lambda i: shared.__setitem__("rate", float(i)), count)
    return {"get_float": get_float["p50"], "get_array": get_array["p50"], "set_float": set_float["p50"]}


def measure_locked_write(build_dir: Path, count: int) -> dict[str, float]:
    shmkit = import_shmkit(build_dir)
    import numpy as np

    name = f"pycompare-{os.getpid()}-array"
    shmkit.SharedArray.remove(name)
    array = shmkit.SharedArray.create(name, [1024], np.float64, unlink_on_close=True)
    try:
        view = array.array

        def write(i: int) -> None:
            with array.lock():
                view[i & 1023] = i

        ours = timed(write, count)
    finally:
        array.close()

    segment = shared_memory.SharedMemory(create=True, size=1024 * 8)
    try:
        theirs_view = np.ndarray((1024,), dtype=np.float64, buffer=segment.buf)
        lock = multiprocessing.Lock()

        def peer_write(i: int) -> None:
            with lock:
                theirs_view[i & 1023] = i

        theirs = timed(peer_write, count)
        del theirs_view
    finally:
        segment.close()
        segment.unlink()
    return {"ours": ours["p50"], "theirs": theirs["p50"]}


P50 = "median per call, from Python"
ROWS = [
    # operation, shmkit source and key, peer, peer source and key, what the figure is, unit
    ("LogWriter.log 100 B", "logger", "log_p50", "numpy.save one .npy per entry (ataraxis' saver)", "npy", "log_p50",
     P50, "ns"),
    ("LogWriter.log 100 B", "logger", "log_p999", "numpy.save one .npy per entry (ataraxis' saver)", "npy",
     "log_p999", "99.9th percentile per call", "ns"),
    ("log 100 B end to end (saved to disk)", "logger", "log_rate", "numpy.save one .npy per entry, then sync",
     "npy", "log_rate", "entries per second, one producer", "entries/s"),
    ("Brain get float", "brain", "get_float", "redis-py GET (Unix socket)", "redis", "get_float", P50, "ns"),
    ("Brain get float", "brain", "get_float", "Manager().dict() get", "manager", "get_float", P50, "ns"),
    ("Brain get 4 MiB array (zero-copy view)", "brain", "get_array", "redis-py GET 4 MiB bytes", "redis",
     "get_array", P50, "ns"),
    ("Brain get 4 MiB array (zero-copy view)", "brain", "get_array", "Manager().dict() get 4 MiB ndarray",
     "manager", "get_array", P50, "ns"),
    ("Brain set float", "brain", "set_float", "redis-py SET (Unix socket)", "redis", "set_float", P50, "ns"),
    ("Brain set float", "brain", "set_float", "Manager().dict() set", "manager", "set_float", P50, "ns"),
    ("Brain set float, store --spin-us 0", "brain_nospin", "set_float", "redis-py SET (Unix socket)", "redis",
     "set_float", P50, "ns"),
    ("SharedArray element write under its lock", "array", "ours", "numpy in shared_memory + multiprocessing.Lock",
     "array", "theirs", P50, "ns"),
]


def rows_from(sources: dict[str, Source]) -> list:
    return [row("python", op, measures, unit, sources[ours].get(our_key), peer, sources[theirs].get(their_key))
            for op, ours, our_key, peer, theirs, their_key, measures, unit in ROWS]


def missing_prerequisites(build_dir: Path) -> list[str]:
    missing = []
    if not (build_dir / "python" / "shmkit").is_dir():
        missing.append(f"{build_dir / 'python' / 'shmkit'} (no Python rows): run scripts/build")
    try:
        import redis  # noqa: F401
    except ImportError:
        missing.append(f"redis-py (no redis-py rows): run {INSTALL_HINT}")
    if shutil.which("redis-server") is None:
        missing.append(f"redis-server (no redis-py rows): run {INSTALL_HINT}")
    return missing


def collect(build_dir: Path, quick: bool = False) -> Comparison:
    count, log_count, npy_count = (2000, 20000, 1000) if quick else (50000, 200000, 20000)
    progress("measuring shmkit and its peers from Python")
    sources = {
        "logger": Source.measure("shmkit LogWriter", lambda: measure_logger(build_dir, log_count)),
        "npy": Source.measure("numpy.save", lambda: measure_npy(npy_count)),
        "brain": Source.measure("shmkit Brain", lambda: measure_brain(build_dir, count)),
        "brain_nospin": Source.measure("shmkit Brain (--spin-us 0)",
                                       lambda: measure_brain(build_dir, count // 5, spin_us=0)),
        "redis": Source.measure("redis-py", lambda: measure_redis(count)),
        "manager": Source.measure("Manager().dict()", lambda: measure_manager(count)),
        "array": Source.measure("shmkit SharedArray", lambda: measure_locked_write(build_dir, count)),
    }
    v = {name: s.values for name, s in sources.items()}

    def rate_ratio() -> tuple[str, bool]:
        ratio = v["logger"]["log_rate"] / v["npy"]["log_rate"]
        return f"{ratio:.0f}x", ratio >= 100

    targets = [
        target("LogWriter.log 100 B p50 <= 1 us", lambda: (f"{v['logger']['log_p50']:.0f} ns",
                                                           v["logger"]["log_p50"] <= 1000)),
        target("end-to-end log rate >= 100x one .npy per entry", rate_ratio),
        target("Brain get float p50 <= 2 us", lambda: (f"{v['brain']['get_float']:.0f} ns",
                                                       v["brain"]["get_float"] <= 2000)),
        target("Brain get 4 MiB p50 <= 2 us", lambda: (f"{v['brain']['get_array']:.0f} ns",
                                                       v["brain"]["get_array"] <= 2000)),
        target("Brain set float p50 <= 30 us", lambda: (f"{v['brain']['set_float']:.0f} ns",
                                                        v["brain"]["set_float"] <= 30000)),
        target("Brain set float p50 <= 30 us, store --spin-us 0",
               lambda: (f"{v['brain_nospin']['set_float']:.0f} ns", v["brain_nospin"]["set_float"] <= 30000)),
    ]
    return Comparison(section="python", peer=PEER, rows=rows_from(sources), targets=targets,
                      raw={"figures": v, "counts": {"calls": count, "log": log_count, "npy": npy_count},
                           "errors": {s.label: s.error for s in sources.values() if s.error}})


def main() -> int:
    return standard_main(__doc__, collect)


if __name__ == "__main__":
    sys.exit(main())
