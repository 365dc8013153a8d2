"""Pieces shared by the comparison scripts and the report (bench/compare/report.py).

Each comparison script (array_compare.py, logger_compare.py, store_compare.py)
has a `collect(...)` that measures shmkit and its peer on this machine and
returns a `Comparison`: a list of `Row`s (one operation, shmkit's figure, the
peer's figure, what the figure measures), the targets it checks, and the raw
figures. The scripts print their own Comparison; the report runs all of them
and prints, saves and plots the rows, so a row added to a script shows up in
the report without changes there.

A figure that cannot be measured (a program not built, a peer not installed,
a run that crashed) is None, and its row's `note` says why and what to do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

INSTALL_HINT = "scripts/install-deps --bench"
NOT_MEASURED = "not measured"

_TIME_UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Units of a rate: more is better. Every other unit is a time: less is better.
RATE_UNITS = ("GB/s", "MB/s", "entries/s", "ops/s")

# Parts of a Google Benchmark run name that tell how it was timed, not what
# it measures; dropped so scripts name benchmarks as the source does.
_TIMING_PARTS = re.compile(r"^(real_time|manual_time|process_time|iterations:\d+|min_time:[\d.]+s?|repeats:\d+)$")


class Unavailable(Exception):
    """A figure cannot be measured on this machine; the message says why and how to fix it."""


# ---------------------------------------------------------------------------
# Google Benchmark output


@dataclass
class Figure:
    """One Google Benchmark, the best of its repetitions (lowest p50 where it has one, else lowest time)."""

    ns: float  # real time per iteration
    p50_ns: float | None = None  # counters of benchmarks that time each operation alone
    p99_ns: float | None = None
    bytes_per_second: float | None = None
    items_per_second: float | None = None
    repetitions: list[float] = field(default_factory=list)  # ns of every repetition, in run order

    @property
    def latency_ns(self) -> float:
        """The per-operation latency to quote: the median where measured, else the mean."""
        return self.p50_ns if self.p50_ns is not None else self.ns

    @property
    def gb_per_second(self) -> float | None:
        return None if self.bytes_per_second is None else self.bytes_per_second / 1e9


def benchmark_key(run_name: str) -> str:
    """'BM_Store_Put64MiB/real_time' -> 'BM_Store_Put64MiB'; arguments ('bytes:64') stay."""
    parts = run_name.split("/")
    return "/".join([parts[0], *(p for p in parts[1:] if not _TIMING_PARTS.match(p))])


def parse_benchmark_json(text: str) -> tuple[dict[str, Figure], dict]:
    """Figures by benchmark_key and the context block of --benchmark_format=json output.

    Aggregate rows (mean, median, stddev) and runs that reported an error are
    skipped: the best single repetition is the least disturbed one.
    """
    report = json.loads(text)
    figures: dict[str, Figure] = {}
    for entry in report.get("benchmarks", []):
        if entry.get("run_type", "iteration") != "iteration" or entry.get("error_occurred"):
            continue
        key = benchmark_key(entry.get("run_name", entry["name"]))
        ns = float(entry["real_time"]) * _TIME_UNITS_NS[entry.get("time_unit", "ns")]
        candidate = Figure(
            ns=ns,
            p50_ns=_optional(entry.get("p50_ns")),
            p99_ns=_optional(entry.get("p99_ns")),
            bytes_per_second=_optional(entry.get("bytes_per_second")),
            items_per_second=_optional(entry.get("items_per_second")),
        )
        best = figures.get(key)
        history = (best.repetitions if best else []) + [ns]
        if best is None or candidate.latency_ns < best.latency_ns:
            best = candidate
        best.repetitions = history
        figures[key] = best
    return figures, report.get("context", {})


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def run_benchmark(binary: Path, repetitions: int, min_time: float) -> tuple[dict[str, Figure], dict]:
    """Runs one Google Benchmark program; figures and context as parse_benchmark_json."""
    if not binary.exists():
        raise Unavailable(f"{binary} is not built: run scripts/build")
    command = [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
               f"--benchmark_min_time={min_time}"]
    progress(f"running {' '.join(command)}")
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{binary.name} exited with {completed.returncode}: {completed.stderr.strip()[-300:]}")
    return parse_benchmark_json(completed.stdout)


# ---------------------------------------------------------------------------
# Rows


@dataclass
class Source:
    """The figures of one program or peer, or the reason there are none."""

    label: str  # names the program in notes: "build/bench/store_store_bench", "Redis"
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def measure(cls, label: str, run: Callable[[], dict[str, Any]]) -> Source:
        """Calls run() for the figures; a failure becomes the error every row from this source shows."""
        try:
            return cls(label, run())
        except Unavailable as e:
            return cls(label, error=str(e))
        except Exception as e:  # a crashed peer costs its rows, not the whole comparison
            return cls(label, error=f"{label} failed: {type(e).__name__}: {e}")

    def get(self, key: str, pick: Callable[[Any], float | None] = lambda v: v) -> tuple[float | None, str]:
        """(value, "") or (None, why it is missing)."""
        if self.error is not None:
            return None, self.error
        if key not in self.values:
            return None, f"{self.label} has no figure {key}"
        value = pick(self.values[key])
        if value is None:
            return None, f"{self.label}: {key} does not report this figure"
        return float(value), ""


@dataclass
class Row:
    section: str  # "array", "logger", "store"
    operation: str  # what shmkit does
    measures: str  # what the figure is (and how the two sides differ, where they do)
    unit: str  # "ns" (less is better) or one of RATE_UNITS (more is better)
    shmkit: float | None
    peer: str  # what the peer does
    peer_value: float | None
    note: str = ""  # why a figure is missing

    @property
    def ratio(self) -> float | None:
        """How many times faster shmkit is than the peer (< 1: slower)."""
        if not self.shmkit or not self.peer_value:
            return None
        if self.unit in RATE_UNITS:
            return self.shmkit / self.peer_value
        return self.peer_value / self.shmkit

    def to_json(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def row(section: str, operation: str, measures: str, unit: str, ours: tuple[float | None, str], peer: str,
        theirs: tuple[float | None, str]) -> Row:
    """A Row from two Source.get results; their reasons for missing figures become the note."""
    (shmkit, why_ours), (peer_value, why_theirs) = ours, theirs
    note = "; ".join(dict.fromkeys(reason for reason in (why_ours, why_theirs) if reason))
    return Row(section, operation, measures, unit, shmkit, peer, peer_value, note)


@dataclass
class Target:
    text: str
    measured: str
    passed: bool | None  # None: not measured, or shown for information only


def target(text: str, check: Callable[[], tuple[str, bool | None]]) -> Target:
    """A Target from check() -> (measured, passed); a missing figure makes it 'not measured'."""
    try:
        measured, passed = check()
    except (KeyError, TypeError, ZeroDivisionError, AttributeError):
        return Target(text, NOT_MEASURED, None)
    return Target(text, measured, passed)


@dataclass
class Comparison:
    section: str
    peer: str  # the peer in one line, for headings
    rows: list[Row]
    targets: list[Target] = field(default_factory=list)
    raw: dict = field(default_factory=dict)  # every figure measured, JSON-serialisable

    def to_json(self) -> dict:
        return {
            "section": self.section,
            "peer": self.peer,
            "rows": [r.to_json() for r in self.rows],
            "targets": [asdict(t) for t in self.targets],
            "raw": self.raw,
        }


def failed_comparison(section: str, error: BaseException) -> Comparison:
    """What the report shows for a script whose collect() itself crashed."""
    reason = f"the {section} comparison failed: {type(error).__name__}: {error}"
    return Comparison(section, "", [Row(section, f"({section} comparison)", "", "ns", None, "", None, reason)])


# ---------------------------------------------------------------------------
# Printing


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns":
        if value < 10:
            return f"{value:.2f} ns"
        if value < 1000:
            return f"{value:.1f} ns"
        if value < 1e6:
            return f"{value / 1e3:.2f} us"
        return f"{value / 1e6:.2f} ms"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M {unit}"
    if value >= 1e4:
        return f"{value / 1e3:.1f} k {unit}"
    return f"{value:.2f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x"


def table_lines(rows: list[Row]) -> list[str]:
    """The rows as an aligned text table; notes follow a row whose figures are missing."""
    headers = ("operation", "shmkit", "peer", "peer figure", "ratio", "figure")
    cells = [(r.operation, format_value(r.shmkit, r.unit), r.peer, format_value(r.peer_value, r.unit),
              format_ratio(r.ratio), r.measures) for r in rows]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
    right = {1, 3, 4}

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    out = [line(headers).rstrip(), "  ".join("-" * w for w in widths)]
    for r, values in zip(rows, cells):
        out.append(line(values).rstrip())
        if r.note:
            out.append(f"    not measured: {r.note}")
    return out


def markdown_lines(comparisons: list[Comparison], machine: dict) -> list[str]:
    """Every row as one Markdown table, the reasons for missing figures in the last column."""
    out = [f"Machine: {machine_line(machine)}.", "",
           "| operation | shmkit | peer | peer figure | ratio | what the figure measures |",
           "|---|--:|---|--:|--:|---|"]
    for c in comparisons:
        for r in c.rows:
            measures = f"{r.measures} (not measured: {r.note})" if r.note else r.measures
            cells = [f"{r.section}: {r.operation}", format_value(r.shmkit, r.unit), r.peer,
                     format_value(r.peer_value, r.unit), format_ratio(r.ratio), measures]
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return out


def verdict(t: Target) -> str:
    if t.passed is None:
        return "n/a " if t.measured == NOT_MEASURED else "info"
    return "PASS" if t.passed else "MISS"


def print_comparison(comparisons: list[Comparison], machine: dict, file: TextIO = sys.stdout) -> None:
    print(f"machine: {machine_line(machine)}", file=file)
    print("ratio: how many times faster shmkit is than the peer (peer time / shmkit time, "
          "or shmkit rate / peer rate); every figure is the best of the repetitions", file=file)
    for comparison in comparisons:
        print(file=file)
        print(f"{comparison.section}: next to {comparison.peer}" if comparison.peer else comparison.section,
              file=file)
        for text in table_lines(comparison.rows):
            print(f"  {text}", file=file)
    targets = [(c.section, t) for c in comparisons for t in c.targets]
    if targets:
        print(file=file)
        print("targets:", file=file)
        for section, t in targets:
            print(f"  {verdict(t)}  {section}: {t.text}: {t.measured}", file=file)


def progress(message: str) -> None:
    print(message + " ...", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The machine


def _version(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v=([\d.]+)|(\d+\.\d+(?:\.\d+)?)", out)
    return next(g for g in match.groups() if g) if match else out.strip() or None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_mhz() -> float | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return round(float(line.split(":", 1)[1]))
    except (OSError, ValueError):
        pass
    return None


def _package_version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def describe_machine() -> dict:
    """The machine and the peers' versions; load_average_end is filled in by finish_machine()."""
    return {
        "cpu": _cpu_model(),
        "cpu_mhz": _cpu_mhz(),
        "cores": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "load_average_end": None,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": _package_version("numpy"),
        "matplotlib": _package_version("matplotlib"),
        "redis": _version(["redis-server", "--version"]),
        "compiler": _version(["c++", "--version"]),
    }


