"""StoreServer and Brain: the dict API, every value type, zero-copy read-only
arrays, and values shared with the `shmkit store` command."""

import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import shmkit


@pytest.fixture
def server(request):
    directory = tempfile.mkdtemp(prefix="shmkit-py-")
    socket = os.path.join(directory, f"store-{os.getpid()}.sock")
    with shmkit.StoreServer(capacity=16 << 20, socket=socket) as running:
        yield running
    os.rmdir(directory)


@pytest.fixture
def brain(server):
    with shmkit.Brain(server.socket, "test") as b:
        yield b


def test_dict_api(brain):
    brain["rate"] = 30.0
    brain["count"] = 7
    brain["flag"] = True
    brain["animal"] = "mouse-7"
    brain["raw"] = b"\x00\x01\x02"
    brain["z"] = 1 + 2j
    brain["cfg"] = {"gain": 2, "roi": [1, 2, 3], "name": "cam"}
    assert brain["rate"] == 30.0 and type(brain["rate"]) is float
    assert brain["count"] == 7 and type(brain["count"]) is int
    assert brain["flag"] is True
    assert brain["animal"] == "mouse-7"
    assert brain["raw"] == b"\x00\x01\x02"
    assert brain["z"] == 1 + 2j
    assert brain["cfg"] == {"gain": 2, "roi": [1, 2, 3], "name": "cam"}
    assert "rate" in brain and "nothing" not in brain
    assert brain.names() == sorted(["rate", "count", "flag", "animal", "raw", "z", "cfg"])
    assert len(brain) == 7
    del brain["rate"]
    assert "rate" not in brain
    with pytest.raises(shmkit.ObjectNotFoundError):
        brain["rate"]
    with pytest.raises(KeyError):
        del brain["rate"]
    assert "test" in brain.namespaces()
    brain.set_namespace("other")
    assert brain.names() == [] and brain.namespace == "other"
    brain.set("x", 1.5, description="a test value")
    meta = brain.metadata("x")
    assert meta["type"] == "scalar" and meta["dtype"] == "float64" and meta["description"] == "a test value"
    assert meta["creator_pid"] == os.getpid()


def test_arrays_zero_copy_read_only(brain):
    data = np.arange(4 * 512 * 512, dtype=np.uint16).reshape(4, 512, 512)
    brain["frames"] = data
    brain["strided"] = data[:, ::2, ::3]  # stored as a C-order copy
    view = brain["frames"]
    again = brain["frames"]
    assert view.dtype == np.uint16 and view.shape == (4, 512, 512)
    assert not view.flags.writeable
    assert np.shares_memory(view, again) or view.__array_interface__["data"][0] == again.__array_interface__["data"][0]
    with pytest.raises(ValueError):
        view[0, 0, 0] = 1
    np.testing.assert_array_equal(view, data)
    np.testing.assert_array_equal(brain["strided"], data[:, ::2, ::3])
    brain["frames"] = np.zeros(3)  # rebinding keeps the old object alive for `view`
    np.testing.assert_array_equal(view, data)
    del brain["frames"]
    assert view[3, 511, 511] == data[3, 511, 511]
    assert brain.get("strided", type=np.ndarray).shape == (4, 256, 171)
    assert brain.get("strided", type=np.ndarray).base is not None


def test_bad_input(brain):
    with pytest.raises(TypeError):
        brain["list"] = [1, 2, 3]
    with pytest.raises(TypeError):
        brain["obj"] = object()
    with pytest.raises(TypeError):
        brain["strings"] = np.array(["a", "b"])
    with pytest.raises(OverflowError):
        brain["big"] = 2**70
    with pytest.raises(shmkit.InvalidNameError):
        brain["bad/name"] = 1
    brain["f"] = 1.0
    with pytest.raises(shmkit.ValueTypeError, match="float64 scalar"):
        brain.get("f", type=str)
    with pytest.raises(TypeError):
        brain.get("f", type=np.ndarray)
    with pytest.raises(shmkit.WaitTimeoutError):
        brain.get("never", timeout=0.05)
    with pytest.raises(shmkit.InvalidNameError):
        brain.set_namespace("bad/ns")
    assert brain["f"] == 1.0  # still usable


