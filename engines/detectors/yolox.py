"""YOLOX-Nano (Megvii, Apache-2.0), a user-supplied detector: more recall per millisecond than
NanoDet on small people (docs/estimation.md, "Detectors"), not shipped with posecast.

The user puts the official ONNX export, ``yolox_nano.onnx`` (sha256 ``695e750a...``, input
``images`` 1 x 3 x 416 x 416, output ``output`` 1 x 3549 x 85), in a model directory and runs
once (needs the ``onnx`` package, ``pip install 'posecast[yolox]'``)::

    posecast models prepare-yolox DIR

which checks the file (signature, then sha256), makes its batch and input size dynamic (the
first element of the three ``[1, 85, -1]`` Reshape shapes becomes 0, the input's dimensions
symbolic), verifies that the patched model equals the original at 416 x 416, and writes
``yolox_nano_dynamic.onnx`` and its entry in ``DIR/manifest.json``. ``load_yolox_nano(DIR)``
then loads it, sha256-checked, without the ``onnx`` package.

Model I/O: input (N, 3, H, W) float32, BGR 0-255, letterboxed top-left on a 114 grey canvas,
H and W multiples of 32. Output (N, cells, 85), cells = grids of strides 8, 16, 32
concatenated, each row-major: x, y, w, h, objectness, 80 class scores (both already through
a sigmoid). Decoding: centre = (p_xy + (col, row)) * S, size = exp(p_wh) * S; person score =
objectness * score of class 0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from posecast.engines.assets import file_sha256, model_path
from posecast.engines.detectors.base import DetectorConfig, describe_specs
from posecast.engines.detectors.grid import GridPersonDetector
from posecast.engines.detectors.letterbox import Letterbox, letterbox_image
from posecast.engines.runtimes import Runtime, RuntimeOptions, create_runtime
from posecast.errors import ModelError

logger = logging.getLogger(__name__)

STRIDES_PX = (8, 16, 32)
NUM_CLASSES = 80
VALUES_PER_CELL = 5 + NUM_CLASSES
PERSON_CLASS = 0
PAD_PIXEL = 114
"""Letterbox grey of YOLOX's own preprocessing."""

SOURCE_FILE = "yolox_nano.onnx"
SOURCE_SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
"""The official YOLOX-Nano ONNX export (Megvii YOLOX release weights, 3,660,092 bytes)."""
MODEL_NAME = "yolox_nano"
"""Its entry in the model directory's manifest.json."""
DYNAMIC_FILE = "yolox_nano_dynamic.onnx"
PREPARE_COMMAND = "posecast models prepare-yolox {model_dir}"
SOURCE_INPUT_SHAPE = (1, 3, 416, 416)
SOURCE_OUTPUT_SHAPE = (1, 3549, VALUES_PER_CELL)
RESHAPE_SHAPE = (1, VALUES_PER_CELL, -1)
"""The batch-1 Reshape shape of each head level in the official export (three of them)."""


