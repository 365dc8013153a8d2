#!/usr/bin/env python3
"""Unit test of bench/compare/: parsing of Google Benchmark and redis-benchmark
output, the rows, ratios and JSON of the report, on canned output. No
benchmark runs here; the figures below are made up, in the programs' formats.

    /usr/bin/python3 tests/compare/report_test.py      (meson test --suite compare)
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "compare"))

import array_compare  # noqa: E402
import bridge_compare  # noqa: E402
import channel_compare  # noqa: E402
import compare_common  # noqa: E402
import python_compare  # noqa: E402
import report  # noqa: E402
import store_compare  # noqa: E402
from compare_common import Comparison, Figure, Row, Source, Unavailable  # noqa: E402


def gbench(*entries: dict) -> str:
    """Google Benchmark --benchmark_format=json output holding these entries."""
    context = {"date": "2024-01-01T00:00:00+00:00", "host_name": "test", "num_cpus": 2, "mhz_per_cpu": 2600,
               "cpu_scaling_enabled": False, "caches": [], "load_avg": [1.5, 1.2, 1.0],
               "library_build_type": "release"}
    return json.dumps({"context": context, "benchmarks": list(entries)})


def run(name: str, real_time: float, unit: str = "ns", repetition: int = 0, **extra) -> dict:
    run_name = name
    return {"name": name, "family_index": 0, "per_family_instance_index": 0, "run_name": run_name,
            "run_type": "iteration", "repetitions": 3, "repetition_index": repetition, "threads": 1,
            "iterations": 1000, "real_time": real_time, "cpu_time": real_time, "time_unit": unit, **extra}


def aggregate(name: str, kind: str, real_time: float, unit: str = "ns") -> dict:
    return {"name": f"{name}_{kind}", "run_name": name, "run_type": "aggregate", "aggregate_name": kind,
            "repetitions": 3, "threads": 1, "iterations": 3, "real_time": real_time, "cpu_time": real_time,
            "time_unit": unit}


REDIS_CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","40000.00","0.024","0.008","0.023","0.031","0.047","1.207"
"GET","50000.00","0.019","0.008","0.019","0.023","0.039","0.671"
'''


class ParseBenchmarkJsonTest(unittest.TestCase):
    def test_best_repetition_in_ns_without_aggregates_or_errors(self):
        text = gbench(
            run("BM_A", 3.0, "us", 0), run("BM_A", 2.0, "us", 1), run("BM_A", 2.5, "us", 2),
            aggregate("BM_A", "mean", 1.0, "us"), aggregate("BM_A", "stddev", 0.1, "us"),
            {**run("BM_B", 0.5), "error_occurred": True, "error_message": "failed"},
            run("BM_C", 7.0, "ms"))
        figures, context = compare_common.parse_benchmark_json(text)
        self.assertEqual(set(figures), {"BM_A", "BM_C"})
        self.assertEqual(figures["BM_A"].ns, 2000.0)
        self.assertEqual(figures["BM_A"].repetitions, [3000.0, 2000.0, 2500.0])
        self.assertEqual(figures["BM_C"].ns, 7e6)
        self.assertEqual(context["num_cpus"], 2)

    def test_p50_counter_picks_the_best_repetition_and_is_the_latency(self):
        text = gbench(run("BM_S", 900.0, p50_ns=500.0, p99_ns=800.0), run("BM_S", 800.0, p50_ns=600.0, p99_ns=700.0))
        figure = compare_common.parse_benchmark_json(text)[0]["BM_S"]
        self.assertEqual((figure.ns, figure.p50_ns, figure.p99_ns, figure.latency_ns), (900.0, 500.0, 800.0, 500.0))

    def test_keys_drop_timing_modifiers_but_keep_arguments(self):
        key = compare_common.benchmark_key
        self.assertEqual(key("BM_Store_Put64MiB/real_time"), "BM_Store_Put64MiB")
        self.assertEqual(key("BM_Array_CrossProcessLatency/iterations:2000/manual_time"),
                         "BM_Array_CrossProcessLatency")
        self.assertEqual(key("BM_Logger_Throughput/bytes:64/batch:200000/tmp:0/real_time"),
                         "BM_Logger_Throughput/bytes:64/batch:200000/tmp:0")
        self.assertEqual(key("BM_Logger_Assemble/level:6/min_time:0.050/real_time"), "BM_Logger_Assemble/level:6")

    def test_bandwidth_counters(self):
        text = gbench(run("BM_Copy/real_time", 20.0, "us", bytes_per_second=5e10, items_per_second=5e4))
        figure = compare_common.parse_benchmark_json(text)[0]["BM_Copy"]
        self.assertEqual(figure.gb_per_second, 50.0)
        self.assertEqual(figure.items_per_second, 5e4)


class RowTest(unittest.TestCase):
    def test_ratio_is_how_many_times_faster_shmkit_is(self):
        self.assertEqual(Row("s", "op", "", "ns", 10.0, "peer", 250.0).ratio, 25.0)
        self.assertEqual(Row("s", "op", "", "GB/s", 45.0, "memcpy", 50.0).ratio, 0.9)
        self.assertEqual(Row("s", "op", "", "entries/s", 3e6, "np.save", 1.5e4).ratio, 200.0)
        self.assertIsNone(Row("s", "op", "", "ns", None, "peer", 250.0).ratio)
        self.assertIsNone(Row("s", "op", "", "ns", 10.0, "peer", None).ratio)

    def test_missing_figures_carry_the_reason(self):
        ok = Source("prog", {"BM_A": Figure(ns=5.0)})
        gone = Source.measure("Redis", lambda: (_ for _ in ()).throw(Unavailable("redis-server is not installed")))
        crashed = Source.measure("peers", lambda: 1 / 0)
        r = compare_common.row("s", "op", "", "ns", ok.get("BM_A", lambda f: f.ns), "Redis GET", gone.get("GET"))
        self.assertEqual((r.shmkit, r.peer_value, r.ratio), (5.0, None, None))
        self.assertEqual(r.note, "redis-server is not installed")
        self.assertIn("ZeroDivisionError", compare_common.row("s", "op", "", "ns", ok.get("BM_X"), "p",
                                                              crashed.get("k")).note)
        self.assertIn("prog has no figure BM_X", compare_common.row("s", "op", "", "ns", ok.get("BM_X"), "p",
                                                                    ok.get("BM_A", lambda f: f.ns)).note)

    def test_table_shows_every_row_and_the_reasons(self):
        rows = [Row("s", "get", "p50", "ns", 250.0, "Redis GET", 19000.0),
                Row("s", "put", "p50", "ns", None, "LMDB put", None, "LMDB is not built")]
        text = "\n".join(compare_common.table_lines(rows))
        self.assertRegex(text, r"get\s+250\.0 ns\s+Redis GET\s+19\.00 us\s+76x\s+p50")
        self.assertIn("not measured: LMDB is not built", text)


def store_sources(redis: Source) -> tuple[Source, Source, Source]:
    shmkit = compare_common.parse_benchmark_json(gbench(
        run("BM_Store_GetSealedSmall", 300.0, p50_ns=250.0), run("BM_Store_CreateAndSeal100B", 9000.0, p50_ns=8000.0),
        run("BM_Store_Contains", 200.0, p50_ns=150.0), run("BM_Store_GetName", 400.0, p50_ns=380.0),
        run("BM_Store_SetName100B", 7000.0, p50_ns=6400.0), run("BM_Store_SetName100BNoSpin", 70000.0, p50_ns=46000.0),
        run("BM_Store_SetAfterIdle/iterations:25", 25000.0, p50_ns=23000.0),
        run("BM_Store_FirstBindAfterIdle/busy_cores:0/iterations:1000", 30000.0, p50_ns=23000.0),
        run("BM_Store_FirstBindAfterIdle/busy_cores:1/iterations:1000", 60000.0, p50_ns=46000.0),
        run("BM_Store_SetName100BPersisted", 9000.0, p50_ns=8000.0),
        run("BM_Store_Put64MiB/real_time", 8.0, "ms", bytes_per_second=8e9),
        run("BM_Store_Memcpy64MiB/real_time", 6.4, "ms", bytes_per_second=1e10)))[0]
    lmdb = compare_common.parse_benchmark_json(gbench(
        run("BM_Store_LmdbGet100B", 600.0, p50_ns=500.0), run("BM_Store_LmdbPut100B", 40000.0, p50_ns=32000.0)))[0]
    return Source("store_store_bench", shmkit), Source("LMDB", lmdb), redis


class StoreRowsTest(unittest.TestCase):
    def test_redis_csv(self):
        self.assertEqual(store_compare.parse_redis_csv(REDIS_CSV), {"SET": 23000.0, "GET": 19000.0})

    def test_rows_and_ratios(self):
        rows = store_compare.rows_from(*store_sources(Source("Redis", store_compare.parse_redis_csv(REDIS_CSV))))
        by_peer = {(r.operation, r.peer): r for r in rows}
        self.assertEqual(len(by_peer), len(rows))
        self.assertEqual(len(rows), len(store_compare.ROWS) + len(store_compare.MEMCPY_ROWS))
        get = by_peer[("get 100 B (sealed, mapped)", "Redis GET")]
        self.assertEqual((get.shmkit, get.ratio), (250.0, 76.0))
        self.assertEqual(by_peer[("create_and_seal 100 B", "LMDB put (own txn)")].ratio, 4.0)
        self.assertEqual(by_peer[("get by name, float64 (Brain::get)", "Redis GET")].ratio, 50.0)
        self.assertEqual(by_peer[("set by name 100 B, --persist", "LMDB put (own txn)")].ratio, 4.0)
        self.assertEqual(by_peer[("set by name 100 B, --spin-us 0", "Redis SET")].ratio, 0.5)
        self.assertEqual(by_peer[("first set of a new name, 1 ms after the last (published)", "Redis SET")].ratio, 1.0)
        self.assertEqual(by_peer[("the same, every core busy meanwhile", "Redis SET")].ratio, 0.5)
        memcpy = [r for r in rows if r.unit == "GB/s"]
        self.assertEqual([(r.shmkit, r.peer_value, r.ratio) for r in memcpy], [(8.0, 10.0, 0.8)])
        self.assertTrue(all(not r.note for r in rows))

    def test_without_redis_its_rows_say_what_to_install(self):
        missing = Source("Redis", error="redis-server / redis-benchmark are not installed: run "
                         + compare_common.INSTALL_HINT)
        rows = store_compare.rows_from(*store_sources(missing))
        redis_rows = [r for r in rows if r.peer.startswith("Redis")]
        self.assertTrue(redis_rows)
        for r in redis_rows:
            self.assertIsNone(r.ratio)
            self.assertIn("scripts/install-deps --bench", r.note)
        self.assertTrue(all(r.ratio for r in rows if not r.peer.startswith("Redis")))

    @staticmethod
    def writers_run(sets_per_second: float, p99_ns: float, gets_per_second: float) -> dict:
        """store_writers_bench's JSON (the fields writer_figures reads and a few more)."""
        return json.loads(json.dumps({
            "peer": "shmkit", "writers": 4, "sets_per_writer": 1000, "sets_per_second": sets_per_second,
            "set_p50_ns": p99_ns / 4, "set_p99_ns": p99_ns, "per_writer": [],
            "reader": {"gets": 1, "gets_per_second": gets_per_second, "get_p50_ns": 1.0, "get_p99_ns": 2.0},
            "ok": True, "errors": ""}))

    def test_writer_rows_pair_the_store_with_redis(self):
        figures = store_compare.writer_figures
        shmkit = Source("writers", figures(self.writers_run(40000.0, 50000.0, 2e6)))
        no_spin = Source("writers", figures(self.writers_run(10000.0, 400000.0, 1e6)))
        redis = Source("Redis", figures(self.writers_run(20000.0, 100000.0, 50000.0)))
        rows = {r.operation: r for r in store_compare.writer_rows(shmkit, no_spin, redis)}
        self.assertEqual(len(rows), 2 * len(store_compare.WRITER_ROWS))
        self.assertEqual(rows["4 writers x 1 reader: sets/s"].ratio, 2.0)
        self.assertEqual(rows["4 writers x 1 reader: set p99"].ratio, 2.0)
        self.assertEqual(rows["4 writers x 1 reader: reader gets/s"].ratio, 40.0)
        self.assertEqual(rows["4 writers x 1 reader, --spin-us 0: sets/s"].ratio, 0.5)
        self.assertEqual(rows["4 writers x 1 reader, --spin-us 0: set p99"].ratio, 0.25)
        self.assertTrue(all(not r.note for r in rows.values()))

    def test_writer_rows_without_redis_or_the_program_say_why(self):
        shmkit = Source("writers", store_compare.writer_figures(self.writers_run(40000.0, 50000.0, 2e6)))
        not_built = Source("writers", error="build/bench/store/store_writers_bench is not built: run scripts/build")
        no_redis = Source("Redis", error="redis-server is not installed: run " + compare_common.INSTALL_HINT)
        rows = store_compare.writer_rows(shmkit, not_built, no_redis)
        self.assertTrue(all(r.ratio is None and "redis-server is not installed" in r.note for r in rows))
        self.assertTrue(all("not built" in r.note for r in rows if "--spin-us 0" in r.operation))


