"""SharedArray: zero-copy views, the robust lock, atomics, snapshots, and the
C++ command reading and writing the same segments."""

import inspect
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import shmkit


def test_create_view_and_reopen(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.nbytes == 48
    view = a.array
    assert view.shape == (3, 4) and view.strides == (16, 4) and view.dtype == np.float32
    view[1, 2] = 7.5
    b = shmkit.SharedArray.open(name)
    assert b.array[1, 2] == 7.5
    assert np.shares_memory(b.array, b.array)
    b.array[0, 0] = 1.0
    assert view[0, 0] == 1.0


def test_view_outlives_handle_and_remove(unique):
    name = unique()
    a = shmkit.SharedArray.create(name, (5,), "i8")
    view = a.array
    a.close()
    assert shmkit.SharedArray.remove(name)
    assert not shmkit.SharedArray.remove(name)
    view[:] = 3  # the mapping is still there
    assert view.sum() == 15
    with pytest.raises(shmkit.Error, match="closed"):
        a.lock()
    with pytest.raises(shmkit.Error, match="closed"):
        a.array


def test_create_like_copies_any_layout(unique, array_names):
    name = unique()
    array_names.append(name)
    prototype = np.arange(12, dtype=np.uint16).reshape(3, 4)[:, ::2]  # not contiguous
    a = shmkit.SharedArray.create_like(name, prototype)
    assert a.shape == (3, 2)
    np.testing.assert_array_equal(a.array, prototype)


def test_dtypes_round_trip(unique, array_names):
    for dtype in ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "c8", "c16"]:
        name = unique(dtype.replace("?", "b"))
        array_names.append(name)
        a = shmkit.SharedArray.create(name, (2,), dtype)
        assert a.array.dtype == np.dtype(dtype)
    with pytest.raises(TypeError, match="big-endian|dtype"):
        shmkit.SharedArray.create(unique(), (2,), ">f4")
    with pytest.raises(TypeError):
        shmkit.SharedArray.create(unique(), (2,), "U3")


def test_atomics(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (2, 2), "i4")
    assert a.atomic_add((1, 1), 5) == 0
    assert a.atomic_add((1, 1), -2) == 5
    assert a.atomic_load((1, 1)) == 3
    a.atomic_store((0, 1), 9)
    assert a.array[0, 1] == 9
    assert a.compare_exchange((0, 1), 9, 10) == (True, 9)
    assert a.compare_exchange((0, 1), 9, 11) == (False, 10)
    with pytest.raises(shmkit.IndexOutOfRangeError):
        a.atomic_load((2, 0))
    with pytest.raises(shmkit.IndexOutOfRangeError):
        a.atomic_load(0)
    with pytest.raises(OverflowError):
        a.atomic_store((0, 0), 2**40)
    with pytest.raises(TypeError):
        a.atomic_store((0, 0), 1.5)
    f = shmkit.SharedArray.create(unique(), (2,), "f8", unlink_on_close=True)
    with pytest.raises(TypeError, match="integer dtype"):
        f.atomic_add(0, 1)
    assert a.atomic_load((1, 1)) == 3  # still usable


def test_snapshot_and_slice(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (4, 3), "f8")
    a.array[:] = np.arange(12).reshape(4, 3)
    snap = a.snapshot()
    a.array[0, 0] = 100
    assert snap[0, 0] == 0 and snap.base is None or not np.shares_memory(snap, a.array)
    rows = a.try_snapshot_slice(1, 3)
    np.testing.assert_array_equal(rows, np.arange(3, 9).reshape(2, 3))
    with pytest.raises(shmkit.IndexOutOfRangeError):
        a.try_snapshot_slice(2, 5)


def test_lock_context(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (1,), "u8")
    with a.lock() as held:
        assert held.held and not held.recovered
        a.array[0] += 1
    assert not held.held


