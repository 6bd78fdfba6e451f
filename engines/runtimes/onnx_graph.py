"""A small reader of ONNX files: the graph, its initializers and attributes, as plain Python.

The torch provider needs the graph of a model without the ``onnx`` package (a GPU host may
have PyTorch and nothing else, and nothing may be installed there): an ONNX file is a
protobuf ``ModelProto``, and the few message types a plain inference graph uses are decoded
here from the protobuf wire format (varints, fixed 32/64-bit values, length-delimited fields,
packed repeated numbers). Field numbers are those of ``onnx/onnx.proto``. Tested against the
``onnx`` package on every shipped model (``tests/engines/runtimes/test_onnx_graph.py``).

Not supported (a ``ModelError`` says so): external data files, subgraphs, sparse
initializers; none of the shipped models uses them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError

# TensorProto.DataType -> numpy dtype (the element types an inference graph stores).
TENSOR_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class ValueInfo:
    """A graph input or output: name, element dtype, shape (int, or str for a symbolic dim)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...]


@dataclass(frozen=True)
class Node:
    """One operator: its type, input and output tensor names ('' for an omitted optional
    input), and attributes (int, float, bytes, ndarray, or lists of those)."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""


@dataclass(frozen=True)
class OnnxGraph:
    """The main graph of a model: nodes in topological order, constant tensors by name."""

    nodes: tuple[Node, ...]
    initializers: dict[str, np.ndarray]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    opsets: dict[str, int]


def _fields(data: bytes | memoryview) -> list[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` of every field of one message, in order; a
    length-delimited value is a memoryview of its bytes."""
    view = memoryview(data)
    result = []
    position, end = 0, len(view)
    while position < end:
        tag, position = _varint(view, position)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _VARINT:
            value, position = _varint(view, position)
        elif wire_type == _FIXED64:
            value, position = view[position : position + 8], position + 8
        elif wire_type == _BYTES:
            length, position = _varint(view, position)
            value, position = view[position : position + length], position + length
        elif wire_type == _FIXED32:
            value, position = view[position : position + 4], position + 4
        else:
            raise ModelError(f"ONNX file: unsupported protobuf wire type {wire_type}")
        if position > end:
            raise ModelError("ONNX file: truncated protobuf message")
        result.append((number, wire_type, value))
    return result


