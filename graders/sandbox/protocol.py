"""The wire between the trusted grader and a worker: JSON headers plus raw array bytes.

Nothing here ever unpickles. A message is a JSON document in which arrays appear as
``{"$nd": i, "dtype": ..., "shape": ..., "lib": "numpy"|"torch", "device": ...}`` pointing at
the i-th raw buffer that follows it. Decoding accepts only a fixed list of numeric dtypes,
checks every buffer's length against its shape, and builds arrays with ``np.frombuffer``,
so the worst a lying worker can send is wrong numbers, which then fail comparison.

Values a worker cannot express this way (a cache object, say) stay in the worker and cross
as ``{"$handle": id}``; the trusted side holds a ``RemoteHandle`` it can only pass back.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
_HEADER = struct.Struct("<QI")  # total frame length, JSON length
_ONE_SEND_BYTES = 1 << 20  # a message up to this size is copied into one buffer and sent at once

NUMERIC_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
})
# torch dtypes numpy cannot hold travel widened, with their real name kept beside them.
_TORCH_WIDENED = {"bfloat16": "float32"}


class ProtocolError(Exception):
    """A message broke the wire format: the worker is not to be trusted any further."""


class MessageTooLarge(ProtocolError):
    """A message over the reader's size cap (its body is never read)."""


class StudentError(Exception):
    """The student's code raised; carries the remote exception's type name and message."""

    def __init__(self, function: str, type_name: str, message: str, traceback: str = "", group: str = "",
                 limit: str | None = None, kinds=None):
        super().__init__(f"{function} raised {type_name}: {message}")
        self.function = function
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.group = group  # for a ForbiddenCall: the forbidden group it belongs to
        self.limit = limit  # the sandbox limit behind the error, if one was
        # The exception's class and the classes it derives from, as "module.Name" strings
        # (graders.grading.hidden.exception_kinds): the worker sends names, never the class.
        self.kinds = _names(kinds)


def _names(value, most: int = 32, longest: int = 200) -> tuple[str, ...]:
    """A worker's list of class names, trusted only as short strings."""
    if not isinstance(value, list):
        return ()
    return tuple(name[:longest] for name in value[:most] if isinstance(name, str))


@dataclass(frozen=True)
class RemoteHandle:
    """An object that lives in the worker (an opaque cache); it can only be passed back."""

    id: int
    type_name: str

    def __repr__(self):
        return f"<student {self.type_name} object>"


@dataclass(frozen=True)
class GeneratorState:
    """A random generator's state, rebuilt as a real generator on the other side."""

    lib: str  # "numpy" or "torch"
    state: object  # numpy: the bit generator's state dict; torch: uint8 array
    device: str = "cpu"


# --------------------------------------------------------------------------- encoding

def encode(value, *, make_handle=None) -> tuple[bytes, list[memoryview]]:
    """Encode ``value`` into a JSON header and buffers.

    ``make_handle(obj) -> int`` keeps objects that are not plain data on this side;
    without it such objects are an error (the trusted side never sends them).
    """
    buffers: list[memoryview] = []
    torch = _torch_if_loaded()
    tensor_class = torch.Tensor if torch is not None else ()

    def walk(item):
        kind = type(item)
        # The common exact types first: a message is mostly tensors, arrays, numbers,
        # names and the containers that hold them (a subclass of one goes on to the
        # checks below).
        if kind is str or item is None:
            return item
        if kind is tensor_class:
            return _tensor(item)
        if kind is np.ndarray:
            return _array(item, "numpy", "cpu", _dtype_name(item.dtype))
        if kind is float:
            return _float(item)
        if kind is dict and all(type(k) is str for k in item):
            return {"$dict": {k: walk(v) for k, v in item.items()}}
        if kind is list:
            return [walk(x) for x in item]
        if kind is tuple:
            return {"$tuple": [walk(x) for x in item]}
        if kind is RemoteHandle:
            return {"$handle": item.id}
        if isinstance(item, np.generic):  # before float: np.float64 subclasses float
            return walk(np.asarray(item)) | {"scalar": True}
        if isinstance(item, (bool, str)):
            return item
        if isinstance(item, int):
            return item if -2**63 <= item < 2**64 else float(item)
        if isinstance(item, float):
            return _float(item)
        if isinstance(item, np.ndarray):
            return _array(item, "numpy", "cpu", _dtype_name(item.dtype))
        if isinstance(item, tensor_class):
            return _tensor(item)
        if isinstance(item, GeneratorState):
            return _generator(item)
        if isinstance(item, np.random.Generator):
            return _generator(GeneratorState("numpy", item.bit_generator.state))
        if _is_torch_generator(item):
            return _generator(GeneratorState("torch", item.get_state().numpy(), str(item.device)))
        if isinstance(item, RemoteHandle):
            return {"$handle": item.id}
        if type(item) is dict and all(isinstance(k, str) for k in item):  # keys of a str subclass
            return {"$dict": {k: walk(v) for k, v in item.items()}}
        if make_handle is None:
            raise TypeError(f"cannot send a {type(item).__name__} to the worker")
        return {"$handle": make_handle(item), "type": type(item).__name__}

    def _array(array, lib, device, dtype_name):
        wire_dtype = _dtype_name(array.dtype)
        if wire_dtype not in NUMERIC_DTYPES:
            if make_handle is None:
                raise TypeError(f"cannot send an array of dtype {wire_dtype}")
            return {"$handle": make_handle(array), "type": f"ndarray[{wire_dtype}]"}
        data = np.ascontiguousarray(array)
        buffers.append(memoryview(data).cast("B") if data.size else memoryview(b""))
        # What is usual (numpy, the CPU, the wire's dtype) goes without saying: the
        # decoder's defaults, and less JSON to write and read on every call.
        described = {"$nd": len(buffers) - 1, "dtype": wire_dtype, "shape": list(array.shape)}
        if lib != "numpy":
            described["lib"] = lib
        if device != "cpu":
            described["device"] = device
        if dtype_name != wire_dtype:
            described["real_dtype"] = dtype_name
        return described

    def _tensor(tensor):
        real = _torch_dtype_name(tensor.dtype)
        plain = tensor.detach()
        if real in _TORCH_WIDENED:
            plain = plain.to(getattr(torch, _TORCH_WIDENED[real]))
        if plain.is_cpu:  # numpy() takes any strides; _array makes the bytes contiguous
            return _array(plain.numpy(), "torch", "cpu", real)
        return _array(plain.cpu().contiguous().numpy(), "torch", str(tensor.device), real)

    def _generator(gen: GeneratorState):
        if gen.lib == "numpy":
            return {"$rng": "numpy", "state": gen.state}
        return {"$rng": "torch", "state": _array(np.asarray(gen.state, dtype=np.uint8), "numpy", "cpu", "uint8"),
                "device": gen.device}

    header = walk(value)
    return _JSON_ENCODER.encode(header).encode(), buffers


