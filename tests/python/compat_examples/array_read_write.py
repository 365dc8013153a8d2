# ataraxis README, "Reading and Writing SharedMemoryArray Data": indexing,
# slicing and the array() context manager.
import numpy as np
from shmkit.compat import SharedMemoryArray

prototype = np.array([1, 2, 3, 4, 5, 6], dtype=np.uint64)
buffer_name = "unique_buffer"
sma = SharedMemoryArray.create_array(name=buffer_name, prototype=prototype)
sma.connect()

assert sma[2] == np.uint64(3)
assert isinstance(sma[2], np.uint64)
sma[2] = 123
assert sma[2] == np.uint64(123)

assert np.array_equal(sma[:4], np.array([1, 2, 123, 4], dtype=np.uint64))
assert isinstance(sma[:4], np.ndarray)

with sma.array(with_lock=True) as array:
    print(f"Before clipping: {array}")
    array = np.clip(array, 0, 10)
    print(f"After clipping: {array}")

sma.disconnect()
sma.destroy()