class BridgeRowsTest(unittest.TestCase):
    def test_rows_pair_each_figure_with_redis_py(self):
        shmkit = Source("bench", {
            "BM_Bridge_SetVisibleOnOtherHost": Figure(ns=300e3, p50_ns=250e3, p99_ns=1e6, items_per_second=3000),
            "BM_Bridge_SetsPerSecond": Figure(ns=1e9, items_per_second=3000.0),
            "BM_Bridge_ForwardLogEntries/100": Figure(ns=1e9, items_per_second=1e6, bytes_per_second=1e8),
            "BM_Bridge_ForwardLogEntries/1048576": Figure(ns=1e9, items_per_second=400, bytes_per_second=4e8)})
        peer = Source("redis-py", {"p50_ns": 125e3, "p99_ns": 500e3, "sets_per_second": 6000.0,
                                   "small_entries_per_second": 1e4, "small_bytes_per_second": 1e6,
                                   "large_entries_per_second": 200.0, "large_bytes_per_second": 2e8})
        rows = bridge_compare.rows_from(shmkit, peer)
        self.assertEqual([r.ratio for r in rows], [0.5, 0.5, 0.5, 100.0, 2.0])
        self.assertEqual(rows[-1].shmkit, 400.0)  # MB/s
        self.assertTrue(all(not r.note for r in rows))

    def test_without_redis_every_row_says_why(self):
        missing = Source("redis-py", error="redis-server is not installed: run " + compare_common.INSTALL_HINT)
        rows = bridge_compare.rows_from(missing, missing)
        self.assertTrue(all(r.ratio is None and "scripts/install-deps --bench" in r.note for r in rows))


