#!/usr/bin/env python3
"""The performance report: every shmkit comparison, in one run on this machine.

Usage (from the repository root):

    scripts/build && /usr/bin/python3 bench/compare/report.py [--build-dir build] [--out DIR]
        [--only array,channel,logger,store,python,bridge] [--quick] [--install-deps]

It runs the comparison scripts in this folder one after another (SECTIONS:
array_compare.py, channel_compare.py, logger_compare.py, store_compare.py,
python_compare.py, bridge_compare.py;
each also runs on its own) and

- prints one table: operation, shmkit's figure, the peer, the peer's figure,
  the ratio (how many times faster shmkit is) and what the figure measures,
  then every script's targets;
- writes DIR/performance.json (default DIR: BUILD_DIR/performance): the
  machine (CPU, cores, kernel, load average at start and end, versions of
  Python, numpy, Redis), every row and every raw figure;
- writes DIR/performance.md, the table in Markdown (for the README), and
  DIR/performance.png, the rows as bars (needs matplotlib).

The rows come from the scripts' collect() functions as they are, so a row
added to a script appears here. A peer that cannot run (not installed, not
built, crashed) leaves its rows empty with the reason; missing prerequisites
are listed first with the command that installs them (scripts/install-deps
--bench, which --install-deps runs). Exits 0 when the report was written,
also when some rows are empty; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from compare_common import (INSTALL_HINT, Comparison, describe_machine, failed_comparison, finish_machine,
                            markdown_lines, print_comparison, write_json)

ROOT = Path(__file__).resolve().parents[2]

# Section name -> the module whose collect(build_dir, quick=...) measures it.
SECTIONS = {"array": "array_compare", "channel": "channel_compare", "logger": "logger_compare",
            "store": "store_compare", "python": "python_compare", "bridge": "bridge_compare"}


def missing_prerequisites(build_dir: Path, sections: list[str]) -> list[str]:
    """What this machine lacks for a complete report, each with what to do (the scripts know their own)."""
    missing = []
    for module in ("numpy", "matplotlib"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f"{module} for {sys.executable} (no {'plot' if module == 'matplotlib' else 'numpy rows'}):"
                           f" run {INSTALL_HINT}")
    for section in sections:
        try:
            missing += importlib.import_module(SECTIONS[section]).missing_prerequisites(build_dir)
        except ImportError as e:
            missing.append(f"{e.name} for the {section} comparison (its rows stay empty)")
    return missing


def run_sections(collectors: dict[str, Callable[[], Comparison]]) -> list[Comparison]:
    """Runs each collector; one that raises becomes a row saying why, and the others still run."""
    comparisons = []
    for section, collect in collectors.items():
        started = time.monotonic()
        try:
            comparison = collect()
        except Exception as e:  # a broken section must not cost the report
            comparison = failed_comparison(section, e)
        comparison.raw["seconds"] = round(time.monotonic() - started, 1)
        comparisons.append(comparison)
    return comparisons


def collector(section: str, build_dir: Path, quick: bool) -> Callable[[], Comparison]:
    def collect() -> Comparison:
        # Imported here: a module that cannot be imported (numpy missing) costs its own section only.
        return importlib.import_module(SECTIONS[section]).collect(build_dir, quick=quick)

    return collect


def shmkit_build(build_dir: Path) -> dict:
    """The commit and build type measured, for the JSON."""
    info: dict = {}
    try:
        info["commit"] = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = None
    try:
        options = json.loads((build_dir / "meson-info" / "intro-buildoptions.json").read_text())
        info.update({o["name"]: o["value"] for o in options if o["name"] in ("buildtype", "b_sanitize", "werror")})
    except (OSError, ValueError, KeyError):
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build", help="Meson build directory")
    parser.add_argument("--out", type=Path, help="where performance.json and .png go (default: BUILD_DIR/performance)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run (default: {','.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test; noisy figures)")
    parser.add_argument("--install-deps", action="store_true", help=f"run {INSTALL_HINT} first")
    args = parser.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    out = args.out or args.build_dir / "performance"

    if args.install_deps:
        subprocess.run([str(ROOT / "scripts" / "install-deps"), "--bench"], check=True)
    missing = missing_prerequisites(args.build_dir, sections)
    for line in missing:
        print(f"report: missing {line}", file=sys.stderr)
    if missing:
        print("report: continuing; the rows that need these will say so", file=sys.stderr)

    machine = describe_machine()
    comparisons = run_sections({s: collector(s, args.build_dir, args.quick) for s in sections})
    finish_machine(machine)

    print_comparison(comparisons, machine)
    print()
    write_json(out / "performance.json", comparisons, machine, shmkit=shmkit_build(args.build_dir),
               quick=args.quick)
    (out / "performance.md").write_text("\n".join(markdown_lines(comparisons, machine)) + "\n")
    print(f"raw figures: {out / 'performance.json'}; the table in Markdown: {out / 'performance.md'}")
    try:
        from compare_plot import plot

        plot([r for c in comparisons for r in c.rows], machine, out / "performance.png")
        print(f"plot: {out / 'performance.png'}")
    except ImportError as e:
        print(f"no plot: {e}; run {INSTALL_HINT}")
    except ValueError as e:
        print(f"no plot: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