def finish_machine(machine: dict) -> dict:
    machine["load_average_end"] = list(os.getloadavg())
    return machine


def machine_line(machine: dict) -> str:
    def load(key: str) -> str:
        return " ".join(f"{x:.2f}" for x in machine[key]) if machine.get(key) else "?"

    versions = ", ".join(f"{name} {machine[name]}" for name in ("python", "numpy", "redis") if machine.get(name))
    mhz = f" at {machine['cpu_mhz']} MHz" if machine.get("cpu_mhz") else ""
    return (f"{machine['cpu']}{mhz}, {machine['cores']} cores, {machine['kernel']}; load average "
            f"{load('load_average_start')} at start, {load('load_average_end')} at end; {versions}")


def document(comparisons: list[Comparison], machine: dict, **extra: Any) -> dict:
    """What --json writes: the machine, then every comparison's rows, targets and raw figures."""
    return {"machine": machine, **extra, "comparisons": [c.to_json() for c in comparisons]}


def write_json(path: Path, comparisons: list[Comparison], machine: dict, **extra: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document(comparisons, machine, **extra), indent=1) + "\n")


def print_alone(measure: Callable[[], Comparison], json_path: Path | None) -> int:
    """What each comparison script does when run on its own: describe the
    machine around `measure()`, print its table and targets, and write the
    raw figures to `json_path` when given."""
    machine = describe_machine()
    comparison = measure()
    finish_machine(machine)
    print_comparison([comparison], machine)
    if json_path:
        write_json(json_path, [comparison], machine)
        print(f"\nraw figures written to {json_path}")
    return 0