class ArrayRowsTest(unittest.TestCase):
    def test_every_row_pairs_its_benchmark_and_peer(self):
        shmkit = {name: Figure(ns=float(i + 1), bytes_per_second=1e9 * (i + 1))
                  for i, name in enumerate(sorted(array_compare.benchmark_names()))}
        peers = {key: Figure(ns=100.0) for *_, key, _ in array_compare.PYTHON_ROWS}
        rows = array_compare.rows_from(Source("bench", shmkit), Source("peers", peers))
        self.assertEqual(len(rows), len(array_compare.PYTHON_ROWS) + len(array_compare.MEMCPY_ROWS))
        for r, (_, bench, *_rest) in zip(rows, array_compare.PYTHON_ROWS):
            self.assertEqual((r.unit, r.shmkit, r.peer_value), ("ns", shmkit[bench].ns, 100.0))
        memcpy = shmkit[array_compare.MEMCPY].gb_per_second
        for r, (_, bench) in zip(rows[len(array_compare.PYTHON_ROWS):], array_compare.MEMCPY_ROWS):
            self.assertEqual((r.unit, r.peer_value), ("GB/s", memcpy))
            self.assertAlmostEqual(r.ratio, shmkit[bench].gb_per_second / memcpy)


class ChannelRowsTest(unittest.TestCase):
    def test_rows_pair_each_latency_with_its_peer_and_the_array_row(self):
        names = channel_compare.benchmark_names()
        shmkit = {name: Figure(ns=1000.0, p50_ns=500.0, items_per_second=1e5)
                  for name in names[channel_compare.BINARY]}
        shmkit["BM_Channel_UnixSocketPingPong/64"] = Figure(ns=20000.0, p50_ns=10000.0)
        array = {channel_compare.ARRAY_LATENCY: Figure(ns=100.0)}
        rows = channel_compare.rows_from(Source("bench", shmkit), Source("array", array))
        self.assertEqual(len(rows), len(channel_compare.LATENCY_ROWS) + len(channel_compare.RATE_ROWS))
        self.assertEqual((rows[0].shmkit, rows[0].peer_value, rows[0].ratio), (500.0, 10000.0, 20.0))
        array_row = next(r for r in rows if "SharedArray" in r.peer)
        self.assertEqual((array_row.peer_value, array_row.ratio), (100.0, 0.2))
        self.assertEqual(rows[-1].unit, "ops/s")
        targets = channel_compare.check_targets(shmkit)
        self.assertEqual([t.passed for t in targets], [False, False, False, True])
        shmkit[f"{channel_compare.FAN_OUT}/{channel_compare.LARGE}"] = Figure(ns=1000.0, items_per_second=0.7e5)
        self.assertFalse(channel_compare.check_targets(shmkit)[-1].passed)

    def test_fan_out_rates_are_the_median_of_the_runs_not_the_best(self):
        runs = [("BM_Channel_FanOut4/65536/real_time", 3e5), ("BM_Channel_FanOut4/4194304/real_time", 2e5),
                ("BM_Channel_FanOut4/65536/real_time", 1e5), ("BM_Channel_FanOut4/4194304/real_time", 5e5),
                ("BM_Channel_FanOut4/65536/real_time", 2e5), ("BM_Channel_FanOut4/4194304/real_time", 4e5)]
        text = json.dumps({"benchmarks": [
            {"name": name, "run_name": name, "run_type": "iteration", "real_time": 1e9 / rate, "time_unit": "ns",
             "items_per_second": rate, "bytes_per_second": rate * 4} for name, rate in runs] + [
            {"name": "BM_Channel_FanOut4/65536/real_time_mean", "run_name": "BM_Channel_FanOut4/65536/real_time",
             "run_type": "aggregate", "real_time": 1.0, "time_unit": "ns", "items_per_second": 9e9}]})
        figures = channel_compare.median_rates(text)
        self.assertEqual(figures["BM_Channel_FanOut4/65536"].items_per_second, 2e5)
        self.assertEqual(figures["BM_Channel_FanOut4/4194304"].items_per_second, 4e5)
        self.assertEqual(figures["BM_Channel_FanOut4/4194304"].ns, 2500.0)
        self.assertEqual(figures["BM_Channel_FanOut4/4194304"].bytes_per_second, 16e5)


