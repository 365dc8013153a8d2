"""ataraxis-data-structures 7 names over shmkit objects.

Code written for ``ataraxis_data_structures`` runs on shmkit by changing one
import::

    from shmkit.compat import SharedMemoryArray, DataLogger, LogPackage
    from shmkit.compat import assemble_log_archives, LogArchiveReader

What maps to what:

- :class:`SharedMemoryArray` is a :class:`shmkit.SharedArray`. Its lock is
  the array's robust process-shared lock (the one C++ writers take), not a
  ``multiprocessing.Lock``, so a C++ process sees the same data under the
  same lock, and a process that dies holding it does not wedge the others.
- :class:`DataLogger` is a :class:`shmkit.DataLogger` (saver thread in the
  process that made it); ``input_queue`` is a :class:`LogQueue` whose
  ``put(LogPackage)`` copies the entry into a :class:`shmkit.LogWriter` ring
  of this process, without a pickle or a queue feeder thread.
- :func:`assemble_log_archives` and :class:`LogArchiveReader` read and write
  the same ``{source_id}_log.npz`` archives as ataraxis (members
  ``{source:03d}_{time:020d}.npy`` holding ``[source u8][time u64][payload]``).

Differences from ataraxis 7, on purpose or by nature:

- ``create_array`` takes ataraxis 7's keyword-only ``exists_ok`` and also the
  older positional/keyword ``exist_ok``; either recreates an existing buffer.
  ``read_data``/``write_data`` (ataraxis <= 4, index ``int``, ``slice``,
  ``(start,)`` or ``(start, stop)``) are kept beside ataraxis 7's indexing.
- Errors are shmkit exceptions that also derive from the builtin ataraxis
  raises: :class:`ArrayExistsError` (``shmkit.ObjectExistsError`` and
  ``FileExistsError``), :class:`ArrayNotFoundError` (``ObjectNotFoundError``
  and ``FileNotFoundError``), :class:`NotConnectedError` (``shmkit.Error``
  and ``ConnectionError``), ``shmkit.IndexOutOfRangeError`` (an
  ``IndexError``), :class:`DataMismatchError` (``shmkit.LayoutError`` and
  ``ValueError``), ``shmkit.ValueTypeError`` (a ``TypeError``) for a
  prototype that is not an ndarray or has a dtype shmkit cannot share
  (object, str, structured: ataraxis' numpy buffer would take them). Nothing is printed through ataraxis'
  console.
- The logger saves record files, not one ``.npy`` per entry: code that counts
  ``*.npy`` files in ``output_directory`` before assembly sees none. After
  :func:`assemble_log_archives` the directory holds the same ``.npz`` files.
- ``DataLogger(thread_count, poll_interval)`` are accepted and ignored (one
  saver thread, woken by the writers). Entries put before ``start()`` wait in
  the ring (1 MiB per writer) instead of an unbounded queue; when the ring is
  full, ``put`` waits up to 2 s for the saver, then drops the entry and
  counts it in ``LogQueue.dropped``. A LogPackage whose acquisition_time is 0
  is an onset entry (8-byte UTC µs payload), as in ataraxis 7's reader.
- ``assemble_log_archives`` always verifies what it wrote
  (``verify_integrity`` is accepted), ignores ``memory_mapping`` and
  ``verbose``, and returns shmkit's report dict rather than None.
- ``LogArchiveReader.onset_timestamp_us`` raises :class:`shmkit.LayoutError`
  (a RuntimeError) when the archive has no onset entry; ``get_batches``
  cuts the sorted message keys into about ``workers * batch_multiplier``
  contiguous batches (ataraxis' sizing may differ; every key is in exactly
  one batch).
- Additions: ``SharedMemoryArray.dtype`` (numpy's name for ``datatype``),
  ``LogQueue.dropped``. A SharedMemoryArray pickles as its name, shape and
  dtype, so a spawned child gets an unconnected instance and calls
  ``connect()``, as ataraxis asks children to; a forked child inherits the
  parent's mapping, and ``connect()`` is then a no-op.
"""

