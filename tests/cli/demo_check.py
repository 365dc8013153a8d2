"""Checks the output directory of a `shmkit demo` run with numpy alone.

    python3 tests/cli/demo_check.py OUT_DIR [clean]

Every archive listed in OUT_DIR/summary.yaml must hold as many entries as
the summary says were archived (and, for a process that reported, logged),
each a 1-D uint8 member `{source:03d}_{time:020d}.npy` holding
[source u8][time u64 LE][payload], with one onset entry; the camera's frames
must carry the stamps 0, 1, 2, ... in time order, the analysis' results
increasing frame numbers, the behaviour's events text. Prints one line per
source and "ok", or the first problem and exits 1.

With `clean`, the run must also have ended well: no problems, nothing
dropped anywhere, every frame produced logged and some analysed, received
from the channel untorn with a latency each.
"""

import pathlib
import sys

import numpy as np
import yaml


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def stamp(pixels, at):
    words = pixels[at : at + 4].astype(np.uint64)
    return int(sum(int(word) << (16 * i) for i, word in enumerate(words)))


def check_source(source, height, width):
    sid = source["source_id"]
    process = source["process"]
    with np.load(source["archive"]) as archive:
        names = sorted(archive.files)  # zero-padded times: sorted = time order
        if len(names) != source["archived"]:
            fail(f"{process}: {len(names)} members, the summary says {source['archived']}")
        if source["logged"] is not None and source["logged"] != len(names):
            fail(f"{process}: {len(names)} members, {source['logged']} logged")
        onsets = 0
        numbers = []
        for name in names:
            member = archive[name]
            if member.dtype != np.uint8 or member.ndim != 1:
                fail(f"{process}: {name} is {member.dtype} of shape {member.shape}")
            if member[0] != sid:
                fail(f"{process}: {name} starts with source {member[0]}")
            time = int(member[1:9].view("<u8")[0])
            if name != f"{sid:03d}_{time:020d}":
                fail(f"{process}: member {name} holds time {time}")
            payload = member[9:]
            if time == 0:
                onsets += 1
                if payload.size != 8:
                    fail(f"{process}: onset payload of {payload.size} bytes")
            elif process == "camera":
                if payload.size != height * width * 2:
                    fail(f"{process}: frame {name} has {payload.size} bytes")
                pixels = payload.view("<u2")
                head, tail = stamp(pixels, 0), stamp(pixels, pixels.size - 4)
                if head != tail:
                    fail(f"{process}: frame {name} has stamps {head} and {tail}")
                numbers.append(head)
            elif process == "analysis":
                if payload.size != 26:
                    fail(f"{process}: result {name} has {payload.size} bytes")
                numbers.append(int(payload[:8].view("<u8")[0]))
            elif process == "behaviour":
                if not bytes(payload).decode().startswith("trial "):
                    fail(f"{process}: event {name} reads {bytes(payload)!r}")
        if onsets != 1:
            fail(f"{process}: {onsets} onset entries")
        if process == "camera" and numbers != list(range(len(numbers))):
            fail(f"{process}: frame stamps are not 0, 1, 2, ...")
        if process == "analysis" and any(b <= a for a, b in zip(numbers, numbers[1:])):
            fail(f"{process}: analysed frame numbers do not increase")
        print(f"{process} {len(names)} entries")
        return len(numbers)


def check_store_calls(calls, analysed):
    """Each set is counted once, in the row of the path it took: the rig binds
    the settings once (a new name, the server's), and the analysis binds its
    two result names at its first frame and rebinds them at every later one
    (C++ sets both in one call, Python in two)."""
    count = {(c["process"], c["call"]): c["latency"]["count"] for c in calls}
    if count.get(("rig", "first_bind")) != 1 or ("rig", "set") in count:
        fail(f"rig store calls: {calls}")
    binds, sets = count.get(("analysis", "first_bind"), 0), count.get(("analysis", "set"), 0)
    per_frame = binds + sets if binds == 1 else (binds + sets) / 2
    if binds not in (1, 2) or per_frame != analysed:
        fail(f"analysis store calls: {binds} first binds and {sets} sets for {analysed} frames: {calls}")


def main():
    out = pathlib.Path(sys.argv[1])
    summary = yaml.safe_load((out / "summary.yaml").read_text())
    config = yaml.safe_load((out / "demo.yaml").read_text())
    height, width = config["camera"]["height"], config["camera"]["width"]
    for source in summary["sources"]:
        if source["archived"] == 0 and source["status"] != "ok":
            continue  # a process that died before logging anything
        count = check_source(source, height, width)
        if source["process"] == "camera" and count != summary["frames"]["logged"]:
            fail(f"camera: {count} frames, the summary says {summary['frames']['logged']} logged")
    if len(sys.argv) > 2 and sys.argv[2] == "clean":
        if not summary["ok"] or summary["problems"]:
            fail(f"the run was not clean: {summary['problems']}")
        for source in summary["sources"]:
            if source["status"] != "ok" or source["dropped"] != 0:
                fail(f"{source['process']}: status {source['status']}, dropped {source['dropped']}")
        frames = summary["frames"]
        if frames["logged"] != frames["produced"] or frames["produced"] == 0 or frames["analysed"] == 0:
            fail(f"frames: {frames}")
        # The analysis took frames from the channel: each one it received
        # has a latency, none was torn, and it cannot have had more frames
        # than the camera published.
        if frames["torn"] != 0 or frames["latency"]["count"] != frames["analysed"]:
            fail(f"channel: {frames}")
        if frames["published"] == 0 or frames["analysed"] + frames["passed_over"] + frames["missed"] > frames["published"]:
            fail(f"channel: {frames}")
        check_store_calls(summary["store_calls"], frames["analysed"])
    print("ok")


main()