def _varint(view: memoryview, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(view):
            raise ModelError("ONNX file: truncated varint")
        byte = view[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _signed(value: int) -> int:
    """A varint read as unsigned -> the int64 it encodes (negatives use 10 bytes)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _ints(wire_type: int, value: Any) -> list[int]:
    """A repeated int64 field's entry: one varint, or a packed run of them."""
    if wire_type == _VARINT:
        return [_signed(value)]
    view, position, numbers = memoryview(value), 0, []
    while position < len(view):
        number, position = _varint(view, position)
        numbers.append(_signed(number))
    return numbers


def _floats(wire_type: int, value: Any) -> list[float]:
    """A repeated float field's entry: one fixed32, or a packed run of them."""
    raw = bytes(value)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8")


def read_tensor(data: Any) -> tuple[str, np.ndarray]:
    """A ``TensorProto`` -> (name, array)."""
    name, dims, data_type = "", [], 1
    raw: bytes | None = None
    float_data: list[float] = []
    int_data: list[int] = []
    double_data: list[float] = []
    for number, wire_type, value in _fields(data):
        if number == 1:
            dims += _ints(wire_type, value)
        elif number == 2:
            data_type = value
        elif number == 4:
            float_data += _floats(wire_type, value)
        elif number in (5, 7, 11):  # int32_data, int64_data, uint64_data
            int_data += _ints(wire_type, value)
        elif number == 8:
            name = _text(value)
        elif number == 9:
            raw = bytes(value)
        elif number == 10:
            raw_doubles = bytes(value)
            double_data += struct.unpack(f"<{len(raw_doubles) // 8}d", raw_doubles)
        elif number == 14 and value == 1:
            raise ModelError(f"tensor {name!r}: external data is not supported")
    if data_type not in TENSOR_DTYPES:
        raise ModelError(f"tensor {name!r}: unsupported element type {data_type}")
    dtype = TENSOR_DTYPES[data_type]
    if raw is not None:
        array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    elif dtype == np.float16:  # stored as its bit patterns in int32_data
        array = np.array(int_data, np.uint16).view(np.float16)
    elif dtype.kind == "f":
        array = np.array(double_data if dtype == np.float64 else float_data, dtype)
    else:
        array = np.array(int_data, dtype=np.int64).astype(dtype)
    return name, array.reshape(dims)


def _attribute(data: Any) -> tuple[str, Any]:
    """An ``AttributeProto`` -> (name, value); the value by the attribute's type field."""
    name, kind = "", 0
    values: dict[int, Any] = {}
    floats: list[float] = []
    ints: list[int] = []
    strings: list[bytes] = []
    tensors: list[np.ndarray] = []
    for number, wire_type, value in _fields(data):
        if number == 1:
            name = _text(value)
        elif number == 20:
            kind = value
        elif number == 2:
            values[2] = struct.unpack("<f", bytes(value))[0]
        elif number == 3:
            values[3] = _signed(value)
        elif number == 4:
            values[4] = bytes(value)
        elif number == 5:
            values[5] = read_tensor(value)[1]
        elif number == 6:
            raise ModelError(f"attribute {name!r}: subgraphs are not supported")
        elif number == 7:
            floats += _floats(wire_type, value)
        elif number == 8:
            ints += _ints(wire_type, value)
        elif number == 9:
            strings.append(bytes(value))
        elif number == 10:
            tensors.append(read_tensor(value)[1])
    # AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8, TENSORS 9
    by_kind = {1: 2, 2: 3, 3: 4, 4: 5}
    if kind in by_kind:
        return name, values[by_kind[kind]]
    lists = {6: floats, 7: ints, 8: strings, 9: tensors}
    if kind in lists:
        return name, lists[kind]
    if kind == 0:  # writers before IR version 2 left the type out: take the field that is set
        if values:
            return name, next(iter(values.values()))
        for items in lists.values():
            if items:
                return name, items
    raise ModelError(f"attribute {name!r}: unsupported attribute type {kind}")


def _node(data: Any) -> Node:
    inputs, outputs, attributes = [], [], {}
    name = op_type = domain = ""
    for number, _, value in _fields(data):
        if number == 1:
            inputs.append(_text(value))
        elif number == 2:
            outputs.append(_text(value))
        elif number == 3:
            name = _text(value)
        elif number == 4:
            op_type = _text(value)
        elif number == 5:
            key, attribute = _attribute(value)
            attributes[key] = attribute
        elif number == 7:
            domain = _text(value)
    return Node(op_type, tuple(inputs), tuple(outputs), attributes, name, domain)


def _value_info(data: Any) -> ValueInfo:
    name, dtype, shape = "", np.dtype(np.float32), []
    for number, _, value in _fields(data):
        if number == 1:
            name = _text(value)
        elif number == 2:  # TypeProto
            for type_number, _, type_value in _fields(value):
                if type_number != 1:  # tensor_type
                    raise ModelError(f"{name}: only tensor inputs and outputs are supported")
                for tensor_number, _, tensor_value in _fields(type_value):
                    if tensor_number == 1:
                        dtype = TENSOR_DTYPES.get(tensor_value, np.dtype(np.float32))
                    elif tensor_number == 2:
                        shape = [_dimension(dim) for n, _, dim in _fields(tensor_value) if n == 1]
    return ValueInfo(name, dtype, tuple(shape))


def _dimension(data: Any) -> int | str | None:
    for number, _, value in _fields(data):
        if number == 1:
            return _signed(value)
        if number == 2:
            return _text(value)
    return None


def read_onnx(path: Path | str) -> OnnxGraph:
    """The main graph of the ONNX file at ``path``.

    Raises:
        ModelError: not a readable ONNX model, or one using what this reader does not support.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error}") from error
    graph_bytes = None
    opsets: dict[str, int] = {}
    for number, wire_type, value in _fields(data):
        if number == 7 and wire_type == _BYTES:
            graph_bytes = value
        elif number == 8 and wire_type == _BYTES:
            domain, version = "", 0
            for opset_number, _, opset_value in _fields(value):
                if opset_number == 1:
                    domain = _text(opset_value)
                elif opset_number == 2:
                    version = opset_value
            opsets[domain] = version
    if graph_bytes is None:
        raise ModelError(f"{path}: no graph in this file (not an ONNX model?)")
    nodes, initializers, inputs, outputs = [], {}, [], []
    for number, _, value in _fields(graph_bytes):
        if number == 1:
            nodes.append(_node(value))
        elif number == 5:
            name, array = read_tensor(value)
            initializers[name] = array
        elif number == 11:
            inputs.append(_value_info(value))
        elif number == 12:
            outputs.append(_value_info(value))
        elif number == 15:
            raise ModelError(f"{path}: sparse initializers are not supported")
    # Graph inputs may list initializers too (older exporters); keep the real inputs only.
    real_inputs = tuple(info for info in inputs if info.name not in initializers)
    return OnnxGraph(tuple(nodes), initializers, real_inputs, tuple(outputs), opsets)