def _float(item: float):
    """JSON has no NaN or infinity: those travel as their repr."""
    return {"$float": repr(item)} if item != item or item in (float("inf"), float("-inf")) else item


# Built once: json.dumps with any option set builds a new encoder for every message.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_JSON_DECODER = json.JSONDecoder()
_TORCH_DTYPE_NAMES: dict = {}  # torch.float32 -> "float32": str() of a dtype, read for every tensor sent
_TORCH_DTYPES: dict = {}  # and back
_ITEM_SIZES = {name: np.dtype(name).itemsize for name in NUMERIC_DTYPES}
_DTYPE_NAMES: dict = {}  # numpy's dtype.name is a slow Python property, read for every array sent


def _dtype_name(dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = dtype.name
        if name in NUMERIC_DTYPES:  # a fixed few: the cache cannot grow with what a worker sends
            _DTYPE_NAMES[dtype] = name
    return name


def _torch_dtype_name(dtype) -> str:
    name = _TORCH_DTYPE_NAMES.get(dtype)
    if name is None:
        name = _TORCH_DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")  # torch has a few dozen
    return name


def _is_torch_generator(item) -> bool:
    torch = _torch_if_loaded()
    return torch is not None and isinstance(item, torch.Generator)


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")


# --------------------------------------------------------------------------- decoding

def decode(header: bytes, buffers: list[bytes], *, resolve_handle=None, build_generators=False):
    """Rebuild a value from ``encode``'s output.

    ``resolve_handle(id)`` turns handle ids back into objects (the worker side); without
    it they become ``RemoteHandle``s. ``build_generators`` rebuilds real generators (the
    worker side); the trusted side never asks for them.
    """
    try:
        document = _JSON_DECODER.decode(bytes(header).decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ProtocolError(f"malformed header: {error}") from None

    def walk(item):
        kind = type(item)  # JSON gives exactly these types
        if kind is not dict:
            if kind is list:
                return [walk(x) for x in item]
            if item is None or kind in (bool, str, int, float):
                return item
            raise ProtocolError(f"unexpected {kind.__name__} in message")
        if "$nd" in item:
            return _array(item)
        if "$tuple" in item:
            return tuple(walk(x) for x in _expect(item["$tuple"], list))
        if "$dict" in item:
            return {str(k): walk(v) for k, v in _expect(item["$dict"], dict).items()}
        if "$float" in item:
            return float(_expect(item["$float"], str))
        if "$handle" in item:
            handle_id = _expect(item["$handle"], int)
            if resolve_handle is not None:
                return resolve_handle(handle_id)
            return RemoteHandle(handle_id, str(item.get("type", "object")))
        if "$rng" in item:
            return _generator(item)
        raise ProtocolError(f"unknown value tag {sorted(item)}")

    def _array(item):
        dtype = _expect(item.get("dtype"), str)
        if dtype not in NUMERIC_DTYPES:
            raise ProtocolError(f"refused dtype {dtype!r}")
        shape = tuple(_expect(item.get("shape"), list))
        for n in shape:
            if type(n) is not int or n < 0:
                raise ProtocolError(f"a dimension must be a natural number, not {n!r}")
        index = _expect(item.get("$nd"), int)
        if not 0 <= index < len(buffers):
            raise ProtocolError("array points at a missing buffer")
        raw = buffers[index]
        expected = math.prod(shape) * _ITEM_SIZES[dtype]  # Python ints: no overflow to game
        if len(raw) != expected:
            raise ProtocolError(f"array buffer holds {len(raw)} bytes, its shape needs {expected}")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if item.get("scalar"):
            return array[()]
        if item.get("lib") == "torch":
            return _to_tensor(array, str(item.get("real_dtype", dtype)), str(item.get("device", "cpu")))
        return array

    def _generator(item):
        lib = item["$rng"]
        state = walk(item["state"]) if lib == "torch" else item["state"]
        if not build_generators:
            return GeneratorState(lib, state, str(item.get("device", "cpu")))
        if lib == "numpy":
            generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
            generator.bit_generator.state = state
            return generator
        import torch

        generator = torch.Generator(device=str(item.get("device", "cpu")))
        generator.set_state(torch.from_numpy(np.asarray(state, dtype=np.uint8)))
        return generator

    return walk(document)


def _expect(value, kind):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _to_tensor(array: np.ndarray, real_dtype: str, device: str):
    import torch

    dtype = _TORCH_DTYPES.get(real_dtype)
    if dtype is None:
        dtype = getattr(torch, real_dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ProtocolError(f"refused torch dtype {real_dtype!r}")
        _TORCH_DTYPES[real_dtype] = dtype  # only torch's own dtype names get here: a few dozen
    tensor = torch.from_numpy(array)
    if tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    if device != "cpu":
        # The trusted side mirrors the device it was told, so device checks can compare.
        try:
            tensor = tensor.to(device)
        except (RuntimeError, AssertionError) as error:
            raise ProtocolError(f"worker reported device {device!r}: {error}") from None
    return tensor


# --------------------------------------------------------------------------- framing

def write_message(sock, value, *, make_handle=None) -> None:
    header, buffers = encode(value, make_handle=make_handle)
    sizes = [len(b) for b in buffers]
    sizes_blob = json.dumps(sizes).encode()
    body_len = 4 + len(sizes_blob) + len(header) + sum(sizes)
    front = _HEADER.pack(body_len, len(header)) + struct.pack("<I", len(sizes_blob)) + sizes_blob + header
    if body_len <= _ONE_SEND_BYTES:
        # One send per message: each send wakes the reader, and on a busy machine every
        # wake-up is a context switch (three sends per reply cost more than the call itself).
        sock.sendall(b"".join([front, *buffers]))
        return
    sock.sendall(front)
    for buffer in buffers:
        if len(buffer):
            sock.sendall(buffer)


def read_message(sock, *, deadline: float | None = None, max_bytes: int = MAX_MESSAGE_BYTES, on_frame=None,
                 **decode_options):
    """One message, whole. ``deadline`` (``time.monotonic()``) bounds the entire message,
    not each read: a peer trickling a byte a second still times out (``socket.timeout``).
    Anything malformed raises ``ProtocolError``; nothing larger than ``max_bytes`` is read.
    ``on_frame(size)`` hears the message's size before its body is read."""
    reader = _Reader(sock, deadline)
    total, header_len = _HEADER.unpack(reader.exact(_HEADER.size))
    if on_frame is not None:
        on_frame(total)
    if total > max_bytes:
        raise MessageTooLarge(f"a message of {total} bytes is over the {max_bytes} bytes allowed")
    # The whole body in one read (it is within max_bytes): one wake-up per message.
    body = memoryview(reader.exact(total))
    if total < 4:
        raise ProtocolError("inconsistent frame")
    (sizes_len,) = struct.unpack("<I", body[:4])
    if sizes_len > total or header_len > total:
        raise ProtocolError("inconsistent frame")
    try:
        sizes = _JSON_DECODER.decode(bytes(body[4:4 + sizes_len]).decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ProtocolError(f"malformed buffer table: {error}") from None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in sizes):
        raise ProtocolError("malformed buffer table")
    if 4 + sizes_len + header_len + sum(sizes) != total:
        raise ProtocolError("inconsistent frame")
    offset = 4 + sizes_len
    header = bytes(body[offset:offset + header_len])
    offset += header_len
    buffers = []
    for size in sizes:
        buffers.append(body[offset:offset + size])
        offset += size
    try:
        return decode(header, buffers, **decode_options)
    except ProtocolError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as error:
        raise ProtocolError(f"undecodable message: {type(error).__name__}: {error}") from None


class _Reader:
    def __init__(self, sock, deadline: float | None):
        self.sock = sock
        self.deadline = deadline

    def exact(self, count: int) -> bytes:
        import socket
        import time

        chunks = bytearray(count)
        view, got = memoryview(chunks), 0
        while got < count:
            if self.deadline is not None:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("the message did not arrive in time")
                self.sock.settimeout(remaining)
            received = self.sock.recv_into(view[got:], min(count - got, 1 << 20))
            if not received:
                raise EOFError("the worker closed the connection")
            got += received
        return chunks