from __future__ import annotations

import os
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

import shmkit

__all__ = [
    "SharedMemoryArray",
    "DataLogger",
    "LogPackage",
    "LogQueue",
    "LogMessage",
    "LogArchiveReader",
    "assemble_log_archives",
    "ArrayExistsError",
    "ArrayNotFoundError",
    "NotConnectedError",
    "DataMismatchError",
]


class ArrayExistsError(shmkit.ObjectExistsError, FileExistsError):
    """A SharedMemoryArray of that name exists and ``exists_ok`` was False."""


class ArrayNotFoundError(shmkit.ObjectNotFoundError, FileNotFoundError):
    """connect() found no shared array of that name."""


class NotConnectedError(shmkit.Error, ConnectionError):
    """The SharedMemoryArray is not connected; call connect() first."""


class DataMismatchError(shmkit.LayoutError, ValueError):
    """Data does not fit the array: wrong shape, or not convertible to its dtype."""


def _as_slice(index: Any) -> Any:
    # ataraxis <= 4 read_data/write_data: (start,) is open-ended, (start, stop) closed.
    if isinstance(index, tuple) and len(index) in (1, 2) and all(isinstance(i, (int, np.integer)) for i in index):
        return slice(int(index[0]), None if len(index) == 1 else int(index[1]))
    return index


