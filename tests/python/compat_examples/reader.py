# ataraxis README, "LogArchiveReader": onset discovery, iteration, batches
# read by a process pool, read_all_messages. The archive is made first
# (the README points at an existing one).
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import tempfile
import time
import numpy as np
from shmkit.compat import DataLogger, LogArchiveReader, LogPackage, assemble_log_archives


def process_batch(archive_path: Path, onset_us: np.uint64, keys: list[str]) -> int:
    reader = LogArchiveReader(archive_path, onset_us=onset_us)
    processed = 0
    for message in reader.iter_messages(keys=keys):
        assert message.timestamp_us > onset_us and len(message.payload) == 2
        processed += 1
    return processed


if __name__ == "__main__":
    tempdir = tempfile.TemporaryDirectory()
    logger = DataLogger(output_directory=Path(tempdir.name), instance_name="my_name")
    logger.start()
    onset = np.uint64(time.time_ns() // 1000)
    logger.input_queue.put(LogPackage(np.uint8(1), np.uint64(0), np.frombuffer(onset.tobytes(), np.uint8)))
    for i in range(1, 101):
        logger.input_queue.put(LogPackage(np.uint8(1), np.uint64(i), np.array([i, 255 - i], dtype=np.uint8)))
    logger.stop()
    assemble_log_archives(log_directory=logger.output_directory)
    archive_path = logger.output_directory / "1_log.npz"

    reader = LogArchiveReader(archive_path)
    print(f"Onset timestamp: {reader.onset_timestamp_us}")
    print(f"Message count: {reader.message_count}")
    assert reader.onset_timestamp_us == onset and reader.message_count == 100
    for n, message in enumerate(reader.iter_messages(), start=1):
        assert message.timestamp_us == onset + n and list(message.payload) == [n, 255 - n]

    onset_us = reader.onset_timestamp_us
    batches = reader.get_batches(workers=4, batch_multiplier=4)
    assert sorted(k for b in batches for k in b) == [f"001_{i:020d}" for i in range(1, 101)]
    with ProcessPoolExecutor(max_workers=4) as executor:
        futures = [executor.submit(process_batch, archive_path, onset_us, batch) for batch in batches]
        total_processed = sum(f.result() for f in futures)
    print(f"Processed {total_processed} messages")
    assert total_processed == 100

    timestamps, payloads = reader.read_all_messages()
    print(f"Read {len(timestamps)} messages")
    assert timestamps.dtype == np.uint64 and list(timestamps) == [onset + i for i in range(1, 101)]
    assert [list(p) for p in payloads] == [[i, 255 - i] for i in range(1, 101)]
