# ataraxis README, "Connection, Disconnection, and Destruction".
import numpy as np
from shmkit.compat import SharedMemoryArray

prototype = np.zeros(shape=6, dtype=np.uint64)
buffer_name = "unique_buffer"
sma = SharedMemoryArray.create_array(name=buffer_name, prototype=prototype)
sma.connect()
assert sma.is_connected
sma.disconnect()
assert not sma.is_connected
sma.destroy()