class SharedMemoryArray:
    """An n-d numpy array in shared memory, shared by processes (ataraxis' API).

    Create it once with :meth:`create_array`, hand it to child processes
    (fork or pickle: it travels as its name, shape and dtype), call
    :meth:`connect` in each, :meth:`disconnect` when done and :meth:`destroy`
    once at the end (or :meth:`enable_buffer_destruction` in the creator).
    Indexing reads a copy and writes under the array's lock.
    """

    def __init__(self, name: str, shape: tuple[int, ...], datatype: np.dtype[Any]) -> None:
        # As in ataraxis, only records the layout; create_array() makes the buffer.
        self._name = name
        self._shape = tuple(shape)
        self._datatype = np.dtype(datatype)
        self._shared: shmkit.SharedArray | None = None
        self._array: np.ndarray | None = None
        self._destroy_buffer = False

    def __getstate__(self) -> dict[str, Any]:
        # A handle cannot cross a pickle: children reconnect by name.
        return {"_name": self._name, "_shape": self._shape, "_datatype": self._datatype}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["_name"], state["_shape"], state["_datatype"])

    def __repr__(self) -> str:
        return (
            f"SharedMemoryArray(name='{self._name}', shape={self._shape}, datatype={self._datatype}, "
            f"connected={self.is_connected})"
        )

    def __del__(self) -> None:
        try:
            if self._destroy_buffer:
                self.destroy()
            else:
                self.disconnect()
        except Exception:  # noqa: BLE001 -- a finaliser must not raise
            pass

    @classmethod
    def create_array(
        cls, name: str, prototype: np.ndarray, exist_ok: bool = False, *, exists_ok: bool = False
    ) -> "SharedMemoryArray":
        """Creates buffer `name` holding a copy of `prototype` and returns it connected.

        With `exists_ok` (or `exist_ok`), an existing buffer of that name is
        destroyed and made anew. Raises ValueTypeError (prototype not an
        ndarray, or of a dtype shmkit cannot share, e.g. object or str),
        ArrayExistsError, InvalidNameError.
        """
        if not isinstance(prototype, np.ndarray):
            raise shmkit.ValueTypeError(
                f"cannot create SharedMemoryArray '{name}': prototype must be a numpy ndarray, "
                f"not {type(prototype).__name__}"
            )
        if exist_ok or exists_ok:
            shmkit.SharedArray.remove(name)
        try:
            shared = shmkit.SharedArray.create_like(name, prototype)
        except shmkit.ObjectExistsError as error:
            raise ArrayExistsError(
                f"{error}; connect() to use it, or pass exists_ok=True to recreate it"
            ) from None
        except TypeError as error:  # a dtype shmkit cannot share (object, str, structured)
            if isinstance(error, shmkit.Error):
                raise
            raise shmkit.ValueTypeError(f"cannot create SharedMemoryArray '{name}': {error}") from None
        instance = cls(name, prototype.shape, prototype.dtype)
        instance._attach(shared)
        return instance

    def _attach(self, shared: shmkit.SharedArray) -> None:
        self._shared = shared
        self._array = shared.array

    def enable_buffer_destruction(self) -> None:
        """Makes this instance destroy the buffer when garbage-collected (call in the creator only)."""
        self._destroy_buffer = True

    def connect(self) -> None:
        """Opens the buffer in this process; a no-op when connected.

        Raises ArrayNotFoundError, LayoutError (the buffer's dtype or shape
        differs from this instance's).
        """
        if self._shared is not None:
            return
        try:
            shared = shmkit.SharedArray.open(self._name)
        except shmkit.ObjectNotFoundError as error:
            raise ArrayNotFoundError(str(error)) from None
        if shared.dtype != self._datatype or tuple(shared.shape) != self._shape:
            found = f"{shared.dtype} {tuple(shared.shape)}"
            shared.close()
            raise shmkit.LayoutError(
                f"SharedMemoryArray '{self._name}' holds {found}, not {self._datatype} {self._shape}"
            )
        self._attach(shared)

    def disconnect(self) -> None:
        """Drops this process's mapping; the buffer stays until destroy()."""
        self._array = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def destroy(self) -> None:
        """Disconnects and removes the buffer's name; mappings elsewhere stay valid until they close."""
        self.disconnect()
        shmkit.SharedArray.remove(self._name)
        self._destroy_buffer = False

    def _connected_array(self, action: str) -> np.ndarray:
        if self._array is None:
            raise NotConnectedError(
                f"cannot {action} SharedMemoryArray '{self._name}': not connected; call connect() first"
            )
        return self._array

    @contextmanager
    def array(self, *, with_lock: bool = True) -> Iterator[np.ndarray]:
        """Yields the shared ndarray itself; with `with_lock`, holds the array's lock meanwhile."""
        view = self._connected_array("access")
        if with_lock:
            assert self._shared is not None
            with self._shared.lock():
                yield view
        else:
            yield view

    def __getitem__(self, index: Any) -> Any:
        with self.array(with_lock=True) as view:
            try:
                result = view[index]
            except IndexError as error:
                raise shmkit.IndexOutOfRangeError(f"SharedMemoryArray '{self._name}': {error}") from None
            return result.copy() if isinstance(result, np.ndarray) else result

    def __setitem__(self, index: Any, value: Any) -> None:
        with self.array(with_lock=True) as view:
            self._store(view, index, value)

    def _store(self, view: np.ndarray, index: Any, value: Any) -> None:
        try:
            view[index] = value
        except IndexError as error:
            raise shmkit.IndexOutOfRangeError(f"SharedMemoryArray '{self._name}': {error}") from None
        except (ValueError, TypeError, OverflowError) as error:
            raise DataMismatchError(f"SharedMemoryArray '{self._name}': {error}") from None

    def read_data(self, index: Any, convert_output: bool = False, with_lock: bool = True) -> Any:
        """Reads element(s) at `index` (int, slice, (start,) or (start, stop)); a copy.

        With `convert_output`, returns Python values (int, float, list)
        instead of numpy ones.
        """
        with self.array(with_lock=with_lock) as view:
            try:
                result = view[_as_slice(index)]
            except IndexError as error:
                raise shmkit.IndexOutOfRangeError(f"SharedMemoryArray '{self._name}': {error}") from None
            result = result.copy() if isinstance(result, np.ndarray) else result
        return result.tolist() if convert_output else result

    def write_data(self, index: Any, data: Any, with_lock: bool = True) -> None:
        """Writes `data` at `index` (as read_data), converted to the array's dtype."""
        with self.array(with_lock=with_lock) as view:
            self._store(view, _as_slice(index), data)

    @property
    def datatype(self) -> np.dtype[Any]:
        """The numpy dtype."""
        return self._datatype

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype (numpy's name for `datatype`)."""
        return self._datatype

    @property
    def name(self) -> str:
        """The buffer's name."""
        return self._name

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._shape

    @property
    def is_connected(self) -> bool:
        """True while this instance has the buffer mapped."""
        return self._shared is not None


@dataclass(frozen=True, slots=True)
class LogPackage:
    """One log entry: source id (uint8), acquisition time (uint64 µs since onset), uint8 payload."""

    source_id: np.uint8
    acquisition_time: np.uint64
    serialized_data: np.ndarray

    @property
    def data(self) -> tuple[str, np.ndarray]:
        """(member name, serialised entry) as ataraxis saves it: ``[source u8][time u64 LE][payload]``."""
        name = f"{int(self.source_id):03d}_{int(self.acquisition_time):020d}"
        prefix = np.frombuffer(
            np.uint8(self.source_id).tobytes() + np.uint64(self.acquisition_time).astype("<u8").tobytes(), np.uint8
        )
        return name, np.concatenate([prefix, np.asarray(self.serialized_data, dtype=np.uint8).ravel()])


class LogQueue:
    """DataLogger.input_queue: ``put(LogPackage)`` from any process or thread.

    Each (process, thread) claims its own shmkit.LogWriter on first use; the
    queue travels to children (fork or pickle) as the logger's instance name.
    """

    def __init__(self, instance: str) -> None:
        self._instance = instance
        self._local = threading.local()
        self._writers: list[shmkit.LogWriter] = []
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {"instance": self._instance}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["instance"])

    def _writer(self) -> shmkit.LogWriter:
        if self._pid != os.getpid():
            # A forked child: the parent's writers belong to the parent.
            self.__init__(self._instance)
        writer = getattr(self._local, "writer", None)
        if writer is None:
            writer = shmkit.LogWriter.connect(self._instance, policy="block")
            self._local.writer = writer
            self._writers.append(writer)
        return writer

    def put(self, package: LogPackage, block: bool = True, timeout: float | None = None) -> None:
        """Logs `package` (block/timeout are accepted for Queue compatibility).

        Raises ValueTypeError when `package` is not a LogPackage.
        """
        if not isinstance(package, LogPackage):
            raise shmkit.ValueTypeError(f"DataLogger input_queue takes LogPackage, not {type(package).__name__}")
        self._writer().log(int(package.source_id), package.serialized_data, int(package.acquisition_time))

    def put_nowait(self, package: LogPackage) -> None:
        """Same as put()."""
        self.put(package)

    def close_writers(self) -> None:
        """Releases this process's writers (their rings are saved by the logger)."""
        if self._pid != os.getpid():
            return
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        self._local = threading.local()

    @property
    def dropped(self) -> int:
        """Entries this process's writers dropped."""
        return sum(w.dropped for w in self._writers)


