"""The wire carries plain data only and refuses anything else."""
import json
import socket

import numpy as np
import pytest
import torch

from graders import protocol


def roundtrip(value, **options):
    header, buffers = protocol.encode(value, **options)
    return protocol.decode(header, [bytes(b) for b in buffers])


def test_arrays_scalars_and_containers_survive_the_trip():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": (1, 2.5, None, "x", True),
             "l": [np.float64(3.0), np.int64(4)], "nan": float("nan"), "empty": np.zeros((0, 3))}
    back = roundtrip(value)
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert back["t"] == (1, 2.5, None, "x", True)
    assert back["l"][0] == 3.0 and isinstance(back["l"][0], np.float64)
    assert np.isnan(back["nan"]) and back["empty"].shape == (0, 3)


def test_tensors_keep_dtype_and_come_back_as_tensors():
    back = roundtrip([torch.ones(2, dtype=torch.float64), torch.zeros(3, dtype=torch.bfloat16)])
    assert back[0].dtype == torch.float64 and back[1].dtype == torch.bfloat16


def test_objects_become_handles_only_where_the_sender_allows():
    kept = []
    back = roundtrip((np.ones(1), object()), make_handle=lambda obj: kept.append(obj) or len(kept))
    assert isinstance(back[1], protocol.RemoteHandle) and len(kept) == 1
    with pytest.raises(TypeError):
        protocol.encode(object())


def test_object_arrays_never_cross_as_data():
    header, _ = protocol.encode(np.array([{}], dtype=object), make_handle=lambda obj: 1)
    assert "$handle" in json.loads(header)


@pytest.mark.parametrize("forged", [
    {"$nd": 0, "dtype": "object", "shape": [1], "lib": "numpy"},
    {"$nd": 0, "dtype": "float64", "shape": [1000], "lib": "numpy"},
    {"$nd": 5, "dtype": "float64", "shape": [1], "lib": "numpy"},
    {"$pickle": "gASVAAAAAAAAAAA="},
])
def test_forged_headers_are_refused(forged):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(json.dumps(forged).encode(), [b"\0" * 8])


def test_frames_roundtrip_over_a_socket_and_reject_lies_about_length():
    left, right = socket.socketpair()
    protocol.write_message(left, {"x": np.arange(3)})
    assert np.array_equal(protocol.read_message(right)["x"], np.arange(3))
    left.sendall(protocol._HEADER.pack(protocol.MAX_MESSAGE_BYTES + 1, 2))
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(right)
