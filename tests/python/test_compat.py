"""shmkit.compat: ataraxis-data-structures' README examples, written against
`shmkit.compat` (compat_examples/, one script each, run in a fresh
interpreter as their users would run them), and bad input."""

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import multiprocessing
import numpy as np
import pytest

import shmkit
from shmkit.compat import (
    ArrayExistsError,
    ArrayNotFoundError,
    DataLogger,
    DataMismatchError,
    LogPackage,
    NotConnectedError,
    SharedMemoryArray,
)

EXAMPLES = Path(__file__).parent / "compat_examples"
# The fixed buffer names of the examples, replaced by unique ones so tests run in parallel.
ARRAY_NAMES = ("unique_buffer_name", "unique_buffer", "test_concurrent")
LOGGER_NAMES = ("my_name",)


def run_example(file, unique):
    text = (EXAMPLES / file).read_text()
    arrays, loggers = [], []
    for literal in ARRAY_NAMES + LOGGER_NAMES:
        if f'"{literal}"' in text:
            name = unique(literal.replace("_", ""))
            (loggers if literal in LOGGER_NAMES else arrays).append(name)
            text = text.replace(f'"{literal}"', f'"{name}"')
    with tempfile.TemporaryDirectory(prefix="shmkit-compat-") as directory:
        script = Path(directory) / file
        script.write_text(text)
        try:
            result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
            assert result.returncode == 0, f"{file} failed:\n{result.stdout}\n{result.stderr}"
            return result, arrays
        finally:
            for name in arrays:
                shmkit.SharedArray.remove(name)
            for name in loggers:
                shmkit.DataLogger.remove_segment(name)


def array_exists(name):
    try:
        shmkit.SharedArray.open(name).close()
        return True
    except shmkit.ObjectNotFoundError:
        return False


def test_example_create_destroys_on_exit(unique):
    result, names = run_example("array_create.py", unique)
    assert f"SharedMemoryArray(name='{names[0]}', shape=(2, 3), datatype=float64, connected=True)" in result.stdout
    assert not array_exists(names[0]), "enable_buffer_destruction() did not remove the buffer at exit"


@pytest.mark.parametrize("file", ["array_connect.py", "array_read_write.py", "array_read_data.py"])
def test_example_destroys(file, unique):
    _, names = run_example(file, unique)
    assert not array_exists(names[0])


def test_example_read_write_clip_output(unique):
    result, _ = run_example("array_read_write.py", unique)
    assert "Before clipping: [  1   2 123   4   5   6]" in result.stdout
    assert "After clipping: [ 1  2 10  4  5  6]" in result.stdout


def test_example_five_processes(unique):
    result, names = run_example("array_processes.py", unique)
    assert "Example runtime: complete" in result.stdout
    assert not array_exists(names[0])


@pytest.mark.parametrize("file", ["logger_start_stop.py", "logger_log.py", "logger_assemble.py", "reader.py"])
def test_example_logger(file, unique):
    result, _ = run_example(file, unique)
    if file == "reader.py":
        assert "Message count: 100" in result.stdout and "Processed 100 messages" in result.stdout


@pytest.fixture
def sma(unique):
    name = unique("sma")
    array = SharedMemoryArray.create_array(name, np.arange(6, dtype=np.int64))
    yield array
    array.destroy()
    shmkit.SharedArray.remove(name)


def test_bad_prototype_and_name(unique):
    name = unique("bad")
    with pytest.raises(shmkit.ValueTypeError, match="prototype must be a numpy ndarray"):
        SharedMemoryArray.create_array(name, [1, 2, 3])
    with pytest.raises(TypeError):
        SharedMemoryArray.create_array(name, (1, 2))
    with pytest.raises(shmkit.InvalidNameError):
        SharedMemoryArray.create_array("bad/name", np.zeros(3))
    with pytest.raises(shmkit.ValueTypeError, match="not a dtype shmkit arrays can hold"):
        SharedMemoryArray.create_array(name, np.array([object()], dtype=object))
    assert not array_exists(name)


def test_exists_then_recreate(sma):
    with pytest.raises(ArrayExistsError, match="exists_ok=True") as error:
        SharedMemoryArray.create_array(sma.name, np.zeros(2))
    assert isinstance(error.value, FileExistsError) and isinstance(error.value, shmkit.ObjectExistsError)
    sma[0] = 42  # the existing one is untouched and usable
    assert sma[0] == 42
    again = SharedMemoryArray.create_array(sma.name, np.full(3, 7, dtype=np.uint8), exists_ok=True)
    assert again[0:3].tolist() == [7, 7, 7] and again.datatype == np.uint8
    older = SharedMemoryArray.create_array(sma.name, np.full(2, 9, dtype=np.int16), True)  # exist_ok, positional
    assert older[0:2].tolist() == [9, 9]
    older.disconnect()
    again.disconnect()


