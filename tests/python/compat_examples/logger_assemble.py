# ataraxis README, "Log Archive Assembly": 255 entries, one archive.
from pathlib import Path
import tempfile
import numpy as np
from shmkit.compat import DataLogger, LogPackage, assemble_log_archives

if __name__ == "__main__":
    tempdir = tempfile.TemporaryDirectory()
    logger = DataLogger(output_directory=Path(tempdir.name), instance_name="my_name")
    logger.start()
    logger_queue = logger.input_queue

    for i in range(255):
        logger_queue.put(LogPackage(np.uint8(1), np.uint64(i), np.array([i, i, i], dtype=np.uint8)))

    logger.stop()
    assemble_log_archives(log_directory=logger.output_directory, remove_sources=True, memory_mapping=True, verbose=True)

    assert len(list(logger.output_directory.glob("**/*.npy"))) == 0
    assert len(list(logger.output_directory.glob("**/*.npz"))) == 1
    with np.load(logger.output_directory / "1_log.npz") as archive:
        assert len(archive.files) == 255
        assert list(archive[f"001_{7:020d}"]) == [1, 7, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7]
