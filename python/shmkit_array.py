"""Attach to a shmkit shared array from Python, with numpy and nothing else.

A shmkit ``SharedArray<T>`` lives in ``/dev/shm/<name>``. Its C-order data
starts at offset 0, so numpy can use the segment as a buffer directly; a
trailer in the last 4096 bytes records the dtype and shape. This module reads
that trailer, checks it, and hands back a zero-copy ``numpy.ndarray`` view::

    import shmkit_array

    with shmkit_array.attach("frames") as shared:   # or SharedArray("frames")
        print(shared.dtype, shared.shape)            # float32 (480, 640)
        frame = shared.array                         # a view, not a copy
        frame[0, 0] = 1.0                            # C++ sees this at once
        copy = shared.snapshot()                     # a copy no locked C++ writer tore

    # or from a shell:  python3 python/shmkit_array.py frames

What it does and does not do:

- Attaching never removes the array. Python's ``multiprocessing`` resource
  tracker would unlink every ``SharedMemory`` it saw when the interpreter
  exits (Python 3.8-3.12 register a segment even when they only attach to
  it); this module unregisters the segment, or on Python 3.13+ asks for
  ``track=False``, so the array outlives the Python process.
- Creation stays in C++ (``SharedArray<T>::create`` or ``shmkit array
  create``): the trailer holds a process-shared, robust pthread mutex that
  Python cannot initialise. For the same reason Python does not take that
  lock: writes through ``.array`` are plain, unlocked stores. Use
  ``snapshot()`` to read a consistent copy while a C++ process writes under
  the lock.
- Little-endian hosts only, as shmkit itself.
- Views never dangle. numpy keeps a reference to the mapping, not a buffer
  export, so unmapping under a live array (what ``SharedMemory.close()`` does,
  also from its ``__del__``) would make the next access crash the
  interpreter. This module therefore maps the segment itself and lets the
  mapping live as long as any array uses it: ``close()`` (or leaving the
  ``with`` block) unmaps at once when no view remains, and otherwise when the
  last view is garbage collected. ``attach(name).array`` on its own is safe.

Errors: ``FileNotFoundError`` when no segment has the name, ``ValueError``
(for a bad name) and ``LayoutError`` (a ``ValueError``: not a shmkit array,
other layout version, inconsistent trailer), ``TimeoutError`` from
``snapshot()``. Messages name the array and the fix, as the C++ ones do.
"""

from __future__ import annotations

import argparse
import mmap
import re
import struct
import sys
import time
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

__all__ = ["LayoutError", "ArrayLayout", "SharedArray", "attach", "read_layout"]

# The byte layout of the trailer; include/shmkit/array/layout.hpp and
# include/shmkit/core/segment.hpp pin these offsets with static_asserts.
TRAILER_BYTES = 4096
SEGMENT_MAGIC = b"SHMKIT\0\0"
KIND_ARRAY = 1
KINDS = {1: "array", 2: "logger"}
LAYOUT_VERSION = 1
MAX_DIMS = 16
_TAG = struct.Struct("<8sIIiIQq")  # magic, kind, layout_version, creator pid, uid, start ticks, created ns
_DTYPE_OFFSET = 40
_ITEM_SIZE_OFFSET = 48  # u32, then ndim u32 at 52 and data_bytes u64 at 56
_SHAPE_OFFSET = 64
_FLAGS_OFFSET = 192
_SEQUENCE_OFFSET = 320  # the seqlock counter (u64, own cache line)
_UNLINK_ON_CREATOR_CLOSE = 1

# The element types shmkit writes (numpy dtype.str).
_DTYPES = ("|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8", "<c8", "<c16")
_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class LayoutError(ValueError):
    """The segment is not a shmkit array this module can read."""


@dataclass(frozen=True)
class ArrayLayout:
    """What the trailer of a shmkit array says."""

    dtype: np.dtype
    shape: tuple[int, ...]
    data_bytes: int
    segment_bytes: int
    creator_pid: int
    creator_uid: int
    created_unix_ns: int
    unlink_on_creator_close: bool


