"""shmkit from Python: a shared array, the store as a dict, and a channel.

    scripts/python examples/python/quickstart.py
"""

import os
import tempfile

import numpy as np

import shmkit

tag = f"py-quickstart-{os.getpid()}"

# A shared array: a zero-copy numpy view any process can open by name.
frames = shmkit.SharedArray.create(tag, (4, 480, 640), "u2")
with frames.lock() as lock:
    frames.array[0] = 7
    print("array", frames.array.shape, frames.array.dtype, "lock recovered:", lock.recovered)
copy = frames.snapshot()  # seqlock-consistent, never blocks a writer
shmkit.SharedArray.remove(tag)

# The store: an embedded server and a Brain with a dict API.
with tempfile.TemporaryDirectory() as tmp:
    socket = os.path.join(tmp, "store.sock")
    with shmkit.StoreServer(capacity=64 << 20, socket=socket):
        brain = shmkit.Brain(socket, namespace="rig")
        brain["state"] = "trial 3: stimulus left"
        brain["profile"] = np.linspace(0, 1, 640, dtype=np.float32)
        profile = brain["profile"]  # read-only, zero-copy
        print("store", brain.names(), brain["state"], profile.dtype, profile.flags.writeable)
        del profile

# A channel: publish a frame, receive it as a read-only array in place.
channel = shmkit.Channel.create(tag, dtype="u2", shape=[480, 640], slots=4)
subscriber = channel.subscriber()
publisher = channel.publisher()
loan = publisher.loan()
loan.array[:] = 42
publisher.publish(loan)
sample = subscriber.receive(timeout=1.0)
print("channel", sample.sequence, sample.array.shape, int(sample.array[0, 0]))
del sample
subscriber.close()
publisher.close()
shmkit.Channel.remove(tag)
