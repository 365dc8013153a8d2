"""Every C++ exception class arrives in Python as its own shmkit exception."""

import builtins

import pytest

import shmkit


def test_hierarchy():
    for name in ["InvalidNameError", "ObjectExistsError", "ObjectNotFoundError", "LayoutError", "ValueTypeError",
                 "WaitTimeoutError", "StoreFullError", "ConfigError", "CorruptDataError", "IndexOutOfRangeError"]:
        cls = getattr(shmkit, name)
        assert issubclass(cls, shmkit.Error), name
        assert not hasattr(builtins, name), f"{name} shadows a builtin"
    assert issubclass(shmkit.ValueTypeError, shmkit.LayoutError)
    assert issubclass(shmkit.ValueTypeError, TypeError)
    assert issubclass(shmkit.IndexOutOfRangeError, IndexError)
    assert issubclass(shmkit.ObjectNotFoundError, KeyError)
    assert issubclass(shmkit.WaitTimeoutError, TimeoutError)
    assert issubclass(shmkit.InvalidNameError, ValueError)


def test_bad_name_message(unique):
    with pytest.raises(shmkit.InvalidNameError, match="bad/name"):
        shmkit.SharedArray.create("bad/name", (3,), "f4")


def test_not_found_and_exists(unique, array_names):
    name = unique()
    with pytest.raises(shmkit.ObjectNotFoundError, match=name):
        shmkit.SharedArray.open(name)
    array_names.append(name)
    shmkit.SharedArray.create(name, (3,), "f4")
    with pytest.raises(shmkit.ObjectExistsError, match=name):
        shmkit.SharedArray.create(name, (3,), "f4")
    with pytest.raises(shmkit.LayoutError):
        shmkit.SharedArray.create(name, (4,), "f4", exist_ok=True)