def decode_yolox(
    output: np.ndarray,
    canvas_hw: tuple[int, int],
    score_threshold: float,
    class_id: int = PERSON_CLASS,
) -> tuple[np.ndarray, np.ndarray]:
    """One item's YOLOX output (no batch axis) -> boxes of one class, before NMS.

    Args:
        output: (cells, 85) for a ``canvas_hw`` input.
        canvas_hw: the input's (height, width), pixels, multiples of 32.
        score_threshold: keep cells whose objectness x class score is above this.
        class_id: COCO class (0 = person).

    Returns:
        (K, 4) float32 xyxy boxes in input (canvas) pixels and their (K,) scores.

    Raises:
        ModelError: a cell count that does not match the canvas.
    """
    height, width = canvas_hw
    grid_sizes = [(height // stride, width // stride) for stride in STRIDES_PX]
    if len(output) != sum(rows * cols for rows, cols in grid_sizes):
        raise ModelError(
            f"YOLOX output has {len(output)} cells, a {width} x {height} input has "
            f"{sum(rows * cols for rows, cols in grid_sizes)}"
        )
    scores = output[:, 4] * output[:, 5 + class_id]
    cells = np.flatnonzero(scores > score_threshold)
    # Each kept cell's stride and (col, row) in its level's grid.
    level_starts = np.cumsum([0] + [rows * cols for rows, cols in grid_sizes])
    levels = np.searchsorted(level_starts, cells, side="right") - 1
    strides = np.array(STRIDES_PX, np.float32)[levels]
    in_level = cells - level_starts[levels]
    cols = np.array([c for _, c in grid_sizes])[levels]
    grid_xy = np.stack([in_level % cols, in_level // cols], axis=1).astype(np.float32)
    centre_xy = (output[cells, :2] + grid_xy) * strides[:, None]
    half_wh = np.exp(output[cells, 2:4]) * strides[:, None] / 2
    boxes = np.concatenate([centre_xy - half_wh, centre_xy + half_wh], axis=1)
    return boxes.astype(np.float32), scores[cells].astype(np.float32)


class YoloxPersonDetector(GridPersonDetector):
    """Person boxes from YOLOX-Nano (a model made dynamic by ``prepare_yolox_nano``)."""

    name: ClassVar[str] = "yolox-nano"
    input_name: ClassVar[str] = "images"
    output_name: ClassVar[str] = "output"
    strides_px: ClassVar[tuple[int, ...]] = STRIDES_PX
    # Recall of visible MOT17 pedestrians by height in input px: 0.32 at 32-40, 0.49 at
    # 40-48, 0.77 at 48-64, 0.88 at 64-96; on 1080p frames 0.80 at 768 x 448, 0.87 at
    # 960 x 544 (benchmarks/bench_detector_input.py, docs/estimation.md).
    smallest_person_input_px: ClassVar[float] = 48.0
    default_max_input_side_px: ClassVar[int] = 960
    is_channels_last: ClassVar[bool] = False

    @property
    def pad_value(self) -> np.ndarray:
        return np.full(3, PAD_PIXEL, np.float32)

    def check_signature(self, runtime: Runtime) -> None:
        """Raise ModelError unless the runtime has YOLOX's input and output (see
        ``check_yolox_signature``)."""
        check_yolox_signature(
            [(spec.name, spec.shape, np.dtype(spec.dtype)) for spec in runtime.inputs],
            [(spec.name, spec.shape, np.dtype(spec.dtype)) for spec in runtime.outputs],
            describe=f"inputs {describe_specs(runtime.inputs)}, "
            f"outputs {describe_specs(runtime.outputs)}",
        )

    def preprocess(self, image_rgb: np.ndarray, letterbox: Letterbox) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (3, canvas_h, canvas_w) float32 BGR 0-255, letterboxed."""
        canvas = letterbox_image(image_rgb, letterbox, PAD_PIXEL)
        return np.ascontiguousarray(canvas[..., ::-1].transpose(2, 0, 1), dtype=np.float32)

    def decode(
        self, outputs: Mapping[str, np.ndarray], canvas_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        return decode_yolox(outputs[self.output_name], canvas_hw, self.config.score_threshold)

    def output_strides(self, output_name: str) -> tuple[int, ...]:
        return STRIDES_PX


Signature = list[tuple[str, tuple[int | None, ...], np.dtype]]


def check_yolox_signature(inputs: Signature, outputs: Signature, describe: str) -> None:
    """Raise ModelError unless there is one float32 input ``images`` (N, 3, H, W) and one
    float32 output ``output`` (N, cells, 85); ``describe`` says what the model has."""
    is_valid = (
        len(inputs) == 1
        and len(outputs) == 1
        and inputs[0][0] == YoloxPersonDetector.input_name
        and len(inputs[0][1]) == 4
        and inputs[0][1][1] == 3
        and inputs[0][2] == np.float32
        and outputs[0][0] == YoloxPersonDetector.output_name
        and len(outputs[0][1]) == 3
        and outputs[0][1][2] == VALUES_PER_CELL
        and outputs[0][2] == np.float32
    )
    if not is_valid:
        raise ModelError(
            "not a YOLOX-Nano model: expected one input images float32 (N, 3, H, W) and one "
            f"output output float32 (N, cells, {VALUES_PER_CELL}); found {describe}"
        )


def load_yolox_nano(
    model_dir: Path,
    runtime_options: RuntimeOptions | None = None,
    config: DetectorConfig | None = None,
) -> YoloxPersonDetector:
    """The prepared YOLOX-Nano of a user's model directory.

    Raises:
        ModelError: no directory, not prepared (the message gives the command), a file that
            is not the one prepared (sha256), or not from the known official export.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"YOLOX-Nano model directory not found: {model_dir}")
    manifest = _read_manifest(model_dir)
    entry = manifest.get("models", {}).get(MODEL_NAME)
    if entry is None:
        has_source = (model_dir / SOURCE_FILE).is_file()
        hint = (
            f"it holds {SOURCE_FILE}: prepare it once with '{PREPARE_COMMAND}'"
            if has_source
            else f"put the official {SOURCE_FILE} there and run '{PREPARE_COMMAND}'"
        ).format(model_dir=model_dir)
        raise ModelError(f"{model_dir} has no prepared YOLOX-Nano; {hint}")
    source_sha256 = entry.get("source", {}).get("sha256")
    if source_sha256 != SOURCE_SHA256:
        raise ModelError(
            f"{model_dir / 'manifest.json'}: {MODEL_NAME} was prepared from a file with sha256 "
            f"{source_sha256}; posecast supports the official export ({SOURCE_SHA256})"
        )
    path = model_path(MODEL_NAME, model_dir)
    options = YoloxPersonDetector.runtime_options(runtime_options, config)
    return YoloxPersonDetector(create_runtime(path, options), config)


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "manifest.json"
    if not path.is_file():
        return {"models": {}}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(manifest.get("models", {}), dict):
        raise ModelError(f"{path}: 'models' must be an object")
    return manifest


# -- preparation (needs the onnx package) ----------------------------------------------------


def _import_onnx() -> ModuleType:
    try:
        import onnx
    except ImportError as error:
        raise ModelError(
            "preparing YOLOX-Nano needs the onnx package: pip install 'posecast[yolox]'"
        ) from error
    return onnx


def _graph_signature(onnx: ModuleType, values: Any) -> Signature:
    signature = []
    for value in values:
        tensor_type = value.type.tensor_type
        shape = tuple(
            dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim
        )
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
        signature.append((value.name, shape, dtype))
    return signature


def make_yolox_dynamic(model: Any) -> int:
    """Patch an official YOLOX export in place to run at any batch and input size.

    The three head Reshapes to ``[1, 85, -1]`` get ``0`` (copy the input's batch) as first
    element; the input becomes (N, 3, H, W) and the output (N, cells, 85). Returns the number
    of Reshape shapes patched.

    Raises:
        ModelError: the graph does not have exactly three such Reshapes.
    """
    onnx = _import_onnx()
    from onnx import numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    constants = {node.output[0]: node for node in graph.node if node.op_type == "Constant"}
    patched = 0
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        name = node.input[1]
        if name in initializers:
            tensor = initializers[name]
        elif name in constants:
            tensor = constants[name].attribute[0].t
        else:
            continue
        shape = numpy_helper.to_array(tensor)
        if tuple(shape.tolist()) != RESHAPE_SHAPE:
            continue
        shape = shape.copy()
        shape[0] = 0
        tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
        patched += 1
    if patched != len(STRIDES_PX):
        raise ModelError(
            f"expected {len(STRIDES_PX)} Reshapes to {list(RESHAPE_SHAPE)} (one per head level), "
            f"found {patched}: not the official YOLOX-Nano export"
        )
    input_dims = graph.input[0].type.tensor_type.shape.dim
    for index, symbol in ((0, "N"), (2, "H"), (3, "W")):
        input_dims[index].dim_param = symbol
    output_dims = graph.output[0].type.tensor_type.shape.dim
    for index, symbol in ((0, "N"), (1, "cells")):
        output_dims[index].dim_param = symbol
    del graph.value_info[:]  # intermediate shapes recorded for 1 x 416 x 416
    onnx.checker.check_model(model)
    return patched


def prepare_yolox_nano(model_dir: Path) -> Path:
    """Check the official ``yolox_nano.onnx`` in ``model_dir``, write its dynamic version
    beside it and record both in ``model_dir/manifest.json`` (other entries are kept).

    Returns:
        The path of the dynamic model.

    Raises:
        ModelError: no file, a wrong signature, an unknown sha256, no onnx package, or a
            patched model whose outputs differ from the original's.
    """
    onnx = _import_onnx()
    model_dir = Path(model_dir)
    source = model_dir / SOURCE_FILE
    if not source.is_file():
        raise ModelError(
            f"{source} not found: put the official YOLOX-Nano ONNX export (sha256 "
            f"{SOURCE_SHA256}) there"
        )
    try:
        model = onnx.load(str(source))
    except Exception as error:  # protobuf's DecodeError and kin: not an ONNX file at all
        raise ModelError(f"{source} is not an ONNX model: {error}") from error
    inputs = _graph_signature(onnx, model.graph.input)
    outputs = _graph_signature(onnx, model.graph.output)
    check_yolox_signature(inputs, outputs, describe=f"inputs {inputs}, outputs {outputs}")
    source_sha256 = file_sha256(source)
    if source_sha256 != SOURCE_SHA256:
        raise ModelError(
            f"{source} has sha256 {source_sha256}; posecast supports the official YOLOX-Nano "
            f"export only (sha256 {SOURCE_SHA256}, input {list(SOURCE_INPUT_SHAPE)}, output "
            f"{list(SOURCE_OUTPUT_SHAPE)})"
        )
    patched = make_yolox_dynamic(model)
    target = model_dir / DYNAMIC_FILE
    onnx.save_model(model, str(target))
    verification = _verify_dynamic(source, target)
    manifest = _read_manifest(model_dir)
    manifest.setdefault("models", {})[MODEL_NAME] = {
        "file": DYNAMIC_FILE,
        "sha256": file_sha256(target),
        "size_bytes": target.stat().st_size,
        "task": "YOLOX-Nano COCO 80-class detector (user-supplied); class 0 = person",
        "license": "Apache-2.0 (Megvii YOLOX)",
        "source": {"file": SOURCE_FILE, "sha256": source_sha256},
        "modifications": [
            f"first element of the {patched} Reshape shapes {list(RESHAPE_SHAPE)} set to 0",
            "input dims N, H, W and output dims N, cells made symbolic",
        ],
        "verification": verification,
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    logger.info("wrote %s (%s)", target, verification)
    return target


def _verify_dynamic(source: Path, target: Path) -> dict[str, Any]:
    """The patched model must equal the original at 416 x 416 and run at other sizes."""
    import onnxruntime as ort

    def session(path: Path) -> ort.InferenceSession:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    original, dynamic = session(source), session(target)
    image = np.random.default_rng(0).uniform(0, 255, SOURCE_INPUT_SHAPE).astype(np.float32)
    (expected,) = original.run(None, {"images": image})
    (actual,) = dynamic.run(None, {"images": image})
    max_abs_diff = float(np.abs(expected - actual).max())
    if max_abs_diff > 1e-5:
        raise ModelError(f"patched YOLOX-Nano differs from the original by {max_abs_diff}")
    (batched,) = dynamic.run(None, {"images": np.zeros((2, 3, 544, 960), np.float32)})
    if batched.shape != (2, 68 * 120 + 34 * 60 + 17 * 30, VALUES_PER_CELL):
        raise ModelError(f"patched YOLOX-Nano gives {batched.shape} for 2 x 960 x 544")
    return {"max_abs_diff_vs_original_416": max_abs_diff, "runs_at": "batch 2, 960 x 544"}
