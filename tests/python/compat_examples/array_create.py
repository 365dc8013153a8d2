# ataraxis README, "SharedMemoryArray Creation", in its steps: an n-d
# prototype, create_array, destruction on garbage collection.
from shmkit.compat import SharedMemoryArray
import numpy as np

prototype = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)
buffer_name = "unique_buffer_name"
sma = SharedMemoryArray.create_array(name=buffer_name, prototype=prototype)
sma.enable_buffer_destruction()
assert sma.name == buffer_name
assert sma.shape == prototype.shape
assert sma.datatype == prototype.dtype
print(sma)