def _describe(name: str) -> str:
    return f"shared array '{name}'"


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"a shared array name is a str, not {type(name).__name__}")
    hint = "names are 1..200 characters of [A-Za-z0-9._-], not starting with '.'"
    if name.startswith("/"):
        raise ValueError(f"invalid name '{name}': drop the leading '/' ({hint})")
    if not _NAME_RE.fullmatch(name) or name.startswith("."):
        bad = next((c for c in name if not re.fullmatch(r"[A-Za-z0-9._-]", c)), None)
        detail = f"character {bad!r} is not allowed" if bad is not None else "bad length or leading '.'"
        raise ValueError(f"invalid name '{name}': {detail} ({hint})")


def read_layout(buf: Any, name: str = "?") -> ArrayLayout:
    """Parses and validates the trailer at the end of ``buf`` (the whole segment).

    Raises LayoutError with a message that names the array and the fix.
    """
    size = len(buf)
    what = f"cannot open {_describe(name)}"
    if size < TRAILER_BYTES:
        raise LayoutError(
            f"{what}: the segment is {size} bytes, too short to hold the {TRAILER_BYTES}-byte shmkit trailer; "
            "it was not created by shmkit"
        )
    base = size - TRAILER_BYTES
    magic, kind, version, pid, uid, _start_ticks, created_ns = _TAG.unpack_from(buf, base)
    if magic != SEGMENT_MAGIC:
        raise LayoutError(
            f"{what}: bad magic, so it is not a shmkit segment (or its creator died while creating it; "
            f"remove it with 'shmkit array rm {name}')"
        )
    if kind != KIND_ARRAY:
        raise LayoutError(f"{what}: it is a shmkit {KINDS.get(kind, 'unknown')} segment, not an array")
    if version != LAYOUT_VERSION:
        raise LayoutError(
            f"{what}: layout version {version}, but this module reads version {LAYOUT_VERSION}; "
            "use the shmkit_array.py of the shmkit release that created it"
        )
    dtype_raw = bytes(buf[base + _DTYPE_OFFSET : base + _DTYPE_OFFSET + 8]).split(b"\0", 1)[0]
    dtype_text = dtype_raw.decode("ascii", errors="replace")
    if dtype_text not in _DTYPES:
        raise LayoutError(f"{what}: its trailer names an unknown dtype '{dtype_text}'")
    dtype = np.dtype(dtype_text)
    item_size, ndim, data_bytes = struct.unpack_from("<IIQ", buf, base + _ITEM_SIZE_OFFSET)
    if item_size != dtype.itemsize or ndim > MAX_DIMS:
        raise LayoutError(f"{what}: its trailer is inconsistent (item size {item_size}, ndim {ndim})")
    shape = tuple(int(n) for n in struct.unpack_from(f"<{ndim}Q", buf, base + _SHAPE_OFFSET))
    count = 1
    for extent in shape:
        count *= extent
    if count * item_size != data_bytes or data_bytes > base:
        raise LayoutError(f"{what}: shape {shape} of {dtype_text} does not fit the {size}-byte segment")
    (flags,) = struct.unpack_from("<I", buf, base + _FLAGS_OFFSET)
    return ArrayLayout(
        dtype=dtype,
        shape=shape,
        data_bytes=data_bytes,
        segment_bytes=size,
        creator_pid=pid,
        creator_uid=uid,
        created_unix_ns=created_ns,
        unlink_on_creator_close=bool(flags & _UNLINK_ON_CREATOR_CLOSE),
    )


def _open_untracked(name: str) -> SharedMemory:
    """Opens an existing segment so that Python never unlinks it."""
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)  # type: ignore[call-arg]
    shm = SharedMemory(name)
    # Python 3.8-3.12 register attached segments too, and the tracker unlinks
    # whatever is still registered when the interpreter exits.
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def _map(name: str) -> mmap.mmap:
    """Maps all of an existing segment; the mapping lives while referenced."""
    shm = _open_untracked(name)
    try:
        # A mapping of our own: SharedMemory.close() (and its __del__) unmap
        # its mapping even while numpy arrays still point into it.
        return mmap.mmap(shm._fd, shm.size)  # type: ignore[attr-defined]
    finally:
        shm.close()


