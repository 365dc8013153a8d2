"""Shared fixtures: unique names and the path of the `shmkit` command."""

import os
import subprocess

import numpy  # noqa: F401  -- the tests need numpy: fail, do not skip, without it
import pytest


@pytest.fixture
def unique(request):
    """A name unique to this process and test: `py-<pid>-<test>-<n>`."""
    counter = [0]
    base = f"py-{os.getpid()}-{request.node.name}".replace("[", "-").replace("]", "")[:150]

    def make(tag="x"):
        counter[0] += 1
        return f"{base}-{tag}{counter[0]}"

    return make


@pytest.fixture
def cli():
    """Runs the `shmkit` command; returns the CompletedProcess (text)."""
    path = os.environ.get("SHMKIT_CLI")
    assert path, "SHMKIT_CLI must name the shmkit command"

    def run(*args, check=True):
        result = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"shmkit {' '.join(map(str, args))} failed: {result.stderr}")
        return result

    return run


@pytest.fixture
def array_names():
    """Arrays named here are removed after the test, even when it fails."""
    import shmkit

    names = []
    yield names
    for name in names:
        shmkit.SharedArray.remove(name)
