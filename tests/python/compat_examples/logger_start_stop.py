# ataraxis README, "Creating and Starting the DataLogger".
from pathlib import Path
import tempfile
from shmkit.compat import DataLogger

if __name__ == "__main__":
    tempdir = tempfile.TemporaryDirectory()
    logger = DataLogger(output_directory=Path(tempdir.name), instance_name="my_name")
    logger.start()
    logger.stop()