@contextmanager
def redis_server(tcp: bool = False) -> Iterator[str | int]:
    """A private redis-server without persistence in a temporary directory,
    stopped at exit: on an owner-only Unix socket (yields its path) or, with
    `tcp`, on a free 127.0.0.1 port (yields the port). Raises Unavailable
    when redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable(f"redis-server is not installed: run {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="shmkit-compare-redis-") as tmp:
        if tcp:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            address: str | int = port
            listen = ["--bind", "127.0.0.1", "--port", str(port)]
        else:
            address = os.path.join(tmp, "redis.sock")
            listen = ["--port", "0", "--unixsocket", address, "--unixsocketperm", "700"]
        server = subprocess.Popen([binary, *listen, "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if tcp:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    else:
                        with socket.socket(socket.AF_UNIX) as client:
                            client.connect(address)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.01)  # waiting for an external program to accept connections
            yield address
        finally:
            server.terminate()
            server.wait(timeout=30)


def standard_main(doc: str, collect: Callable[[Path, bool], Comparison],
                  quick_help: str = "short runs (smoke test)") -> int:
    """main() of a comparison script whose collect takes (build_dir, quick)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=Path("build"))
    parser.add_argument("--json", type=Path, help="write every raw figure here")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    return print_alone(lambda: collect(args.build_dir, args.quick), args.json)