class BenchmarkNamesTest(unittest.TestCase):
    """Every benchmark a script's rows name is defined by a program in bench/."""

    def defined(self) -> set[str]:
        names = set()
        for source in (ROOT / "bench").glob("*/*.cpp"):
            names |= set(re.findall(r"^BENCHMARK\((BM_\w+)\)", source.read_text(), re.MULTILINE))
        return names

    def test_rows_name_existing_benchmarks(self):
        used = set(array_compare.benchmark_names())
        # Arguments ("/64", "/busy_cores:1") are not in BENCHMARK().
        for names in [*store_compare.benchmark_names().values(), *channel_compare.benchmark_names().values()]:
            used |= {name.split("/")[0] for name in names}
        self.assertTrue(used)
        self.assertEqual(used - self.defined(), set())


class ReportTest(unittest.TestCase):
    def test_a_failing_section_becomes_a_row_and_the_others_run(self):
        good = Comparison("store", "Redis", [Row("store", "get", "p50", "ns", 250.0, "Redis GET", 19000.0)])

        def broken() -> Comparison:
            raise RuntimeError("segfault in the peer")

        comparisons = report.run_sections({"array": broken, "store": lambda: good})
        self.assertEqual([c.section for c in comparisons], ["array", "store"])
        self.assertEqual(len(comparisons[0].rows), 1)
        self.assertIn("segfault in the peer", comparisons[0].rows[0].note)
        self.assertIs(comparisons[1], good)

    def test_json_document(self):
        machine = compare_common.finish_machine(compare_common.describe_machine())
        comparison = Comparison("store", "Redis", store_compare.rows_from(
            *store_sources(Source("Redis", store_compare.parse_redis_csv(REDIS_CSV)))), raw={"x": 1})
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sub" / "performance.json"
            compare_common.write_json(path, [comparison], machine, shmkit={"commit": "abc"})
            doc = json.loads(path.read_text())
        for key in ("cpu", "cores", "kernel", "load_average_start", "load_average_end", "python", "numpy"):
            self.assertIsNotNone(doc["machine"][key], key)
        self.assertEqual(doc["shmkit"], {"commit": "abc"})
        rows = doc["comparisons"][0]["rows"]
        self.assertEqual(rows[0]["ratio"], 76.0)
        self.assertEqual(set(rows[0]), {"section", "operation", "measures", "unit", "shmkit", "peer", "peer_value",
                                        "note", "ratio"})

    def test_markdown_table(self):
        rows = [Row("store", "get", "p50", "ns", 250.0, "Redis GET", 19000.0),
                Row("store", "put", "p50", "ns", None, "a | b", None, "not built")]
        machine = compare_common.finish_machine(compare_common.describe_machine())
        lines = compare_common.markdown_lines([Comparison("store", "Redis", rows)], machine)
        self.assertEqual(lines[-2], "| store: get | 250.0 ns | Redis GET | 19.00 us | 76x | p50 |")
        self.assertEqual(lines[-1], "| store: put | - | a \\| b | - | - | p50 (not measured: not built) |")

    def test_each_script_names_what_an_empty_build_directory_lacks(self):
        with tempfile.TemporaryDirectory() as tmp:
            for section, module in report.SECTIONS.items():
                missing = __import__(module).missing_prerequisites(Path(tmp))
                self.assertTrue(any("scripts/build" in m and tmp in m for m in missing), section)

    def test_python_rows_pair_each_call_with_its_peer(self):
        figures = {"log_p50": 300.0, "log_p999": 900.0, "log_rate": 2e6}
        store = {"get_float": 800.0, "get_array": 900.0, "set_float": 9000.0}
        sources = {"logger": Source("LogWriter", figures),
                   "npy": Source("numpy.save", {"log_p50": 30000.0, "log_p999": 90000.0, "log_rate": 1e4}),
                   "brain": Source("Brain", store), "brain_nospin": Source("Brain", store), "redis": Source("redis-py", error="redis-py is not installed"),
                   "manager": Source("Manager", {"get_float": 40000.0, "get_array": 4e6, "set_float": 45000.0}),
                   "array": Source("SharedArray", {"ours": 200.0, "theirs": 400.0})}
        rows = python_compare.rows_from(sources)
        self.assertEqual(len(rows), len(python_compare.ROWS))
        by_peer = {(r.operation, r.peer): r for r in rows}
        self.assertEqual(by_peer[("LogWriter.log 100 B", "numpy.save one .npy per entry (ataraxis' saver)")].ratio,
                         100.0)
        rate = by_peer[("log 100 B end to end (saved to disk)", "numpy.save one .npy per entry, then sync")]
        self.assertEqual((rate.unit, rate.ratio), ("entries/s", 200.0))
        redis_rows = [r for r in rows if r.peer.startswith("redis-py")]
        self.assertEqual(len(redis_rows), 4)
        self.assertTrue(all(r.peer_value is None and "not installed" in r.note for r in redis_rows))
        self.assertEqual(by_peer[("Brain get 4 MiB array (zero-copy view)", "Manager().dict() get 4 MiB ndarray")]
                         .ratio, 4e6 / 900.0)
        self.assertEqual(by_peer[("SharedArray element write under its lock",
                                  "numpy in shared_memory + multiprocessing.Lock")].ratio, 2.0)

    def test_python_percentile(self):
        samples = list(range(1, 1001))
        self.assertEqual(python_compare.percentile(samples, 0.5), 501.0)
        self.assertEqual(python_compare.percentile(samples, 0.999), 1000.0)

    @unittest.skipUnless(__import__("importlib").util.find_spec("matplotlib"), "matplotlib is not installed")
    def test_plot_writes_a_png_with_empty_rows(self):
        import compare_plot

        rows = [Row("store", "get", "p50", "ns", 250.0, "Redis GET", 19000.0),
                Row("store", "put", "p50", "ns", None, "LMDB", None, "not built"),
                Row("array", "read_slice", "bw", "GB/s", 45.0, "memcpy", 50.0)]
        machine = compare_common.finish_machine(compare_common.describe_machine())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "p.png"
            compare_plot.plot(rows, machine, path)
            self.assertEqual(path.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
