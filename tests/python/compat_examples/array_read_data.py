# ataraxis <= 4 README, "Reading array data" and "Writing array data":
# read_data/write_data with int, (start, stop) and (start,) indices.
import numpy as np
from shmkit.compat import SharedMemoryArray

prototype = np.array([1, 2, 3, 4, 5, 6], dtype=np.uint64)
buffer_name = "unique_buffer"
sma = SharedMemoryArray.create_array(name=buffer_name, prototype=prototype)
sma.connect()

output = sma.read_data(index=2)
assert output == np.uint64(3)
assert isinstance(output, np.uint64)

output = sma.read_data(index=(1, 4), convert_output=False, with_lock=False)
assert np.array_equal(output, np.array([2, 3, 4], dtype=np.uint64))
assert isinstance(output, np.ndarray)

sma.write_data(index=1, data=7, with_lock=True)
assert sma.read_data(index=1, convert_output=True) == 7

sma.write_data(index=(1, 3), data=[10, 11], with_lock=False)
assert sma.read_data(index=(0,), convert_output=True) == [1, 10, 11, 4, 5, 6]

sma.disconnect()
sma.destroy()
