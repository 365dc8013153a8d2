# ataraxis README, "Using SharedMemoryArray from Multiple Processes": five
# worker processes increment even values, the parent odd ones, until 200.
import time
from multiprocessing import Process

import numpy as np
from shmkit.compat import SharedMemoryArray


def concurrent_worker(shared_memory_object: SharedMemoryArray, index: int) -> None:
    shared_memory_object.connect()
    while shared_memory_object[index] < 200:
        shared_value = shared_memory_object[index]
        if shared_value % 2 == 0 and shared_value < 200:
            shared_memory_object[index] = shared_value + 1
    shared_memory_object.disconnect()


if __name__ == "__main__":
    sma = SharedMemoryArray.create_array("test_concurrent", np.zeros(5, dtype=np.int32))
    processes = [Process(target=concurrent_worker, args=(sma, i)) for i in range(5)]
    for p in processes:
        p.start()

    sma.connect()
    sma.enable_buffer_destruction()
    start = time.perf_counter()

    while np.any(sma[0:5] < 200):
        with sma.array(with_lock=True) as arr:
            mask = (arr % 2 != 0) & (arr < 200)
            arr[mask] += 1

    for p in processes:
        p.join()
    assert all(p.exitcode == 0 for p in processes)
    assert np.all(sma[0:5] == 200)
    print(f"Example runtime: complete. Time taken: {time.perf_counter() - start:.2f} seconds.")
    sma.disconnect()
    sma.destroy()