def test_get_waits_for_another_process(brain, server):
    child = subprocess.Popen([sys.executable, "-c", """
import sys, shmkit
b = shmkit.Brain(sys.argv[1], "test")
b.get("go", timeout=60)
b["answer"] = 42
""", server.socket])
    try:
        brain["go"] = 1
        assert brain.get("answer", timeout=60) == 42
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_values_shared_with_cli(brain, server, cli):
    brain["animal"] = "mouse-7"
    brain["rate"] = 2.5
    brain["frame"] = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = subprocess.run([os.environ["SHMKIT_CLI"], "store", "get", "-s", server.socket, "--ns", "test", "animal"],
                         capture_output=True, timeout=60, check=True).stdout
    assert out == b"mouse-7"
    out = subprocess.run([os.environ["SHMKIT_CLI"], "store", "get", "-s", server.socket, "--ns", "test", "rate"],
                         capture_output=True, timeout=60, check=True).stdout
    assert float(out) == 2.5
    out = subprocess.run([os.environ["SHMKIT_CLI"], "store", "get", "-s", server.socket, "--ns", "test", "frame"],
                         capture_output=True, timeout=60, check=True).stdout
    assert out.split() == b"[[0 1 2] [3 4 5]]".split(), out

    cli("store", "set", "-s", server.socket, "--ns", "test", "from_cli", "12")
    cli("store", "set", "-s", server.socket, "--ns", "test", "decimal", "0.25")
    cli("store", "set", "-s", server.socket, "--ns", "test", "text", "hello")
    cli("store", "set", "-s", server.socket, "--ns", "test", "--type", "u2", "small", "65535")
    assert brain["from_cli"] == 12
    assert brain["decimal"] == 0.25
    assert brain["text"] == "hello"
    assert brain["small"] == 65535 and brain.metadata("small")["dtype"] == "uint16"


def test_infinite_timeout_accepted(brain):
    brain["there"] = 1
    assert brain.get("there", timeout=math.inf) == 1


def test_server_errors(server):
    with pytest.raises(shmkit.ObjectExistsError):
        shmkit.StoreServer(capacity=1 << 20, socket=server.socket)
    with pytest.raises(shmkit.WaitTimeoutError):
        shmkit.Brain(server.socket + ".missing", connect_timeout=0.05)


def test_dict_for_a_cpp_struct_carries_its_type_name(brain):
    brain.set("camera", {"gain": 2, "name": "cam0"}, type_name="rig::Camera")
    meta = brain.metadata("camera")
    assert meta["type"] == "config" and meta["type_name"] == "rig::Camera", meta
    brain["plain"] = {"gain": 2}
    assert brain.metadata("plain")["type_name"] == "dict"
    with pytest.raises(TypeError, match="type_name"):
        brain.set("rate", 2.5, type_name="rig::Camera")
    assert "rate" not in brain  # refused before anything was stored


@pytest.mark.parametrize("value", [
    np.bool_(True), np.int8(-128), np.uint8(255), np.int16(-32768), np.uint16(65535), np.int32(-2**31),
    np.uint32(2**32 - 1), np.int64(-2**63), np.uint64(2**64 - 1), np.float32(0.1), np.float64(-2.5e-300),
    np.complex64(0.1 - 2j), np.complex128(1e300 + 1e-300j)])
def test_scalar_of_every_dtype_comes_back_as_numpy_item_gives_it(brain, value):
    brain["scalar"] = value
    got = brain["scalar"]
    assert type(got) is type(value.item()) and got == value.item()
    assert brain.metadata("scalar")["dtype"] == value.dtype.name
