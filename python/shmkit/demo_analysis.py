"""The analysis worker of `shmkit demo --python`, written with `import shmkit`.

`shmkit demo` starts it as ``python3 -m shmkit.demo_analysis`` in place of its
C++ analysis (src/demo/analysis.cpp), so the rig is a mixed-language one: a
C++ camera publishes frames on a channel, this Python process reads each
newest frame in place as a numpy array, computes its statistic and column
profile, publishes both by name in the store (where the C++ parent and the
C++ behaviour task read them), logs the statistic and reports what it did.

What it shares with the C++ side is written out here once and must stay the
same as there (src/demo/demo.hpp, frames.hpp, analysis.cpp): the object
names of a run, the counters array's layout, the 26-byte logged result and
the report's fields.
"""

import argparse
import os
import struct
import sys
import time

import numpy as np
import yaml

import shmkit

NAMESPACE = "rig"
CONFIG_NAME = "config"
STATS_NAME = "analysis.stats"
PROFILE_NAME = "analysis.profile"
REPORT_NAME = "report.analysis"
# The C++ structs these dicts are read as (Brain::get<T> checks the name).
FRAME_STATS_TYPE = "shmkit::cli::demo::FrameStats"
WORKER_REPORT_TYPE = "shmkit::cli::demo::WorkerReport"

# Rows of the counters array, each counter in column 0 of its own row.
FRAMES_ANALYSED = 1
STOP = 3
COUNTER_COUNT = 4
COUNTER_STRIDE = 8

STAMP_PIXELS = 4
# frame number u64, mean f64, peak u16, peak x u32, peak y u32
RESULT = struct.Struct("<QdHII")
# How late the analysis notices the stop request at most, while no frame comes.
WAIT_SLICE_S = 0.020


def read_stamp(frame):
    """The frame number stamped in the first and last pixels, or None when they differ."""
    flat = frame.reshape(-1)
    head = sum(int(flat[i]) << (16 * i) for i in range(STAMP_PIXELS))
    tail = sum(int(flat[flat.size - STAMP_PIXELS + i]) << (16 * i) for i in range(STAMP_PIXELS))
    return head if head == tail else None


def analyse(frame, number):
    """Mean and brightest pixel of the image area (every row but the stamp rows), and its column means."""
    area = frame[1:-1]
    peak = int(np.argmax(area))
    width = frame.shape[1]
    stats = {
        "frame": number,
        "mean": float(area.mean(dtype=np.float64)),
        "peak": int(area.flat[peak]),
        "peak_x": peak % width,
        "peak_y": 1 + peak // width,
    }
    profile = area.astype(np.float32).mean(axis=0, dtype=np.float32)
    return stats, profile


def latency_summary(samples_ns):
    """What the C++ LatencySummary holds, from raw nanosecond samples."""
    if not samples_ns:
        return {"count": 0, "p50_ns": 0.0, "p99_ns": 0.0, "p999_ns": 0.0, "max_ns": 0.0}
    values = np.asarray(samples_ns, dtype=np.float64)
    p50, p99, p999 = np.percentile(values, [50, 99, 99.9])
    return {
        "count": len(samples_ns),
        "p50_ns": round(float(p50)),
        "p99_ns": round(float(p99)),
        "p999_ns": round(float(p999)),
        "max_ns": float(values.max()),
    }


class Timed:
    """Records how long each call through it takes, in ns."""

    def __init__(self):
        self.samples = []

    def __call__(self, fn, *args, **kwargs):
        before = time.perf_counter_ns()
        result = fn(*args, **kwargs)
        self.samples.append(time.perf_counter_ns() - before)
        return result


def start(ready_fd, go_fd, writer, source):
    """Tells the parent this worker is ready, waits for every worker's start, then logs the onset."""
    os.write(ready_fd, b"r")
    os.close(ready_fd)  # the parent sees EOF once every worker has reported or died
    os.read(go_fd, 1)  # the parent starts every worker at once by closing the write end
    os.close(go_fd)
    writer.write_onset(source)


def run(args):
    brain = shmkit.Brain(args.socket, NAMESPACE, connect_timeout=5.0)
    config = yaml.safe_load(brain.get(CONFIG_NAME, timeout=5.0))
    camera = config["camera"]
    source = int(config["analysis"]["source_id"])
    counters = shmkit.SharedArray.open(args.prefix + "-counters")
    if counters.array.size != COUNTER_COUNT * COUNTER_STRIDE:
        raise shmkit.LayoutError(f"shared array '{args.prefix}-counters' is not the counters array of this demo")
    writer = shmkit.LogWriter.connect(args.prefix, policy="block")
    channel = shmkit.Channel.open(args.prefix + "-frames")
    shape = (int(camera["height"]), int(camera["width"]))
    info = channel.info()
    if info["dtype"] != np.dtype("<u2") or tuple(info["shape"]) != shape:
        raise shmkit.LayoutError(f"channel '{args.prefix}-frames' does not carry <u2 frames of shape {shape}: {info}")
    frames = channel.subscriber(start="now")

    set_time, bind_time, log_time = Timed(), Timed(), Timed()
    frame_latency = []
    analysed = torn = last_number = 0
    logged_bytes = 0
    last_time_us = 0
    start(args.ready_fd, args.go_fd, writer, source)
    while counters.atomic_load((STOP, 0)) == 0:
        if not frames.wait(WAIT_SLICE_S):
            continue
        sample = frames.latest()
        if sample is None:
            continue
        frame_latency.append(time.monotonic_ns() - sample.publish_ns)
        frame = sample.array
        number = read_stamp(frame)
        if number is None or (analysed > 0 and number <= last_number):
            torn += 1
            continue
        last_number = number
        stats, profile = analyse(frame, number)
        del frame, sample  # the slot goes back to the camera
        # A name's first set is published for the server to bind; later
        # ones rebind in shared memory: each is timed in its own row.
        (set_time if STATS_NAME in brain else bind_time)(brain.set, STATS_NAME, stats, type_name=FRAME_STATS_TYPE)
        (set_time if PROFILE_NAME in brain else bind_time)(brain.set, PROFILE_NAME, profile)
        # Two entries of a source must not share a time: it names the entry in the archive.
        last_time_us = max(writer.elapsed_us, last_time_us + 1)
        payload = RESULT.pack(stats["frame"], stats["mean"], stats["peak"], stats["peak_x"], stats["peak_y"])
        if log_time(writer.log, source, payload, timestamp_us=last_time_us):
            logged_bytes += len(payload)
        counters.atomic_add((FRAMES_ANALYSED, 0), 1)
        analysed += 1

    report = {
        "logged": int(writer.logged),
        "payload_bytes": logged_bytes + 8,  # the onset entry's payload: its UTC time, 8 bytes
        "dropped": int(writer.dropped),
        "log": latency_summary(log_time.samples),
        "store_set": latency_summary(set_time.samples),
        "store_first_bind": latency_summary(bind_time.samples),
        "store_get": latency_summary([]),
        "frame_latency": latency_summary(frame_latency),
        "counts": {
            "analysed": analysed,
            "passed_over": int(frames.skipped),
            "missed": int(frames.missed),
            "torn": torn,
        },
    }
    brain.set(REPORT_NAME, report, type_name=WORKER_REPORT_TYPE)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m shmkit.demo_analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the rig's store socket")
    parser.add_argument("--prefix", required=True, help="the run's object names, demo-<parent pid>")
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--go-fd", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        run(args)
    except Exception as e:  # the parent reports a worker's exit status and message
        print(f"shmkit: demo analysis (python, pid {os.getpid()}): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