def test_not_connected_then_connected(sma):
    sma.disconnect()
    for action in (lambda: sma[0], lambda: sma.__setitem__(0, 1), lambda: sma.read_data(0)):
        with pytest.raises(NotConnectedError, match="call connect"):
            action()
    with pytest.raises(ConnectionError):
        with sma.array():
            pass
    sma.connect()
    assert sma.read_data((0,), convert_output=True) == [0, 1, 2, 3, 4, 5]


def test_connect_missing_or_different(unique, sma):
    missing = SharedMemoryArray(unique("missing"), (3,), np.dtype(np.int64))
    with pytest.raises(ArrayNotFoundError) as error:
        missing.connect()
    assert isinstance(error.value, FileNotFoundError) and not missing.is_connected
    other = SharedMemoryArray(sma.name, (3,), np.dtype(np.float32))
    with pytest.raises(shmkit.LayoutError, match="int64 \\(6,\\), not float32 \\(3,\\)"):
        other.connect()
    assert not other.is_connected


def test_bad_index_and_data_leave_it_usable(sma):
    with pytest.raises(shmkit.IndexOutOfRangeError):
        sma[6]
    with pytest.raises(IndexError):
        sma.read_data(10)
    with pytest.raises(DataMismatchError):
        sma[0:2] = [1, 2, 3]
    with pytest.raises(ValueError):
        sma.write_data((0, 2), "not a number")
    with pytest.raises(shmkit.IndexOutOfRangeError):
        sma.write_data(99, 1)
    # The lock was released on every error: a locked write still goes through.
    with sma._shared.lock(timeout=1):
        pass
    sma[0:2] = [10, 11]
    assert sma[0:6].tolist() == [10, 11, 2, 3, 4, 5]


def _spawned_child(array, value):
    array.connect()
    array[1] = value
    array.disconnect()


def test_pickled_to_a_spawned_process(sma):
    state = pickle.loads(pickle.dumps(sma))
    assert not state.is_connected and state.name == sma.name and state.shape == (6,)
    child = multiprocessing.get_context("spawn").Process(target=_spawned_child, args=(sma, 99))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    assert sma[1] == 99


def test_logger_refuses_a_non_package(unique):
    instance = unique("log")
    with tempfile.TemporaryDirectory(prefix="shmkit-compat-") as directory:
        logger = DataLogger(Path(directory), instance)
        try:
            logger.start()
            with pytest.raises(shmkit.ValueTypeError, match="LogPackage"):
                logger.input_queue.put((1, 2, b"x"))
            logger.input_queue.put(LogPackage(np.uint8(4), np.uint64(5), np.arange(3, dtype=np.uint8)))
            logger.stop()
            assert not logger.alive
            name, data = LogPackage(np.uint8(4), np.uint64(5), np.arange(3, dtype=np.uint8)).data
            assert name == f"004_{5:020d}" and data.tolist() == [4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
            from shmkit.compat import assemble_log_archives

            report = assemble_log_archives(logger.output_directory)
            assert report["entries"] == 1
            with np.load(logger.output_directory / "4_log.npz") as archive:
                assert archive[name].tolist() == data.tolist()
        finally:
            del logger
            shmkit.DataLogger.remove_segment(instance)


def _producer(queue, source, count):
    for i in range(1, count + 1):
        queue.put(LogPackage(np.uint8(source), np.uint64(i), np.full(4, i, dtype=np.uint8)))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_input_queue_from_child_processes(method, unique):
    instance = unique("log")
    with tempfile.TemporaryDirectory(prefix="shmkit-compat-") as directory:
        logger = DataLogger(Path(directory), instance)
        try:
            logger.start()
            logger.input_queue.put(LogPackage(np.uint8(9), np.uint64(1), np.zeros(2, dtype=np.uint8)))
            context = multiprocessing.get_context(method)
            children = [context.Process(target=_producer, args=(logger.input_queue, s, 200)) for s in (1, 2)]
            for child in children:
                child.start()
            for child in children:
                child.join(timeout=120)
            assert [c.exitcode for c in children] == [0, 0]
            logger.stop()
            from shmkit.compat import assemble_log_archives

            report = assemble_log_archives(logger.output_directory)
            assert report["entries"] == 401 and report["clean"], report
            for source in (1, 2):
                with np.load(logger.output_directory / f"{source}_log.npz") as archive:
                    assert len(archive.files) == 200
                    assert archive[f"{source:03d}_{200:020d}"][9:].tolist() == [200] * 4
        finally:
            del logger
            shmkit.DataLogger.remove_segment(instance)
