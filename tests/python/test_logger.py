"""LogWriter, DataLogger, assemble_log_archives and LogArchiveReader: a
Python producer against the C++ logger process, and archives checked with
numpy.load."""

import os
import signal
import subprocess
import tempfile
import zipfile

import numpy as np
import pytest

import shmkit


@pytest.fixture
def out_dir():
    with tempfile.TemporaryDirectory(prefix="shmkit-py-log-") as directory:
        yield directory


def test_python_producer_cli_logger_100k(unique, out_dir):
    instance = unique("log")
    serve = subprocess.Popen([os.environ["SHMKIT_CLI"], "log", "serve", "--instance", instance, "--out", out_dir],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "logging instance" in serve.stdout.readline()  # printed once the segment exists
        count = 100_000
        with shmkit.LogWriter.connect(instance, policy="block") as writer:
            assert writer.write_onset(1)
            payload = np.zeros(4, dtype=np.uint32)
            for i in range(count):
                payload[0] = i
                payload[1] = i * 7
                assert writer.log(1, payload, timestamp_us=i + 1)
            assert writer.logged == count + 1 and writer.dropped == 0
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=120) == 0, serve.stderr.read()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    log_dir = os.path.join(out_dir, f"{instance}_data_log")
    report = shmkit.assemble_log_archives(log_dir)
    assert report["clean"] and report["entries"] == count + 1
    archive = os.path.join(log_dir, "1_log.npz")
    # numpy.load of each member through zipfile: NpzFile's lookup is linear
    # in the member count, so npz[name] over 100k members would be quadratic.
    with np.load(archive) as npz:
        assert len(npz.files) == count + 1
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        assert len(names) == count + 1
        assert names[0] == f"001_{0:020d}.npy"
        for i, name in enumerate(names[1:]):
            assert name == f"001_{i + 1:020d}.npy"
            with zf.open(name) as member:
                entry = np.load(member)
            assert entry.dtype == np.uint8
            # ataraxis' layout: [source u8][acquisition time u64 LE][payload]
            assert entry[0] == 1 and entry[1:9].view("<u8")[0] == i + 1, name
            values = entry[9:].view(np.uint32)
            assert values[0] == i and values[1] == i * 7, name
    reader = shmkit.LogArchiveReader(archive)
    assert reader.entry_count == count + 1 and len(reader) == count
    onset = reader.onset_us
    seen = 0
    for seen, (timestamp, payload) in enumerate(reader, start=1):
        assert timestamp == onset + seen
        assert payload.dtype == np.uint8 and payload.view(np.uint32)[0] == seen - 1
    assert seen == count


def test_data_logger_in_process(unique, out_dir):
    instance = unique("log")
    with shmkit.DataLogger(out_dir, instance) as logger:
        assert logger.running
        with shmkit.LogWriter.connect(instance, policy="drop") as writer:
            writer.write_onset(3)
            assert writer.log(3, b"bytes", timestamp_us=10)
            assert writer.log(3, memoryview(bytearray(b"memoryview")), timestamp_us=20)
            assert writer.log(3, np.arange(6, dtype=np.int16).reshape(2, 3), timestamp_us=30)
            assert writer.log(3, b"now")  # elapsed_us()
            with pytest.raises((BufferError, ValueError)):  # numpy raises ValueError
                writer.log(3, np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2])
            with pytest.raises(TypeError):
                writer.log(3, "text is not a buffer")
            with pytest.raises(ValueError):
                writer.log(256, b"x")
            assert writer.log(3, b"still usable", timestamp_us=40)
        stats = logger.stop()
        assert stats["entries_saved"] == 6 and stats["dropped"] == 0
        log_dir = logger.log_directory
    report = shmkit.assemble_log_archives(log_dir)
    assert report["sources"][0]["source_id"] == 3
    reader = shmkit.LogArchiveReader(os.path.join(log_dir, "3_log.npz"))
    messages = list(reader)
    payloads = [bytes(p) for _, p in messages]
    assert payloads[:3] == [b"bytes", b"memoryview", np.arange(6, dtype=np.int16).tobytes()]
    assert payloads[3] == b"still usable" and payloads[4] == b"now"  # merged in time order; "now" is latest
    assert messages[0][0] == reader.onset_us + 10
    assert not messages[0][1].flags.writeable
    entries = list(reader.entries())
    assert entries[0][:2] == (3, 0) and len(entries) == 6


def test_errors(unique, out_dir):
    with pytest.raises(shmkit.ObjectNotFoundError):
        shmkit.LogWriter.connect(unique("none"))
    with pytest.raises(shmkit.InvalidNameError):
        shmkit.LogWriter.connect("bad/name")
    with pytest.raises(ValueError):
        shmkit.LogWriter.connect(unique("none"), policy="sometimes")
    with pytest.raises(shmkit.ObjectNotFoundError):
        shmkit.LogArchiveReader(os.path.join(out_dir, "missing.npz"))
    bad = os.path.join(out_dir, "bad.npz")
    with open(bad, "wb") as f:
        f.write(b"not a zip archive at all")
    with pytest.raises(shmkit.CorruptDataError):
        shmkit.LogArchiveReader(bad)
    instance = unique("log")
    with shmkit.DataLogger(out_dir, instance):
        with pytest.raises(shmkit.ObjectExistsError):
            shmkit.DataLogger(out_dir, instance)
