"""An ONNX graph as a PyTorch module: one torch function per ONNX operator.

The shipped models are plain convolutional graphs of a dozen operator types (Conv, Pad,
Clip, Add, Concat, Resize, MaxPool, DepthToSpace, Transpose, Reshape, Split, Sigmoid,
LeakyRelu), so a direct translation is short and has no dependency besides torch (no
``onnx``, no ``onnx2torch``: a GPU host may have nothing else, docs/gpu.md). The graph is read
by ``onnx_graph.read_onnx``; every node becomes a step that applies its operator to named
tensors, in the graph's (topological) order. A graph with an operator or attribute value not
translated here is refused at load time with the list of what is missing, never run wrong.

One rewrite: a zero ``Pad`` of only the spatial dims that feeds only a ``Conv`` without
padding of its own becomes that Conv's padding when it is symmetric (cuDNN pads for free; the
result is the same numbers).

Importing this module imports torch: only the torch backend does (``base.BACKENDS``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)

from posecast.engines.runtimes.onnx_graph import Node, OnnxGraph
from posecast.errors import ModelError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Step:
    """One node: ``function(*tensors)`` with tensors named by ``inputs``; results by
    ``outputs``. ``release`` names the tensors no later step reads (freed after this one)."""

    op_type: str
    function: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    release: tuple[str, ...] = ()


class OnnxModule(torch.nn.Module):
    """The graph's computation; ``forward(*inputs)`` returns the outputs in graph order.

    Float initializers that nodes read as tensors are buffers (``.to(device, dtype)`` moves
    and casts them); constants that are really attributes (pads, shapes, split sizes, scales,
    clip bounds) are read once into Python numbers.
    """

    def __init__(self, graph: OnnxGraph) -> None:
        super().__init__()
        self.input_names = tuple(info.name for info in graph.inputs)
        self.output_names = tuple(info.name for info in graph.outputs)
        constants = graph.initializers
        nodes = _fold_pads_into_convs(list(graph.nodes), constants)
        unsupported = Counter(node.op_type for node in nodes if node.op_type not in TRANSLATORS)
        if unsupported:
            raise ModelError(f"the torch provider does not translate ops {dict(unsupported)}")
        self._tensor_constants: dict[str, str] = {}
        steps = []
        for node in nodes:
            function, tensor_inputs = TRANSLATORS[node.op_type](node, constants)
            for name in tensor_inputs:
                if name in constants and name not in self._tensor_constants:
                    self._register_constant(name, constants[name])
            steps.append(Step(node.op_type, function, tuple(tensor_inputs), node.outputs))
        self.steps = _with_releases(steps, self.output_names)

    def _register_constant(self, name: str, array: np.ndarray) -> None:
        buffer_name = f"constant_{len(self._tensor_constants)}"
        self.register_buffer(buffer_name, torch.from_numpy(np.array(array)))
        self._tensor_constants[name] = buffer_name

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        values: dict[str, Tensor] = dict(zip(self.input_names, inputs, strict=True))
        for name, buffer_name in self._tensor_constants.items():
            values[name] = getattr(self, buffer_name)
        for step in self.steps:
            results = step.function(*(values[name] for name in step.inputs))
            if isinstance(results, Tensor):
                results = (results,)
            values.update(zip(step.outputs, results, strict=True))
            for name in step.release:
                del values[name]
        return tuple(values[name] for name in self.output_names)


def _with_releases(steps: list[Step], keep: Sequence[str]) -> list[Step]:
    """Each step with the intermediate tensors whose last reader it is (memory is freed as
    the graph goes, as a runtime's planner would)."""
    last_use: dict[str, int] = {}
    for index, step in enumerate(steps):
        for name in step.inputs:
            last_use[name] = index
    produced = {name for step in steps for name in step.outputs}
    releases: dict[int, list[str]] = {}
    for name, index in last_use.items():
        if name in produced and name not in keep:
            releases.setdefault(index, []).append(name)
    return [
        Step(step.op_type, step.function, step.inputs, step.outputs, tuple(releases.get(i, ())))
        for i, step in enumerate(steps)
    ]


# -- constants and attributes --------------------------------------------------------------


def _constant(node: Node, index: int, constants: dict[str, np.ndarray]) -> np.ndarray | None:
    """Input ``index`` of ``node`` if it is an initializer; None if omitted."""
    if index >= len(node.inputs) or node.inputs[index] == "":
        return None
    name = node.inputs[index]
    if name not in constants:
        raise ModelError(
            f"{node.op_type} node {node.name!r}: input {index} ({name}) must be a constant "
            "for the torch provider"
        )
    return constants[name]


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def _refuse(node: Node, what: str) -> ModelError:
    return ModelError(f"{node.op_type} node {node.name!r}: {what} is not translated to torch")


def _spatial_pads(pads: Sequence[int]) -> tuple[list[int], list[int]]:
    """ONNX ``[b1, b2, ..., e1, e2, ...]`` -> (begins, ends)."""
    half = len(pads) // 2
    return list(pads[:half]), list(pads[half:])


def _torch_pad(begins: Sequence[int], ends: Sequence[int]) -> list[int]:
    """Begins and ends per dim -> ``F.pad``'s (last dim first) pairs."""
    pairs: list[int] = []
    for begin, end in zip(reversed(begins), reversed(ends), strict=True):
        pairs += [int(begin), int(end)]
    return pairs


# -- translators: node -> (function, names of its tensor inputs) ----------------------------

Translation = tuple[Callable[..., Any], list[str]]


def _conv(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    attributes = node.attributes
    if _text(attributes.get("auto_pad"), "NOTSET") != "NOTSET":
        raise _refuse(node, "auto_pad")
    weight = constants.get(node.inputs[1])
    if weight is None or weight.ndim != 4:
        raise _refuse(node, "a non-constant or non-2D weight")
    strides = tuple(attributes.get("strides", (1, 1)))
    dilations = tuple(attributes.get("dilations", (1, 1)))
    groups = int(attributes.get("group", 1))
    begins, ends = _spatial_pads(attributes.get("pads", (0, 0, 0, 0)))
    symmetric = begins == ends
    padding = tuple(begins) if symmetric else (0, 0)
    extra_pad = None if symmetric else _torch_pad(begins, ends)
    has_bias = len(node.inputs) > 2 and node.inputs[2] != ""

    def conv(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        if extra_pad is not None:
            x = F.pad(x, extra_pad)
        return F.conv2d(x, w, b, strides, padding, dilations, groups)

    return conv, list(node.inputs[:3] if has_bias else node.inputs[:2])


def _pad(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    mode = _text(node.attributes.get("mode"), "constant")
    torch_modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in torch_modes:
        raise _refuse(node, f"mode {mode}")
    pads = _constant(node, 1, constants)
    if pads is None or _constant(node, 3, constants) is not None:
        raise _refuse(node, "pads without a constant or with axes")
    value = _constant(node, 2, constants)
    fill = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
    pairs = _torch_pad(*_spatial_pads([int(pad) for pad in pads]))
    # F.pad pads only trailing dims: drop the leading zero pairs it does not need.
    while len(pairs) > 2 and pairs[-2:] == [0, 0]:
        pairs = pairs[:-2]

    def pad(x: Tensor) -> Tensor:
        if torch_modes[mode] == "constant":
            return F.pad(x, pairs, value=fill)
        return F.pad(x, pairs, mode=torch_modes[mode])

    return pad, [node.inputs[0]]


def _clip(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    low, high = _constant(node, 1, constants), _constant(node, 2, constants)
    low_value = None if low is None else float(low)
    high_value = None if high is None else float(high)
    return (lambda x: torch.clamp(x, low_value, high_value)), [node.inputs[0]]


def _binary(function: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Translation]:
    def translate(node: Node, constants: dict[str, np.ndarray]) -> Translation:
        return function, list(node.inputs[:2])

    return translate


def _unary(function: Callable[[Tensor], Tensor]) -> Callable[..., Translation]:
    def translate(node: Node, constants: dict[str, np.ndarray]) -> Translation:
        return function, [node.inputs[0]]

    return translate


def _leaky_relu(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    alpha = float(node.attributes.get("alpha", 0.01))
    return (lambda x: F.leaky_relu(x, alpha)), [node.inputs[0]]


def _concat(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    axis = int(node.attributes["axis"])
    return (lambda *xs: torch.cat(xs, dim=axis)), list(node.inputs)


def _split(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    axis = int(node.attributes.get("axis", 0))
    sizes = _constant(node, 1, constants)
    if sizes is None:
        sizes = node.attributes.get("split")
    if sizes is None:
        raise _refuse(node, "a split without sizes")
    split_sizes = [int(size) for size in np.asarray(sizes).reshape(-1)]
    return (lambda x: torch.split(x, split_sizes, dim=axis)), [node.inputs[0]]


def _reshape(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    if int(node.attributes.get("allowzero", 0)):
        raise _refuse(node, "allowzero")
    shape = [int(dim) for dim in _constant(node, 1, constants).reshape(-1)]

    def reshape(x: Tensor) -> Tensor:
        target = [x.shape[axis] if dim == 0 else dim for axis, dim in enumerate(shape)]
        return x.reshape(target)

    return reshape, [node.inputs[0]]


def _transpose(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    perm = node.attributes.get("perm")

    def transpose(x: Tensor) -> Tensor:
        order = perm if perm is not None else list(reversed(range(x.dim())))
        return x.permute(*order)

    return transpose, [node.inputs[0]]


def _max_pool(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    attributes = node.attributes
    if _text(attributes.get("auto_pad"), "NOTSET") != "NOTSET":
        raise _refuse(node, "auto_pad")
    if int(attributes.get("storage_order", 0)) or len(node.outputs) > 1:
        raise _refuse(node, "indices output or storage_order")
    kernel = tuple(attributes["kernel_shape"])
    strides = tuple(attributes.get("strides", (1,) * len(kernel)))
    dilations = tuple(attributes.get("dilations", (1,) * len(kernel)))
    begins, ends = _spatial_pads(attributes.get("pads", (0,) * (2 * len(kernel))))
    if begins != ends:
        raise _refuse(node, "asymmetric pads")
    ceil_mode = bool(attributes.get("ceil_mode", 0))

    def max_pool(x: Tensor) -> Tensor:
        return F.max_pool2d(x, kernel, strides, tuple(begins), dilations, ceil_mode)

    return max_pool, [node.inputs[0]]


def _resize(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    attributes = node.attributes
    mode = _text(attributes.get("mode"), "nearest")
    transform = _text(attributes.get("coordinate_transformation_mode"), "half_pixel")
    if int(attributes.get("antialias", 0)) or int(attributes.get("exclude_outside", 0)):
        raise _refuse(node, "antialias or exclude_outside")
    scales = _constant(node, 2, constants)
    sizes = _constant(node, 3, constants)
    if (scales is None or scales.size == 0) == (sizes is None or sizes.size == 0):
        raise _refuse(node, "a resize without exactly one of scales and sizes")
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        torch_mode, align_corners = "bilinear", transform == "align_corners"
    elif mode == "nearest" and transform == "asymmetric":
        if _text(attributes.get("nearest_mode"), "round_prefer_floor") != "floor":
            raise _refuse(node, "nearest mode other than floor with asymmetric coordinates")
        torch_mode, align_corners = "nearest", None
    else:
        raise _refuse(node, f"mode {mode} with coordinate transformation {transform}")
    if scales is not None and scales.size:
        if list(scales[:2]) != [1.0, 1.0] or scales.size != 4:
            raise _refuse(node, "scales on the batch or channel axis")
        factor = (float(scales[2]), float(scales[3]))

        def resize_by_scale(x: Tensor) -> Tensor:
            return F.interpolate(
                x, scale_factor=factor, mode=torch_mode, align_corners=align_corners
            )

        return resize_by_scale, [node.inputs[0]]
    size = (int(sizes[2]), int(sizes[3]))

    def resize_to_size(x: Tensor) -> Tensor:
        return F.interpolate(x, size=size, mode=torch_mode, align_corners=align_corners)

    return resize_to_size, [node.inputs[0]]


def _depth_to_space(node: Node, constants: dict[str, np.ndarray]) -> Translation:
    block = int(node.attributes["blocksize"])
    mode = _text(node.attributes.get("mode"), "DCR")
    if mode == "CRD":
        return (lambda x: F.pixel_shuffle(x, block)), [node.inputs[0]]

    def depth_to_space_dcr(x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        depth = channels // (block * block)
        x = x.reshape(batch, block, block, depth, height, width)
        x = x.permute(0, 3, 4, 1, 5, 2)  # (N, C', H, b, W, b)
        return x.reshape(batch, depth, height * block, width * block)

    return depth_to_space_dcr, [node.inputs[0]]


TRANSLATORS: dict[str, Callable[[Node, dict[str, np.ndarray]], Translation]] = {
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(torch.div),
    "Clip": _clip,
    "Concat": _concat,
    "Conv": _conv,
    "DepthToSpace": _depth_to_space,
    "Identity": _unary(lambda x: x),
    "LeakyRelu": _leaky_relu,
    "MaxPool": _max_pool,
    "Pad": _pad,
    "Relu": _unary(F.relu),
    "Reshape": _reshape,
    "Resize": _resize,
    "Sigmoid": _unary(torch.sigmoid),
    "Split": _split,
    "Transpose": _transpose,
}
"""ONNX op type -> translator. Add one here to run a model with another op."""


def _fold_pads_into_convs(nodes: list[Node], constants: dict[str, np.ndarray]) -> list[Node]:
    """Zero ``Pad`` (spatial dims of a 4D tensor only) -> the padding of the single ``Conv``
    that reads it, when that Conv has no padding of its own."""
    readers = Counter(name for node in nodes for name in node.inputs)
    producers = {output: node for node in nodes for output in node.outputs}
    folded: set[int] = set()
    rewritten: dict[int, Node] = {}
    for node in nodes:
        if node.op_type != "Conv" or any(node.attributes.get("pads", (0, 0, 0, 0))):
            continue
        pad = producers.get(node.inputs[0])
        if pad is None or pad.op_type != "Pad" or readers[pad.outputs[0]] != 1:
            continue
        pads = _foldable_pads(pad, constants)
        if pads is None:
            continue
        folded.add(id(pad))
        attributes = {**node.attributes, "pads": pads}
        rewritten[id(node)] = Node(
            node.op_type, (pad.inputs[0], *node.inputs[1:]), node.outputs, attributes, node.name
        )
    return [rewritten.get(id(node), node) for node in nodes if id(node) not in folded]


def _foldable_pads(pad: Node, constants: dict[str, np.ndarray]) -> list[int] | None:
    """The Conv ``pads`` ([top, left, bottom, right]) a Pad node amounts to, or None."""
    if _text(pad.attributes.get("mode"), "constant") != "constant":
        return None
    if any(name not in constants for name in pad.inputs[1:] if name):
        return None
    pads = [int(value) for value in constants[pad.inputs[1]].reshape(-1)]
    value = constants[pad.inputs[2]] if len(pad.inputs) > 2 and pad.inputs[2] else None
    if len(pads) != 8 or len(pad.inputs) > 3 or (value is not None and float(value) != 0.0):
        return None
    begins, ends = pads[:4], pads[4:]
    if begins[:2] != [0, 0] or ends[:2] != [0, 0] or min(pads) < 0:
        return None
    return [begins[2], begins[3], ends[2], ends[3]]