def test_lock_is_released_by_with_by_release_and_when_dropped(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (1,), "u8")
    with pytest.raises(ZeroDivisionError):
        with a.lock():
            1 / 0  # the exception goes on; the lock is released on the way
    lock = a.lock(timeout=0.01)
    assert lock.held
    with pytest.raises(shmkit.Error, match=re.escape(f"'{name}': this thread already holds its lock")):
        a.lock(timeout=0.01)  # not recursive: an error that says so, not a hang
    lock.release()
    lock.release()  # a second release does nothing
    assert not lock.held
    dropped = a.lock(timeout=0.01)
    del dropped  # an ArrayLock that goes away unreleased releases the lock
    with a.lock(timeout=0.01) as held:
        assert held.held
        with pytest.raises(TypeError, match="takes 3 arguments"):
            held.__exit__(None)
        assert held.held
    assert not held.held


def test_lock_objects_come_only_from_shared_array_lock():
    with pytest.raises(TypeError, match="cannot create"):
        shmkit.ArrayLock()


def test_only_the_thread_that_took_the_lock_releases_it(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (2,), "i8")
    lock = a.lock(timeout=1)
    errors = []

    def other_thread():
        try:
            lock.release()
        except RuntimeError as e:
            errors.append(str(e))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert errors and "another thread" in errors[0] and name in errors[0]
    assert lock.held
    a.array[:] = 5
    lock.release()
    np.testing.assert_array_equal(a.snapshot(timeout=1), [5, 5])


def test_a_negative_timeout_is_refused_even_when_the_lock_is_free(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (1,), "i8")
    with pytest.raises(ValueError, match="timeout"):
        a.lock(timeout=-1)
    with a.lock(timeout=0):
        pass


def test_lock_takes_its_timeout_every_way_and_refuses_bad_calls(unique, array_names):
    # lock() has a fast path for a free lock and plain arguments; every
    # other call goes the general way: all must behave alike.
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (1,), "i8")
    for call in (lambda: a.lock(), lambda: a.lock(None), lambda: a.lock(0), lambda: a.lock(0.5),
                 lambda: a.lock(timeout=2), lambda: a.lock(timeout=None), lambda: shmkit.SharedArray.lock(a),
                 lambda: a.lock(True), lambda: a.lock(np.float64(0.5))):
        with call() as held:
            assert held.held and isinstance(held, shmkit.ArrayLock)
            a.array[0] += 1
        assert not held.held
    assert a.array[0] == 9
    with pytest.raises(TypeError):
        a.lock("1")
    with pytest.raises(TypeError):
        a.lock(1, 2)
    with pytest.raises(TypeError):
        a.lock(seconds=1)
    with pytest.raises(TypeError):
        shmkit.SharedArray.lock(object())
    with pytest.raises(ValueError, match="timeout"):
        a.lock(float("-inf"))
    with pytest.raises(ValueError, match="timeout"):
        a.lock(timeout=-0.5)
    held = a.lock()
    with pytest.raises(shmkit.Error, match=re.escape(f"'{name}': this thread already holds its lock")):
        a.lock(timeout=0)  # the fast path fails and the general one says why
    held.release()
    b = shmkit.SharedArray.open(name)
    b.close()
    with pytest.raises(shmkit.Error, match="closed"):
        b.lock()
    assert "timeout" in str(inspect.signature(shmkit.SharedArray.lock))


def run_python(code, *args):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120)


def test_sigkilled_holder_leaves_recovered_lock(unique, array_names):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (1,), "i4")
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, shmkit
        a = shmkit.SharedArray.open(sys.argv[1])
        lock = a.lock()
        a.array[0] = 42
        print("locked", flush=True)
        sys.stdin.read()
        """), name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(shmkit.WaitTimeoutError):
            a.lock(timeout=0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with a.lock() as held:
        assert held.recovered
        assert a.array[0] == 42
    with a.lock() as held:
        assert not held.recovered


def test_python_writes_cli_reads(unique, array_names, cli):
    name = unique()
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (3,), "i4")
    a.array[:] = [4, -5, 6]
    out = cli("array", "get", name).stdout
    assert "4" in out and "-5" in out and "6" in out, out


def test_cli_writes_python_reads(unique, array_names, cli):
    name = unique()
    array_names.append(name)
    cli("array", "create", name, "--shape", "2,2", "--dtype", "f8")
    cli("array", "set", name, 1, 0, 2.5)
    a = shmkit.SharedArray.open(name)
    assert a.shape == (2, 2) and a.dtype == np.float64
    assert a.array[1, 0] == 2.5
