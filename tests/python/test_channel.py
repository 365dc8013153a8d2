"""shmkit.Channel from Python, with real processes on both sides.

A C++ demo camera publishes frames that a Python subscriber reads in place;
Python publishes samples that the C++ `shmkit channel echo` prints; a Python
subscriber SIGKILLed while holding samples gets its slots reclaimed; Ctrl-C
interrupts a blocking receive; bad input raises the documented errors.
"""

import gc
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import shmkit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHMKIT = os.environ.get("SHMKIT_CLI", str(ROOT / "build" / "src" / "cli" / "shmkit"))


def unique(tag):
    return f"pytest-{os.getpid()}-{tag}"


def wait_until(condition, what, seconds=30.0):
    """Polls `condition` until it holds; fails the test after `seconds` (a deadline, not a delay)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)


def process_state(pid):
    """The state letter of /proc/<pid>/stat (R running, S sleeping, ...)."""
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


@pytest.fixture
def channel_name(request):
    name = unique(request.node.name)
    yield name
    shmkit.Channel.remove(name)


def test_python_reads_the_cpp_demo_cameras_frames_in_place(tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "seconds: 30\n"
        "camera:\n  frame_rate_hz: 100\n  height: 64\n  width: 80\n  channel_slots: 8\n"
        "logger:\n  ring_mib: 2\n"
        "store:\n  capacity_mib: 8\n"
    )
    demo = subprocess.Popen([SHMKIT, "demo", "--config", str(settings), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        name = None
        for line in demo.stdout:
            if line.strip().startswith("channel "):
                name = line.split()[1]
                break
        assert name is not None, "the demo did not print its channel"
        frames = shmkit.Channel.open(name).subscriber(start="now")
        numbers = []
        while len(numbers) < 5:
            sample = frames.receive(timeout=10.0)
            assert sample is not None, "no frame from the C++ camera within 10 s"
            pixels = sample.array
            assert pixels.dtype == np.uint16 and pixels.shape == (64, 80)
            assert not pixels.flags.writeable
            flat = pixels.reshape(-1)
            head = sum(int(flat[i]) << (16 * i) for i in range(4))
            tail = sum(int(flat[-4 + i]) << (16 * i) for i in range(4))
            assert head == tail, "a frame read in place was torn"
            numbers.append(head)
        assert numbers == sorted(numbers) and len(set(numbers)) == 5
        frames.close()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=60)
    assert demo.returncode == 130


def test_cpp_echo_prints_what_python_publishes(channel_name):
    # History 3: the echo process gets all three samples whenever its
    # subscription completes.
    channel = shmkit.Channel.create(channel_name, dtype="i4", shape=[3], slots=6, history=3)
    publisher = channel.publisher()
    echo = subprocess.Popen([SHMKIT, "channel", "echo", channel_name, "-n", "3", "--timeout", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: len(channel.info()["subscribers"]) == 1, "the echo process to subscribe")
    for k in range(3):
        loan = publisher.loan(timeout=5.0)
        loan.array[:] = [k, 10 * k, 100 * k]
        assert publisher.publish(loan) == k + 1
    out, _ = echo.communicate(timeout=60)
    assert echo.returncode == 0, out
    assert "<i4 (3,) [2, 20, 200]" in out, out
    assert "3 samples printed, 0 missed" in out, out


def test_a_sigkilled_python_subscriber_gets_its_slots_reclaimed(channel_name):
    channel = shmkit.Channel.create(channel_name, dtype="f8", shape=[16], slots=4, history=1)
    publisher = channel.publisher()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, shmkit\n"
         f"s = shmkit.Channel.open({channel_name!r}).subscriber()\n"
         "held = [s.receive(timeout=30.0) for _ in range(2)]\n"
         "assert all(h is not None for h in held)\n"
         "print('holding', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(channel.info()["subscribers"]) == 1, "the child to subscribe")
        for value in (1.0, 2.0):
            assert publisher.send(np.full(16, value)) is not None
        assert holder.stdout.readline().strip() == "holding"
        assert channel.info()["subscribers"][0]["holding"] == 2
    finally:
        holder.kill()
        holder.wait()
    assert channel.reclaim_dead() == 1
    assert channel.info()["subscribers"] == []
    # Every slot but the newest (kept as history) can be loaned again.
    loans = [publisher.loan() for _ in range(3)]
    assert all(loan is not None for loan in loans)


def test_ctrl_c_interrupts_a_blocking_receive(channel_name):
    shmkit.Channel.create(channel_name, bytes=8)
    waiter = subprocess.Popen(
        [sys.executable, "-c",
         "import signal, shmkit\n"
         # Python installs its Ctrl-C handler only when SIGINT is not ignored
         # at start-up; a test runner may start us with it ignored.
         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         f"s = shmkit.Channel.open({channel_name!r}).subscriber()\n"
         "print('waiting', flush=True)\n"
         "try:\n"
         "    s.receive(timeout=None)\n"
         "except KeyboardInterrupt:\n"
         "    print('interrupted', flush=True)\n"],
        stdout=subprocess.PIPE, text=True)
    assert waiter.stdout.readline().strip() == "waiting"
    # Interrupt it once it sleeps: in receive(), the only place it can.
    wait_until(lambda: process_state(waiter.pid) == "S", "the child to sleep in receive()")
    waiter.send_signal(signal.SIGINT)
    out, _ = waiter.communicate(timeout=30)
    assert out.strip() == "interrupted"
    assert waiter.returncode == 0


def test_samples_stay_held_while_an_array_from_them_lives(channel_name):
    channel = shmkit.Channel.create(channel_name, dtype="u1", shape=[8], slots=3)
    subscriber = channel.subscriber()
    publisher = channel.publisher()
    publisher.send(np.arange(8, dtype=np.uint8))
    view = subscriber.receive().array
    gc.collect()
    assert channel.info()["subscribers"][0]["holding"] == 1
    subscriber.close()  # the sample keeps the subscriber (and the mapping) alive
    assert view[7] == 7
    del view
    gc.collect()
    assert channel.info()["subscribers"] == []


def test_bad_input_raises_clear_errors(channel_name):
    with pytest.raises(shmkit.InvalidNameError):
        shmkit.Channel.create("bad/name", bytes=8)
    with pytest.raises(ValueError):
        shmkit.Channel.create(channel_name, dtype="u1")  # neither shape, max_bytes nor bytes
    with pytest.raises(shmkit.ObjectNotFoundError):
        shmkit.Channel.open(channel_name)
    channel = shmkit.Channel.create(channel_name, dtype="u2", shape=[2, 3])
    publisher = channel.publisher()
    with pytest.raises(shmkit.ObjectExistsError):
        channel.publisher()
    with pytest.raises(TypeError, match="uint16"):
        publisher.send(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(shmkit.LayoutError, match=r"\(2, 3\)"):
        publisher.send(np.zeros((3, 2), dtype=np.uint16))
    with pytest.raises(ValueError, match="contiguous"):
        publisher.send(np.zeros((3, 2), dtype=np.uint16).T)
    loan = publisher.loan()
    publisher.publish(loan)
    with pytest.raises(shmkit.Error, match="published already"):
        publisher.publish(loan)
    publisher.close()
    with pytest.raises(shmkit.Error, match="closed"):
        publisher.send(np.zeros((2, 3), dtype=np.uint16))