class DataLogger:
    """ataraxis' DataLogger over shmkit.DataLogger: saves every LogPackage put in `input_queue`.

    Files go to ``<output_directory>/<instance_name>_data_log``.
    """

    def __init__(
        self, output_directory: Path, instance_name: str, thread_count: int = 5, poll_interval: int = 5
    ) -> None:
        self._logger = shmkit.DataLogger(Path(output_directory), instance_name)
        self._name = instance_name
        self._queue = LogQueue(instance_name)

    def __repr__(self) -> str:
        return f"DataLogger(name={self._name}, output_directory={self.output_directory}, started={self.alive})"

    def __del__(self) -> None:
        try:
            self._queue.close_writers()
            self._logger.close()
        except Exception:  # noqa: BLE001 -- a finaliser must not raise
            pass

    def start(self) -> None:
        """Starts saving (a no-op when running)."""
        self._logger.start()

    def stop(self) -> None:
        """Saves everything logged so far and stops; start() may follow."""
        self._queue.close_writers()
        self._logger.stop()

    @property
    def input_queue(self) -> LogQueue:
        """Where producers put LogPackage instances."""
        return self._queue

    @property
    def name(self) -> str:
        """The instance name."""
        return self._name

    @property
    def alive(self) -> bool:
        """True while saving."""
        return self._logger.running

    @property
    def output_directory(self) -> Path:
        """``<output_directory>/<instance_name>_data_log``."""
        return Path(self._logger.log_directory)


