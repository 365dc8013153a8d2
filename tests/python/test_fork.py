"""Handles inherited across os.fork(): a child that drops them (or closes
them, or just exits through Python's finalisation) must leave the parent's
share of shared memory alone: its log writer slot stays active and its
channel subscription stays registered."""

import gc
import os
import tempfile

import numpy as np

import shmkit


def run_in_child(body) -> None:
    """Forks; the child runs `body` and exits 0 (1 if it raised)."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            body()
            gc.collect()
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_a_child_closing_an_inherited_log_writer_leaves_the_parents_slot_active(unique):
    instance = unique("forklog")
    with tempfile.TemporaryDirectory(prefix="shmkit-py-fork-") as out, \
            shmkit.DataLogger(out, instance) as logger:
        writer = shmkit.LogWriter.connect(instance, policy="block")
        assert writer.log(1, b"before", timestamp_us=1)

        def child():
            writer.close()

        run_in_child(child)
        mine = [w for w in logger.stats()["writers"] if w["pid"] == os.getpid()]
        assert [w["state"] for w in mine] == ["active"]
        assert writer.log(1, b"after", timestamp_us=2)
        writer.close()
        logger.stop()
        assert logger.stats()["entries_saved"] == 2


def test_a_child_dropping_an_inherited_subscriber_and_sample_leaves_the_parents(unique):
    name = unique("forkchan")
    channel = shmkit.Channel.create(name, dtype="u1", shape=[8], slots=4, history=1)
    try:
        publisher = channel.publisher()
        subscriber = channel.subscriber()
        publisher.send(np.arange(8, dtype=np.uint8))
        sample = subscriber.receive(timeout=5)
        assert sample is not None
        before = channel.info()

        def child():
            nonlocal subscriber, sample, publisher
            del subscriber, sample, publisher

        run_in_child(child)
        after = channel.info()
        assert len(after["subscribers"]) == len(before["subscribers"]) == 1
        assert after["publisher_pid"] == before["publisher_pid"] == os.getpid()
        publisher.send(np.full(8, 7, dtype=np.uint8))
        assert subscriber.receive(timeout=5).array[0] == 7
    finally:
        del publisher, subscriber, sample
        gc.collect()
        shmkit.Channel.remove(name)


def test_a_child_dropping_an_inherited_array_lock_leaves_the_parents_write_section(unique, array_names):
    name = unique("forklock")
    array_names.append(name)
    a = shmkit.SharedArray.create(name, (4,), "i8")
    lock = a.lock(timeout=1)

    def child():
        try:
            lock.release()
        except RuntimeError as e:
            assert "before this process forked" in str(e)
        else:
            raise AssertionError("a forked child released its parent's lock")
        del globals_holder[:]  # drop the child's last reference: dealloc must not unlock either

    globals_holder = [lock]
    run_in_child(child)
    a.array[:] = 7
    lock.release()
    # Had the child closed the write section, the parent's release would
    # have left the sequence odd and every snapshot would time out.
    np.testing.assert_array_equal(a.snapshot(timeout=1), [7, 7, 7, 7])
