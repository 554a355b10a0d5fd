"""The wire carries plain data only and refuses anything else."""
import json
import socket
import struct
import threading
import time

import numpy as np
import pytest
import torch

from graders.sandbox import protocol


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


def test_strided_views_subclasses_and_tensors_needing_grad_arrive_as_their_values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    weight = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
    back = roundtrip({"view": base.t(), "step": base[:, ::2], "param": weight, "graph": weight * 2,
                      "numpy_view": base.numpy().T, "ints": torch.tensor([1, 2], dtype=torch.int16)})
    assert torch.equal(back["view"], base.t()) and torch.equal(back["step"], base[:, ::2])
    assert type(back["param"]) is torch.Tensor and back["param"].dtype == torch.float64
    assert not back["graph"].requires_grad and torch.equal(back["graph"], torch.full((2, 2), 2.0, dtype=torch.float64))
    assert np.array_equal(back["numpy_view"], base.numpy().T) and back["ints"].dtype == torch.int16


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


# --------------------------------------------------------------------------- hostile framing

def _frame(sizes_blob: bytes, header: bytes = b"{}", body: bytes = b"") -> bytes:
    total = 4 + len(sizes_blob) + len(header) + len(body)
    return struct.pack("<QI", total, len(header)) + struct.pack("<I", len(sizes_blob)) + sizes_blob + header + body


def test_a_reply_trickled_a_byte_at_a_time_still_times_out_at_the_deadline():
    ours, theirs = socket.socketpair()
    frame = _frame(b"[]", json.dumps({"ok": True}).encode())

    def trickle():
        for byte in frame:
            try:
                theirs.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.2)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        protocol.read_message(ours, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 2.0  # one deadline for the message, not one per read
    ours.close()
    theirs.close()


@pytest.mark.parametrize("sizes_blob", [b"[1e999]", b"{not json", b"[" * 5000 + b"]" * 5000, b'["3"]', b"[true]"])
def test_a_bad_size_table_is_a_protocol_error(sizes_blob):
    ours, theirs = socket.socketpair()
    theirs.sendall(_frame(sizes_blob))
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(ours, deadline=time.monotonic() + 5)


def test_an_array_whose_shape_overflows_is_a_protocol_error():
    header = json.dumps({"$nd": 0, "dtype": "float64", "shape": [2**62, 2**62, 4], "lib": "numpy"}).encode()
    ours, theirs = socket.socketpair()
    theirs.sendall(_frame(b"[0]", header))
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(ours, deadline=time.monotonic() + 5)


def test_a_message_over_the_cap_is_refused_before_its_body_is_read():
    ours, theirs = socket.socketpair()
    theirs.sendall(struct.pack("<QI", 10 << 30, 2))  # announces 10 GiB, sends nothing more
    with pytest.raises(protocol.MessageTooLarge):
        protocol.read_message(ours, deadline=time.monotonic() + 5, max_bytes=1 << 20)