def assemble_log_archives(
    log_directory: Path,
    max_workers: int | None = None,
    *,
    remove_sources: bool = True,
    memory_mapping: bool = True,
    verbose: bool = False,
    verify_integrity: bool = False,
) -> dict[str, Any]:
    """Turns a stopped logger's directory into one ``{source_id}_log.npz`` per source.

    Reads shmkit record files and ataraxis ``.npy`` entries alike. Returns
    shmkit's report (entries, duplicates, clean, sources).
    """
    return shmkit.assemble_log_archives(
        Path(log_directory), remove_sources=remove_sources, threads=max(0, max_workers or 0)
    )


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One message of an archive: UTC timestamp in µs and its payload."""

    timestamp_us: np.uint64
    payload: np.ndarray


class LogArchiveReader:
    """Reads one ``{source_id}_log.npz`` archive (ataraxis' API).

    `onset_us`, when given, is used instead of the archive's onset entry
    (workers skip the discovery).
    """

    def __init__(self, archive_path: Path, onset_us: np.uint64 | None = None) -> None:
        self._archive_path = Path(archive_path)
        self._reader = shmkit.LogArchiveReader(self._archive_path)
        self._onset_us = None if onset_us is None else np.uint64(onset_us)

    def __repr__(self) -> str:
        return f"LogArchiveReader(archive_path={self._archive_path}, message_count={self.message_count})"

    @property
    def onset_timestamp_us(self) -> np.uint64:
        """The onset (UTC µs). Raises shmkit.LayoutError when the archive has none."""
        if self._onset_us is None:
            onset = self._reader.onset_us
            if onset is None:
                raise shmkit.LayoutError(f"log archive '{self._archive_path}' has no onset entry")
            self._onset_us = np.uint64(onset)
        return self._onset_us

    @property
    def message_count(self) -> int:
        """Messages (onset entries excluded)."""
        return self._reader.message_count

    def _message_keys(self) -> list[str]:
        with zipfile.ZipFile(self._archive_path) as archive:
            names = [n[:-4] for n in archive.namelist() if n.endswith(".npy") and n != "allow_pickle.npy"]
        return sorted(n for n in names if not n.endswith("_" + "0" * 20))

    def get_batches(self, workers: int = -1, batch_multiplier: int = 4) -> list[list[str]]:
        """Splits the message keys into about ``workers * batch_multiplier`` contiguous batches."""
        keys = self._message_keys()
        if not keys:
            return []
        workers = os.cpu_count() or 1 if workers <= 0 else workers
        count = max(1, min(len(keys), workers * max(1, batch_multiplier)))
        size = -(-len(keys) // count)
        return [keys[i : i + size] for i in range(0, len(keys), size)]

    def iter_messages(self, keys: list[str] | None = None) -> Iterator[LogMessage]:
        """Yields LogMessage for every message, or for the given keys (from get_batches) only."""
        onset = int(self.onset_timestamp_us)
        if keys is None:
            for _source, time, payload in self._reader.entries():
                if time != 0:
                    yield LogMessage(np.uint64(onset + time), payload)
            return
        with zipfile.ZipFile(self._archive_path) as archive:
            for key in keys:
                with archive.open(key + ".npy") as member:
                    entry = np.load(member)
                time = int(entry[1:9].view("<u8")[0])
                yield LogMessage(np.uint64(onset + time), entry[9:])

    def read_all_messages(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(uint64 timestamps, payloads) of every message."""
        messages = list(self.iter_messages())
        return np.array([m.timestamp_us for m in messages], dtype=np.uint64), [m.payload for m in messages]