class SharedArray:
    """A numpy view of a shmkit shared array.

    ``array`` is an ``np.ndarray`` over the shared bytes (no copy); writes to
    it are unlocked stores that every process sees. Use as a context manager,
    or call ``close()`` when done.
    """

    def __init__(self, name: str, *, timeout: float = 1.0) -> None:
        """Attaches to ``/dev/shm/<name>``.

        ``timeout`` bounds the wait for a creator that is still initialising
        the segment (its magic is written last).
        Raises ValueError (bad name), FileNotFoundError, LayoutError.
        """
        _check_name(name)
        self.name = name
        try:
            self._mmap: mmap.mmap | None = _map(name)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"cannot open {_describe(name)}: no such segment in /dev/shm (create it from C++ first)"
            ) from None
        except ValueError as error:  # mmap refuses an empty file
            raise LayoutError(
                f"cannot open {_describe(name)}: the segment is empty (0 bytes), so it is not a shmkit array "
                "or its creator has not finished creating it"
            ) from error
        try:
            self._wait_for_magic(timeout)
            self.layout = read_layout(self._mmap, name)
            # The array's base is the mmap object, which keeps the mapping.
            self._array: np.ndarray | None = np.ndarray(self.layout.shape, self.layout.dtype, buffer=self._mmap)
        except BaseException:
            self._mmap.close()
            self._mmap = None
            raise

    def _wait_for_magic(self, timeout: float) -> None:
        assert self._mmap is not None
        buf = self._mmap
        if len(buf) < TRAILER_BYTES:
            return
        magic_at = len(buf) - TRAILER_BYTES
        deadline = time.monotonic() + timeout
        while buf[magic_at : magic_at + 8] == bytes(8) and time.monotonic() < deadline:
            time.sleep(0.001)

    @property
    def array(self) -> np.ndarray:
        """The zero-copy view. Raises ValueError after close()."""
        if self._array is None:
            raise ValueError(f"{_describe(self.name)} is closed")
        return self._array

    @property
    def dtype(self) -> np.dtype:
        return self.layout.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.layout.shape

    @property
    def closed(self) -> bool:
        return self._mmap is None

    def snapshot(self, timeout: float = 1.0) -> np.ndarray:
        """A copy that no locked C++ writer tore (the C++ snapshot()'s seqlock).

        Retries while a lock holder is writing; never blocks the writer.
        Raises TimeoutError if no consistent copy was possible within ``timeout``.
        """
        array = self.array
        buf = self._mmap
        assert buf is not None
        at = len(buf) - TRAILER_BYTES + _SEQUENCE_OFFSET
        out = np.empty_like(array)
        deadline = time.monotonic() + timeout
        while True:
            # x86 keeps loads in order; the interpreter's calls between the
            # loads keep the compiler from merging them.
            (before,) = struct.unpack_from("<Q", buf, at)
            if before % 2 == 0:
                np.copyto(out, array)
                (after,) = struct.unpack_from("<Q", buf, at)
                if after == before:
                    return out
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"cannot take a consistent snapshot of {_describe(self.name)} within {timeout} s: "
                    "a lock holder kept writing (or died while writing; the next C++ lock() recovers it)"
                )
            time.sleep(0)

    def close(self) -> None:
        """Releases this handle; never removes the array. Idempotent.

        Unmaps now if no view of ``array`` is left, else when the last one is
        garbage collected (so a view never points at unmapped memory).
        """
        if self._mmap is None:
            return
        mapping, self._mmap, self._array = self._mmap, None, None
        # Views hold references, not buffer exports: count them. Two
        # references are ours (`mapping` and getrefcount's argument).
        if sys.getrefcount(mapping) <= 2:
            mapping.close()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"dtype={self.layout.dtype.str} shape={self.layout.shape}"
        return f"SharedArray('{self.name}', {state})"


def attach(name: str, *, timeout: float = 1.0) -> SharedArray:
    """Attaches to the shmkit array ``name``; see SharedArray."""
    return SharedArray(name, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a shmkit shared array (dtype, shape, values).")
    parser.add_argument("name", help="the array's name (as in /dev/shm/<name>)")
    parser.add_argument("--info", action="store_true", help="print the trailer only, not the values")
    args = parser.parse_args(argv)
    try:
        with attach(args.name) as shared:
            layout = shared.layout
            print(f"name:    {shared.name}")
            print(f"dtype:   {layout.dtype.str} ({layout.dtype.name})")
            print(f"shape:   {layout.shape}")
            print(f"bytes:   {layout.data_bytes} data, {layout.segment_bytes} segment")
            print(f"creator: pid {layout.creator_pid}, uid {layout.creator_uid}, "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(layout.created_unix_ns / 1e9))}")
            if not args.info:
                print(np.array2string(shared.snapshot(), threshold=200))
    except (OSError, ValueError, TimeoutError) as error:
        print(f"shmkit_array: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
