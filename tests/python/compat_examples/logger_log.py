# ataraxis README, "Data Logging": two LogPackages with UTC µs timestamps.
# ataraxis then counts two .npy files; shmkit saves record files, so this
# counts the entries the logger saved instead (the documented difference).
from pathlib import Path
import tempfile
import time
import numpy as np
from shmkit.compat import DataLogger, LogPackage, assemble_log_archives

if __name__ == "__main__":
    tempdir = tempfile.TemporaryDirectory()
    logger = DataLogger(output_directory=Path(tempdir.name), instance_name="my_name")
    logger.start()
    logger_queue = logger.input_queue

    source_id = np.uint8(1)
    timestamp = np.uint64(time.time_ns() // 1000)
    data = np.array([1, 2, 3, 4, 5], dtype=np.uint8)
    logger_queue.put(LogPackage(source_id, timestamp, data))

    timestamp = np.uint64(time.time_ns() // 1000)
    data = np.array([6, 7, 8, 9, 10], dtype=np.uint8)
    logger_queue.put(LogPackage(source_id, timestamp, data))

    logger.stop()
    assert len(list(logger.output_directory.glob("**/*.npy"))) == 0  # record files, not .npy
    report = assemble_log_archives(log_directory=logger.output_directory)
    assert report["entries"] == 2, report
