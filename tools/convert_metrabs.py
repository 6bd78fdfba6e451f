"""Convert a MeTRAbs SavedModel the user downloaded into posecast's MeTRAbs engine files.

MeTRAbs' models are released by its author for non-commercial research as TensorFlow
SavedModels (docs/metrabs.md says where and how to get them); posecast cannot ship them.
This script, run by hand in its own environment (tools/requirements-metrabs.txt; never at
install time or in CI), turns one into what ``posecast ... --engine metrabs --model-dir DIR``
loads:

1. Source: the release archive (``.tar.gz``, ``.zip``) or an unpacked SavedModel folder;
   its sha256 (a folder: a digest of its files) is recorded and matched against the release
   hashes posecast knows.
2. Metadata: the crop model's joints, bones and input size, the model's named joint subsets
   (``per_skeleton_indices`` / ``_joint_edges``).
3. Graph: ``crop_model.predict_multi`` frozen (tf2onnx's loader: variables to constants,
   functions inlined) and cut after the heatmap head, the 1x1 convolution with
   (1 + depth) x points channels. Its tail, the absolute reconstruction, uses
   ``tf.linalg.lstsq`` (Cholesky and triangular solves), which tf2onnx does not convert,
   and normalises over the whole batch, which posecast must not: posecast does it per crop.
4. ONNX: tf2onnx (opset 17) from the image to the head's logits, float16 computations
   turned to float32 (the released models compute in mixed precision; TensorRT's ``--fp16``
   gives the speed back), then posecast's own decoding appended in ONNX, written from the
   paper: soft-argmax of the 2D heatmaps and of the metric volumetric heatmaps, crop pixels
   and a metric box (outputs ``points2d_crop_px`` (N, P, 2), ``points3d_rel_crop_m``
   (N, P, 3)). The batch axis is dynamic.
5. Decoding constants (heatmap stride offset, box size, the 2D/3D mix): found by fitting
   the numpy decoding of TensorFlow's own head outputs, followed by a re-implementation of
   MeTRAbs' batch-wide reconstruction, to TensorFlow's own final outputs; the fit must
   reproduce them within ``FIT_TOLERANCE_MM`` or the conversion stops.
6. Verification on random crops and on real crops (``--video``, posecast's own NanoDet and
   MeTRAbs crops): ONNX against TensorFlow, posecast's per-crop decoding against
   TensorFlow's ``predict_multi``, one crop at a time and in batches, and the ONNX model's
   batch independence. Figures go to the manifest.
7. Output: ``DIR/metrabs.onnx``, ``DIR/metrabs.json`` (metadata), ``DIR/manifest.json``
   (entry ``metrabs``; other entries kept), ``DIR/METRABS_LICENSE.txt``.

Usage::

    /work/metrabs-venv/bin/python tools/convert_metrabs.py SOURCE --out DIR \\
        [--work /tmp/metrabs-convert] [--video samples/vtest_excerpt.mp4]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import onnx
from convert_models import (
    canonicalise_names,
    ort_session,
    read_frames,
    rename_tensor,
    sha256_of,
)
from onnx import TensorProto, helper, numpy_helper

from posecast.engines.assets import DEFAULT_MODEL_DIR, model_path
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.geometry.camera import Camera
from posecast.engines.metrabs.crop_model import MetrabsCropModel
from posecast.engines.metrabs.crops import cut_metrabs_crops, metrabs_crops
from posecast.engines.metrabs.decoding import metrabs_augmentations
from posecast.engines.metrabs.joints import ModelSkeleton
from posecast.engines.metrabs.metadata import (
    IMAGE_INPUT,
    POINTS_2D_OUTPUT,
    POINTS_3D_OUTPUT,
    MetrabsMetadata,
)
from posecast.engines.runtimes import RuntimeOptions, create_runtime

LOG = logging.getLogger("convert_metrabs")
REPO = Path(__file__).resolve().parent.parent
OPSET = 17
BATCH_DIM = "N"
MODEL_FILE = "metrabs.onnx"
METADATA_FILE = "metrabs.json"
LICENSE_FILE = "METRABS_LICENSE.txt"
HEAD_NAME_HINT = "metrabs_heads"
DEPTH_BINS_CANDIDATES = (8, 16, 4, 32, 2, 64)
FIT_TOLERANCE_MM = 1.0
OUTSIDE_FOV_WEIGHT = 1e-4
FOV_BORDER_STRIDES = 0.75
VERIFY_FRAMES = (0, 30, 60, 90, 120)
RANDOM_CROPS = 12
REAL_CROPS_MAX = 24
BATCH_CHECK_SIZES = (1, 3, 8)
TIMING_REPEATS = 10

KNOWN_RELEASES = {
    "fa31b5b043f227588c3d224e56db89307d021bfbbb52e36028919f90e1f96c89": {
        "name": "metrabs_eff2l_y4_384px_800k_28ds",
        "file": "metrabs_eff2l_y4_384px_800k_28ds.tar.gz",
        "url": "https://omnomnom.vision.rwth-aachen.de/data/metrabs/"
        "metrabs_eff2l_y4_384px_800k_28ds.tar.gz",
        "hash_recorded_by": "a third party (levineuwirth/neuropose, src/neuropose/_model.py); "
        "not checked by posecast, which has no copy of the file",
    },
}
"""sha256 of release archives -> what they are. Only hashes someone recorded from the real
file belong here; posecast has never had the official files."""

LICENSE_TEXT = """MeTRAbs model weights: licence notice (written by posecast's converter)

The weights in metrabs.onnx were converted from a MeTRAbs model released by its author,
Istvan Sarandi (RWTH Aachen University), at https://github.com/isarandi/metrabs.
The author releases the models for NON-COMMERCIAL use only: they were trained on datasets
(Human3.6M, MuCo-3DHP, CMU Panoptic, SAIL-VOS, SURREAL, AIST-Dance++, COCO and others)
whose licences restrict their use to non-commercial research. The same restrictions are
likely to apply to the trained models and to anything converted from them.

posecast grants no right to these weights. Do not redistribute the converted files or use
them commercially; read the upstream repository's terms and the training datasets' licences
before any use. This is not legal advice.

Paper: I. Sarandi, T. Linder, K. O. Arras, B. Leibe, "MeTRAbs: Metric-Scale
Truncation-Robust Heatmaps for Absolute 3D Human Pose Estimation", IEEE T-BIOM 2021.
"""

STANDIN_LICENSE_TEXT = """Stand-in MeTRAbs model: licence notice

metrabs.onnx was converted from a stand-in SavedModel that tools/metrabs_standin.py builds:
posecast's own code with seeded random weights, no trained MeTRAbs weights and no training
data. It has MeTRAbs' interface and none of its knowledge; its poses mean nothing. It is
part of posecast and under posecast's licence; it exists so that tests exercise the
MeTRAbs engine end to end.
"""

CONVERTER_PACKAGES = (
    "tensorflow-cpu",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "numpy",
    "opencv-python-headless",
)


# ----------------------------------------------------------------------------
# Source


def tree_digest(folder: Path) -> str:
    """sha256 over the sorted relative paths and sha256 of every file of a folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def source_record(source: Path) -> dict[str, Any]:
    """What the weights are: the file name, its sha256, and the release if posecast knows it."""
    if source.is_dir():
        record = {"path": source.name, "kind": "SavedModel folder", "sha256": tree_digest(source)}
        record["sha256_of"] = "posecast tree digest (sorted relative paths and file sha256)"
    else:
        record = {"path": source.name, "kind": "archive", "sha256": sha256_of(source)}
        record["size_bytes"] = source.stat().st_size
    release = KNOWN_RELEASES.get(record["sha256"])
    record["release"] = release or "not a release archive posecast knows"
    return record


def saved_model_folder(source: Path, work_dir: Path) -> Path:
    """The SavedModel folder of a source: itself, or unpacked from the archive."""
    if source.is_dir():
        root = source
    else:
        root = work_dir / "unpacked"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                archive.extractall(root)
        else:
            with tarfile.open(source) as archive:
                archive.extractall(root, filter="data")
    found = sorted(root.rglob("saved_model.pb"))
    if len(found) != 1:
        raise SystemExit(f"{source}: expected one saved_model.pb, found {len(found)}")
    return found[0].parent


# ----------------------------------------------------------------------------
# TensorFlow side


@dataclass(frozen=True)
class TFModel:
    """The frozen crop model and what was read from the SavedModel."""

    graph_def: Any
    image_tensor: str
    intrinsics_tensor: str
    output_tensor: str
    joint_names: tuple[str, ...]
    joint_edges: np.ndarray
    skeletons: tuple[ModelSkeleton, ...]
    input_size_px: int


def load_tf_model(folder: Path) -> TFModel:
    """Load the SavedModel, read the joint metadata and freeze ``predict_multi``."""
    import tensorflow as tf
    from tf2onnx import tf_loader

    LOG.info("loading %s with TensorFlow %s", folder, tf.__version__)
    model = tf.saved_model.load(str(folder))
    crop = model.crop_model if hasattr(model, "crop_model") else model
    for attribute in ("predict_multi", "joint_names", "joint_edges", "input_resolution"):
        if not hasattr(crop, attribute):
            raise SystemExit(f"{folder}: no crop model with {attribute} (is it a MeTRAbs model?)")
    names = tuple(name.decode() for name in crop.joint_names.numpy())
    edges = np.asarray(crop.joint_edges.numpy(), np.int64).reshape(-1, 2)
    skeletons = []
    indices_table = getattr(model, "per_skeleton_indices", {})
    edges_table = getattr(model, "per_skeleton_joint_edges", {})
    for name in sorted(indices_table.keys()):
        if name == "":
            continue
        indices = np.asarray(indices_table[name].numpy(), np.int64)
        if indices.size and indices.max() >= len(names):
            raise SystemExit(
                f"skeleton {name}: indices beyond the crop model's {len(names)} joints (a joint "
                "transform after the crop model, which posecast does not support)"
            )
        subset_edges = np.asarray(edges_table[name].numpy(), np.int64).reshape(-1, 2)
        skeletons.append(ModelSkeleton(name, indices, subset_edges))
    function = crop.predict_multi.get_concrete_function(
        tf.TensorSpec([None, None, None, 3], tf.float16), tf.TensorSpec([None, 3, 3], tf.float32)
    )
    inputs = [tensor.name for tensor in function.inputs if tensor.dtype != tf.resource]
    outputs = [tensor.name for tensor in function.outputs]
    graph_def = tf_loader.from_function(function, inputs, outputs)
    return TFModel(
        graph_def=graph_def,
        image_tensor=inputs[0],
        intrinsics_tensor=inputs[1],
        output_tensor=outputs[0],
        joint_names=names,
        joint_edges=edges,
        skeletons=tuple(skeletons),
        input_size_px=int(crop.input_resolution.numpy()),
    )


def _const_shape(nodes: dict[str, Any], name: str) -> tuple[int, ...] | None:
    """Shape of the Const behind a tensor (through Identity and Cast), or None."""
    node = nodes.get(name.split(":")[0].lstrip("^"))
    while node is not None and node.op in ("Identity", "Cast"):
        node = nodes.get(node.input[0].split(":")[0])
    if node is None or node.op != "Const":
        return None
    return tuple(dim.size for dim in node.attr["value"].tensor.tensor_shape.dim)


@dataclass(frozen=True)
class Head:
    """The heatmap head: its output tensor and layout."""

    logits_tensor: str
    channels: int
    points: int
    depth_bins: int


def find_head(graph_def: Any, num_joints: int) -> Head:
    """The 1x1 convolution giving (1 + depth) x points channels, preferring MeTRAbs' layer
    name (``metrabs/metrabs_heads/conv2d``), then the last such convolution."""
    nodes = {node.name: node for node in graph_def.node}
    candidates = []
    for node in graph_def.node:
        if node.op != "Conv2D":
            continue
        shape = _const_shape(nodes, node.input[1])
        if shape is None or shape[:2] != (1, 1):
            continue
        channels = shape[3]
        for depth in DEPTH_BINS_CANDIDATES:
            if channels % (1 + depth) == 0 and channels // (1 + depth) >= num_joints:
                candidates.append((node, channels, channels // (1 + depth), depth))
                break
    if not candidates:
        raise SystemExit("found no heatmap head (a 1x1 convolution with (1 + depth) x J outputs)")
    named = [c for c in candidates if HEAD_NAME_HINT in c[0].name]
    node, channels, points, depth = (named or candidates)[-1]
    consumers = [n for n in graph_def.node if n.op == "BiasAdd" and n.input[0] == node.name]
    logits = consumers[0].name if consumers else node.name
    LOG.info("head %s: %d channels = %d points x (1 + %d)", logits, channels, points, depth)
    return Head(f"{logits}:0", channels, points, depth)


def find_points_to_joints(graph_def: Any, head: Head, num_joints: int) -> np.ndarray:
    """(J, P) from the head's points to the joints: identity when it predicts the joints,
    else a latent head's recombination weights (a constant of shape (P', J), P' the points
    used: all of them, or the first P - J)."""
    if head.points == num_joints:
        return np.eye(num_joints)
    for used in (head.points, head.points - num_joints):
        for node in graph_def.node:
            if node.op != "Const":
                continue
            tensor = node.attr["value"].tensor
            if tuple(dim.size for dim in tensor.tensor_shape.dim) == (used, num_joints):
                weights = tf_tensor_to_numpy(tensor).astype(np.float64)
                if np.allclose(weights.sum(axis=0), 1.0, atol=1e-3):
                    LOG.info(
                        "latent head: %d points -> %d joints (%s)", used, num_joints, node.name
                    )
                    return weights.T
    raise SystemExit(
        f"the head predicts {head.points} points for {num_joints} joints and no recombination "
        "matrix was found; this model's layout is not supported"
    )


def tf_tensor_to_numpy(tensor: Any) -> np.ndarray:
    import tensorflow as tf

    return tf.make_ndarray(tensor)


def run_tf(graph_def: Any, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run the frozen graph once."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(fetches, feeds)


# ----------------------------------------------------------------------------
# Decoding: numpy (for the fit and the checks) and ONNX (appended to the graph)


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def soft_argmax(logits: np.ndarray, points: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, h, w, C) head logits -> (M, P, 2) and (M, P, 3) expected heatmap coordinates in
    [0, 1]: (x, y) of the 2D maps, (x, y, z) of the volumes (channel d * P + p)."""
    logits = logits.astype(np.float64)
    count, height, width, _ = logits.shape
    maps = _softmax(logits[..., :points].transpose(0, 3, 1, 2).reshape(count, points, -1))
    maps = maps.reshape(count, points, height, width)
    steps_y, steps_x = np.linspace(0, 1, height), np.linspace(0, 1, width)
    coords2d = np.stack([maps.sum(axis=2) @ steps_x, maps.sum(axis=3) @ steps_y], axis=-1)
    volumes = logits[..., points : points * (1 + depth)].reshape(
        count, height, width, depth, points
    )
    volumes = _softmax(volumes.transpose(0, 4, 1, 2, 3).reshape(count, points, -1))
    volumes = volumes.reshape(count, points, height, width, depth)
    coords3d = np.stack(
        [
            volumes.sum(axis=(2, 4)) @ steps_x,
            volumes.sum(axis=(3, 4)) @ steps_y,
            volumes.sum(axis=(2, 3)) @ np.linspace(0, 1, depth),
        ],
        axis=-1,
    )
    return coords2d, coords3d


@dataclass(frozen=True)
class Decoding:
    """How heatmap coordinates become crop pixels and metres, and the 2D/3D mix."""

    size_px: int
    stride_px: int
    centered_stride: bool
    box_size_mm: float
    mix_3d_inside_fov: float

    @property
    def last_center_px(self) -> int:
        return (self.size_px - 1) - ((self.size_px - 1) % self.stride_px)

    @property
    def offset_px(self) -> float:
        return float(self.stride_px // 2) if self.centered_stride else 0.0

    @property
    def fov_px(self) -> tuple[float, float]:
        shift = 0.0 if self.centered_stride else -self.stride_px / 2
        border = self.stride_px * FOV_BORDER_STRIDES
        return border + shift, self.size_px - border + shift

    def points(self, coords2d: np.ndarray, coords3d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, P, 2) crop pixels and (M, P, 3) relative millimetres."""
        points2d = coords2d * self.last_center_px + self.offset_px
        metric_xy = (coords3d[..., :2] * self.last_center_px + self.offset_px) * (
            self.box_size_mm / self.size_px
        )
        return points2d, np.concatenate([metric_xy, coords3d[..., 2:] * self.box_size_mm], -1)


def upstream_reconstruction(
    points2d: np.ndarray, relative: np.ndarray, K: np.ndarray, decoding: Decoding
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MeTRAbs' own absolute reconstruction, for checking only: the translation by least
    squares normalised over the whole batch (RMS of all 2D and of all targets), weights
    inside the field of view 1 + 1e-4, outside 1e-4, L2 regulariser 0.01.

    Returns:
        (M, P, 3) 3D-based points, (M, P, 3) 2D back-projections at the same depth, and
        (M, P) which 2D predictions are inside the field of view.
    """
    homogeneous = np.concatenate([points2d, np.ones_like(points2d[..., :1])], axis=-1)
    normalized = np.einsum("mpc,mkc->mpk", homogeneous, np.linalg.inv(K))[..., :2]
    low, high = decoding.fov_px
    inside = np.all((points2d >= low) & (points2d <= high), axis=-1)
    count, num_points = normalized.shape[:2]
    flat2d = normalized.reshape(count, num_points * 2, 1)
    scale2d = np.sqrt(np.mean(flat2d**2))
    eyes = np.tile(np.eye(2)[None], (count, num_points, 1))
    design = np.concatenate([eyes, -flat2d / scale2d], axis=2)
    target = (normalized * relative[..., 2:] - relative[..., :2]).reshape(count, -1, 1)
    scale_target = np.sqrt(np.mean(target**2))
    weights = np.repeat(inside.astype(np.float64) + 1e-4, 2, axis=1)[..., None]
    weighted, rhs = design * weights, target / scale_target * weights
    normal = np.swapaxes(weighted, 1, 2) @ weighted + 1e-2 * np.eye(3)
    solution = np.linalg.solve(normal, np.swapaxes(weighted, 1, 2) @ rhs)[..., 0]
    reference = np.concatenate([solution[:, :2], solution[:, 2:] / scale2d], 1) * scale_target
    from_3d = relative + reference[:, None]
    depth = from_3d[..., 2:]
    from_2d = np.concatenate([normalized * depth, depth], axis=-1)
    return from_3d, from_2d, inside


def fit_decoding(
    coords2d: np.ndarray,
    coords3d: np.ndarray,
    poses_mm: np.ndarray,
    K: np.ndarray,
    points_to_joints: np.ndarray,
    size_px: int,
    stride_px: int,
) -> tuple[Decoding, float]:
    """The decoding constants that reproduce TensorFlow's outputs, and the largest
    remaining difference in mm.

    Every joint's depth is the reference depth plus box size x its z coordinate, so the box
    size is the slope of depth against z within each crop; the stride offset is chosen
    between centred and not; the 2D/3D mix enters linearly and is fitted by least squares.
    """
    coords_z = np.einsum("jp,mp->mj", points_to_joints, coords3d[..., 2])
    depth_mm = poses_mm[..., 2]
    dz = coords_z - coords_z.mean(axis=1, keepdims=True)
    ddepth = depth_mm - depth_mm.mean(axis=1, keepdims=True)
    box_size_mm = float((dz * ddepth).sum() / (dz * dz).sum())
    if abs(box_size_mm - round(box_size_mm)) < 1e-3 * box_size_mm:
        box_size_mm = float(round(box_size_mm))
    best: tuple[Decoding, float] | None = None
    for centered in (True, False):
        trial = Decoding(size_px, stride_px, centered, box_size_mm, 0.5)
        points2d, relative = trial.points(coords2d, coords3d)
        from_3d, from_2d, inside = upstream_reconstruction(points2d, relative, K, trial)
        base = np.einsum("jp,mpc->mjc", points_to_joints, from_3d)
        delta = np.einsum("jp,mpc->mjc", points_to_joints, (from_2d - from_3d) * inside[..., None])
        denominator = float((delta * delta).sum())
        share_2d = float((delta * (poses_mm - base)).sum() / denominator) if denominator else 0.5
        mix = float(np.clip(1.0 - share_2d, 0.0, 1.0))
        if abs(mix - round(mix, 3)) < 1e-4:
            mix = round(mix, 3)
        residual = float(np.abs(base + (1.0 - mix) * delta - poses_mm).max())
        LOG.info(
            "fit centred=%s: box %.3f mm, mix %.4f, residual %.4f mm",
            centered,
            box_size_mm,
            mix,
            residual,
        )
        decoding = Decoding(size_px, stride_px, centered, box_size_mm, mix)
        if best is None or residual < best[1]:
            best = (decoding, residual)
    assert best is not None
    return best


def _const(graph: onnx.GraphProto, name: str, value: np.ndarray) -> str:
    graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def append_decoding(
    model: onnx.ModelProto,
    logits: str,
    head: Head,
    used_points: int,
    height: int,
    width: int,
    decoding: Decoding,
) -> None:
    """Append soft-argmax, crop pixels and the metric box to the graph, ending in the
    outputs ``points2d_crop_px`` (N, P, 2) and ``points3d_rel_crop_m`` (N, P, 3)."""
    graph = model.graph
    points, depth = head.points, head.depth_bins
    nodes: list[onnx.NodeProto] = []

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=f"decode_{output}", **attrs))
        return output

    def expectation(probabilities: str, axes: list[int], steps: int, output: str) -> str:
        marginal = node(
            "ReduceSum",
            [probabilities, _const(graph, f"{output}_axes", np.array(axes))],
            f"{output}_marginal",
            keepdims=0,
        )
        ramp = np.linspace(0, 1, steps, dtype=np.float32).reshape(steps, 1)
        return node("MatMul", [marginal, _const(graph, f"{output}_ramp", ramp)], output)

    slice_axis = _const(graph, "decode_channel_axis", np.array([3]))
    maps = node(
        "Slice",
        [
            logits,
            _const(graph, "decode_2d_start", np.array([0])),
            _const(graph, "decode_2d_end", np.array([points])),
            slice_axis,
        ],
        "maps2d",
    )
    maps = node("Transpose", [maps], "maps2d_nphw", perm=[0, 3, 1, 2])
    flat = node(
        "Reshape", [maps, _const(graph, "decode_2d_flat", np.array([0, points, -1]))], "maps2d_flat"
    )
    probabilities = node("Softmax", [flat], "maps2d_softmax", axis=-1)
    probabilities = node(
        "Reshape",
        [probabilities, _const(graph, "decode_2d_shape", np.array([0, points, height, width]))],
        "maps2d_probabilities",
    )
    x = expectation(probabilities, [2], width, "coord2d_x")
    y = expectation(probabilities, [3], height, "coord2d_y")
    coords2d = node("Concat", [x, y], "coords2d", axis=2)
    scale = np.float32(decoding.last_center_px)
    pixels = node("Mul", [coords2d, _const(graph, "decode_2d_scale", scale)], "points2d_scaled")
    points2d = node(
        "Add",
        [pixels, _const(graph, "decode_2d_offset", np.float32(decoding.offset_px))],
        "points2d_all",
    )

    volumes = node(
        "Slice",
        [
            logits,
            _const(graph, "decode_3d_start", np.array([points])),
            _const(graph, "decode_3d_end", np.array([points * (1 + depth)])),
            slice_axis,
        ],
        "volumes",
    )
    volumes = node(
        "Reshape",
        [volumes, _const(graph, "decode_3d_split", np.array([0, height, width, depth, points]))],
        "volumes_hwdp",
    )
    volumes = node("Transpose", [volumes], "volumes_phwd", perm=[0, 4, 1, 2, 3])
    flat = node(
        "Reshape",
        [volumes, _const(graph, "decode_3d_flat", np.array([0, points, -1]))],
        "volumes_flat",
    )
    probabilities = node("Softmax", [flat], "volumes_softmax", axis=-1)
    probabilities = node(
        "Reshape",
        [
            probabilities,
            _const(graph, "decode_3d_shape", np.array([0, points, height, width, depth])),
        ],
        "volumes_probabilities",
    )
    x = expectation(probabilities, [2, 4], width, "coord3d_x")
    y = expectation(probabilities, [3, 4], height, "coord3d_y")
    z = expectation(probabilities, [2, 3], depth, "coord3d_z")
    coords3d = node("Concat", [x, y, z], "coords3d", axis=2)
    metres_per_px = decoding.box_size_mm / decoding.size_px / 1000.0
    box_m = decoding.box_size_mm / 1000.0
    scale3d = np.array([scale * metres_per_px, scale * metres_per_px, box_m], np.float32)
    offset3d = np.array(
        [decoding.offset_px * metres_per_px, decoding.offset_px * metres_per_px, 0.0], np.float32
    )
    metric = node("Mul", [coords3d, _const(graph, "decode_3d_scale", scale3d)], "points3d_scaled")
    points3d = node("Add", [metric, _const(graph, "decode_3d_offset", offset3d)], "points3d_all")

    used = [
        _const(graph, "decode_used_start", np.array([0])),
        _const(graph, "decode_used_end", np.array([used_points])),
        _const(graph, "decode_point_axis", np.array([1])),
    ]
    node("Slice", [points2d, *used], POINTS_2D_OUTPUT)
    node("Slice", [points3d, *used], POINTS_3D_OUTPUT)
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(
                POINTS_2D_OUTPUT, TensorProto.FLOAT, [BATCH_DIM, used_points, 2]
            ),
            helper.make_tensor_value_info(
                POINTS_3D_OUTPUT, TensorProto.FLOAT, [BATCH_DIM, used_points, 3]
            ),
        ]
    )


# ----------------------------------------------------------------------------
# ONNX side


def export_head_onnx(tf_model: TFModel, head: Head) -> onnx.ModelProto:
    """tf2onnx from the image to the head's logits, the image fixed at S x S."""
    import tf2onnx

    graph_def = type(tf_model.graph_def)()
    graph_def.CopyFrom(tf_model.graph_def)
    size = tf_model.input_size_px
    image_node = tf_model.image_tensor.split(":")[0]
    for node in graph_def.node:
        if node.name == image_node:
            dims = node.attr["shape"].shape.dim
            for dim, value in zip(dims, (-1, size, size, 3), strict=True):
                dim.size = value
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[tf_model.image_tensor],
        output_names=[head.logits_tensor],
        opset=OPSET,
    )
    return model


def to_float32(graph: onnx.GraphProto) -> int:
    """Turn every float16 tensor, constant, cast and declaration into float32; returns the
    number of changes (0 for a float32 model)."""
    changes = 0
    for index, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT16:
            array = numpy_helper.to_array(init).astype(np.float32)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(array, init.name))
            changes += 1
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in ("to", "dtype") and attribute.i == TensorProto.FLOAT16:
                attribute.i = TensorProto.FLOAT
                changes += 1
            elif attribute.type == onnx.AttributeProto.TENSOR and (
                attribute.t.data_type == TensorProto.FLOAT16
            ):
                array = numpy_helper.to_array(attribute.t).astype(np.float32)
                attribute.t.CopyFrom(numpy_helper.from_array(array, attribute.t.name))
                changes += 1
            elif attribute.type == onnx.AttributeProto.GRAPH:
                changes += to_float32(attribute.g)
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
            changes += 1
    return changes


def drop_noop_casts(model: onnx.ModelProto) -> int:
    """Remove the casts that now cast float32 to float32 (after ``to_float32``); returns how
    many. Types come from ONNX shape inference; a cast of unknown input type is kept."""
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {
        value.name: value.type.tensor_type.elem_type
        for value in (*inferred.value_info, *inferred.input, *inferred.output)
    }
    types.update({init.name: init.data_type for init in graph.initializer})
    public = {value.name for value in graph.output}
    removed = 0
    for node in list(graph.node):
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type != "Cast" or to != types.get(node.input[0]) or node.output[0] in public:
            continue
        for consumer in graph.node:
            consumer.input[:] = [
                node.input[0] if name == node.output[0] else name for name in consumer.input
            ]
        graph.node.remove(node)
        removed += 1
    return removed


def build_onnx(
    tf_model: TFModel, head: Head, used_points: int, heatmap_hw: tuple[int, int], decoding: Decoding
) -> onnx.ModelProto:
    """The whole converted model: tf2onnx's backbone and head, float32, posecast's decoding."""
    model = export_head_onnx(tf_model, head)
    LOG.info("float16 -> float32: %d changes", to_float32(model.graph))
    LOG.info("no-op casts removed: %d", drop_noop_casts(model))
    graph = model.graph
    rename_tensor(graph, graph.input[0].name, IMAGE_INPUT)
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    logits = graph.output[0].name
    append_decoding(model, logits, head, used_points, *heatmap_hw, decoding)
    canonicalise_names(graph, "metrabs")
    onnx.checker.check_model(model, full_check=True)
    return model


# ----------------------------------------------------------------------------
# Check crops


def random_crops(size: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noise and smooth random patterns, with plausible crop intrinsics."""
    crops = rng.uniform(0, 1, (count, size, size, 3)).astype(np.float32)
    coarse = rng.uniform(0, 1, (count, 8, 8, 3)).astype(np.float32)
    for index in range(count // 2):
        crops[index] = cv2.resize(coarse[index], (size, size), interpolation=cv2.INTER_CUBIC)
    focal = rng.uniform(300, 3000, count)
    K = np.zeros((count, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = focal
    K[:, :2, 2] = size / 2
    K[:, 2, 2] = 1
    return np.clip(crops, 0, 1), K


def real_crops(video: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """MeTRAbs crops of the people posecast's NanoDet finds in a few frames of a video (one
    and five augmentations per person), with their intrinsics."""
    detector = NanoDetPersonDetector(create_runtime(model_path("nanodet_416", DEFAULT_MODEL_DIR)))
    frames = read_frames(video, VERIFY_FRAMES)
    crops, intrinsics, described = [], [], []
    for index, frame_bgr in frames.items():
        image = np.ascontiguousarray(frame_bgr[..., ::-1])
        camera = Camera.from_fov(image.shape[1], image.shape[0])
        (found,) = detector.detect([image])
        boxes = np.asarray(found.boxes_xyxy, np.float64)[:3]
        for augmentation_count in (1, 5):
            augmentations = metrabs_augmentations(augmentation_count)
            geometry = metrabs_crops(boxes, camera, size, augmentations)
            gammas = np.tile(augmentations.gammas, len(boxes))
            crops.append(cut_metrabs_crops(image, geometry, gammas, camera))
            intrinsics.append(geometry.K_crop)
        described.append({"frame": index, "boxes": boxes.round(1).tolist()})
    crops_array = np.concatenate(crops)[:REAL_CROPS_MAX]
    return crops_array, np.concatenate(intrinsics)[:REAL_CROPS_MAX], described


# ----------------------------------------------------------------------------
# Verification


def _max(values: np.ndarray) -> float:
    return float(np.nanmax(np.abs(values))) if values.size else 0.0


def compare(
    name: str,
    crops: np.ndarray,
    K: np.ndarray,
    tf_model: TFModel,
    head: Head,
    decoding: Decoding,
    crop_model: MetrabsCropModel,
    points_to_joints: np.ndarray,
    used_points: int,
) -> dict[str, Any]:
    """The conversion's figures on one set of crops (rounded to float16 first: that is what
    TensorFlow's interface takes, so both sides see the same pixels)."""
    crops = crops.astype(np.float16).astype(np.float32)
    feeds = {
        tf_model.image_tensor: crops.astype(np.float16),
        tf_model.intrinsics_tensor: K.astype(np.float32),
    }
    logits, poses_tf = run_tf(
        tf_model.graph_def, [head.logits_tensor, tf_model.output_tensor], feeds
    )
    coords2d, coords3d = soft_argmax(logits, head.points, head.depth_bins)
    points2d_tf, relative_tf = decoding.points(coords2d, coords3d)
    points2d_tf, relative_tf = points2d_tf[:, :used_points], relative_tf[:, :used_points]
    points2d_onnx, relative_onnx = crop_model.run(crops)
    single = [crop_model.run(crops[i : i + 1]) for i in range(len(crops))]
    batch_diff = max(
        max(_max(one[0][0] - points2d_onnx[i]), _max(one[1][0] - relative_onnx[i]))
        for i, one in enumerate(single)
    )
    rel_onnx_mm = relative_onnx * 1000.0
    centred = lambda values: values - values.mean(axis=1, keepdims=True)  # noqa: E731
    posed = crop_model.predict(crops, K)
    per_crop_tf = np.concatenate(
        [
            run_tf(
                tf_model.graph_def,
                [tf_model.output_tensor],
                {
                    tf_model.image_tensor: crops[i : i + 1].astype(np.float16),
                    tf_model.intrinsics_tensor: K[i : i + 1].astype(np.float32),
                },
            )[0]
            for i in range(len(crops))
        ]
    )
    joints_mm = posed.joints_crop_m * 1000.0
    valid = posed.is_valid

    def projected(points_mm: np.ndarray) -> np.ndarray:
        return np.einsum("mjc,mkc->mjk", points_mm / points_mm[..., 2:], K)[..., :2]

    def pose_difference(reference_mm: np.ndarray) -> dict[str, float]:
        if not valid.any():
            return {"valid_crops": 0}
        ours, theirs = joints_mm[valid], reference_mm[valid]
        return {
            "valid_crops": int(valid.sum()),
            "root_relative_mm_max": _max(centred(ours) - centred(theirs)),
            "root_relative_mm_mean": float(np.abs(centred(ours) - centred(theirs)).mean()),
            "absolute_mm_max": _max(ours - theirs),
            "absolute_mm_median": float(np.median(np.abs(ours - theirs))),
            "depth_relative_max": _max((ours[..., 2] - theirs[..., 2]) / theirs[..., 2]),
            "projected_px_max": _max(projected(ours) - projected(theirs)),
        }

    return {
        "crops": name,
        "count": len(crops),
        "onnx_vs_tf_points2d_px_max": _max(points2d_onnx - points2d_tf),
        "onnx_vs_tf_points3d_mm_max": _max(centred(rel_onnx_mm) - centred(relative_tf)),
        "onnx_batch_vs_single_max": batch_diff,
        "posecast_vs_tf_batch": pose_difference(poses_tf),
        "posecast_vs_tf_one_crop_at_a_time": pose_difference(per_crop_tf),
        "points_in_fov_share": float(
            np.mean(
                np.all(
                    (points2d_onnx >= decoding.fov_px[0]) & (points2d_onnx <= decoding.fov_px[1]),
                    -1,
                )
            )
        ),
    }


def timing(onnx_path: Path, size: int) -> dict[str, float]:
    """Median ms per crop on onnxruntime CPU (2 threads) at a few batch sizes."""
    session = ort_session(onnx_path)
    result = {}
    for batch in (1, 8):
        crops = np.random.default_rng(0).uniform(0, 1, (batch, size, size, 3)).astype(np.float32)
        session.run(None, {IMAGE_INPUT: crops})
        times = []
        for _ in range(TIMING_REPEATS):
            start = time.perf_counter()
            session.run(None, {IMAGE_INPUT: crops})
            times.append(time.perf_counter() - start)
        result[f"ms_per_crop_batch{batch}"] = round(float(np.median(times)) * 1000 / batch, 2)
    return result


# ----------------------------------------------------------------------------
# Output


def versions() -> dict[str, str]:
    found = {}
    for package in CONVERTER_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def compact_json(document: dict[str, Any]) -> str:
    """JSON with one line per top-level key (lists of joints and indices stay readable)."""
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in document.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_manifest(out_dir: Path, entry: dict[str, Any]) -> None:
    """Add or replace the ``metrabs`` entry of the folder's manifest (others kept)."""
    path = out_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.is_file() else {"models": {}}
    manifest.setdefault("models", {})["metrabs"] = entry
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def convert(args: argparse.Namespace) -> dict[str, Any]:
    source = args.source.resolve()
    out_dir, work_dir = args.out.resolve(), args.work.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = source_record(source)
    LOG.info("source %s sha256 %s (%s)", record["path"], record["sha256"], record["release"])
    tf_model = load_tf_model(saved_model_folder(source, work_dir))
    size, num_joints = tf_model.input_size_px, len(tf_model.joint_names)
    head = find_head(tf_model.graph_def, num_joints)
    points_to_joints = find_points_to_joints(tf_model.graph_def, head, num_joints)
    used_points = points_to_joints.shape[1]

    rng = np.random.default_rng(0)
    fit_crops, fit_K = random_crops(size, RANDOM_CROPS, rng)
    feeds = {
        tf_model.image_tensor: fit_crops.astype(np.float16),
        tf_model.intrinsics_tensor: fit_K.astype(np.float32),
    }
    logits, poses_mm = run_tf(
        tf_model.graph_def, [head.logits_tensor, tf_model.output_tensor], feeds
    )
    height, width = logits.shape[1:3]
    stride = size // height
    coords2d, coords3d = soft_argmax(logits, head.points, head.depth_bins)
    decoding, residual_mm = fit_decoding(
        coords2d[:, :used_points],
        coords3d[:, :used_points],
        poses_mm,
        fit_K,
        points_to_joints,
        size,
        stride,
    )
    if residual_mm > FIT_TOLERANCE_MM:
        raise SystemExit(
            f"the decoding does not reproduce TensorFlow's outputs ({residual_mm:.3f} mm > "
            f"{FIT_TOLERANCE_MM} mm): this model differs from the MeTRAbs graphs posecast knows"
        )

    model = build_onnx(tf_model, head, used_points, (height, width), decoding)
    onnx_path = out_dir / MODEL_FILE
    del model.metadata_props[:]
    for key, value in {
        "source_sha256": record["sha256"],
        "converter": "tools/convert_metrabs.py",
    }.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.save_model(model, str(onnx_path), save_as_external_data=False)

    low, high = decoding.fov_px
    metadata = MetrabsMetadata(
        input_size_px=size,
        joint_names=tf_model.joint_names,
        joint_edges=tf_model.joint_edges,
        skeletons=tf_model.skeletons,
        points_to_joints=points_to_joints,
        mix_3d_inside_fov=decoding.mix_3d_inside_fov,
        fov_min_px=low,
        fov_max_px=high,
        outside_fov_weight=OUTSIDE_FOV_WEIGHT,
        stride_px=decoding.stride_px,
        centered_stride=decoding.centered_stride,
        box_size_m=decoding.box_size_mm / 1000.0,
        depth_bins=head.depth_bins,
        source={key: value for key, value in record.items() if key != "release"}
        | {"release": record["release"]},
    )
    metadata_path = out_dir / METADATA_FILE
    metadata_path.write_text(compact_json(metadata.to_dict()))
    (out_dir / LICENSE_FILE).write_text(STANDIN_LICENSE_TEXT if args.standin else LICENSE_TEXT)

    crop_model = MetrabsCropModel(
        create_runtime(onnx_path, RuntimeOptions(intra_op_threads=2)),
        MetrabsMetadata.from_json(metadata_path),
    )
    checks = [
        compare(
            "random",
            fit_crops,
            fit_K,
            tf_model,
            head,
            decoding,
            crop_model,
            points_to_joints,
            used_points,
        )
    ]
    described: list[dict[str, Any]] = []
    if args.video is not None:
        crops, K, described = real_crops(args.video, size)
        checks.append(
            compare(
                f"real ({args.video.name})",
                crops,
                K,
                tf_model,
                head,
                decoding,
                crop_model,
                points_to_joints,
                used_points,
            )
        )
    for check in checks:
        LOG.info("check %s", json.dumps(check))
    entry = {
        "file": MODEL_FILE,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "metadata": METADATA_FILE,
        "metadata_sha256": sha256_of(metadata_path),
        "licence": (
            "posecast's own stand-in (random weights; see METRABS_LICENSE.txt)"
            if args.standin
            else "non-commercial research only (see METRABS_LICENSE.txt)"
        ),
        "source": record,
        "converter": {"script": "tools/convert_metrabs.py", "versions": versions(), "opset": OPSET},
        "created": datetime.date.today().isoformat(),
        "graph": {
            "head": head.logits_tensor,
            "head_channels": head.channels,
            "points": head.points,
            "points_used": used_points,
            "joints": num_joints,
            "depth_bins": head.depth_bins,
            "heatmap_hw": [int(height), int(width)],
            "input_size_px": size,
        },
        "decoding_fit": {
            "stride_px": decoding.stride_px,
            "centered_stride": decoding.centered_stride,
            "box_size_mm": decoding.box_size_mm,
            "mix_3d_inside_fov": decoding.mix_3d_inside_fov,
            "residual_mm": residual_mm,
            "tolerance_mm": FIT_TOLERANCE_MM,
        },
        "verification": {"checks": checks, "real_crop_frames": described},
        "timing_onnxruntime_cpu_2_threads": timing(onnx_path, size),
    }
    write_manifest(out_dir, entry)
    LOG.info("wrote %s, %s, manifest.json in %s", MODEL_FILE, METADATA_FILE, out_dir)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="MeTRAbs SavedModel folder or release archive")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--work", type=Path, default=Path("/tmp/metrabs-convert"))
    parser.add_argument(
        "--video",
        type=Path,
        default=REPO / "samples" / "vtest_excerpt.mp4",
        help="video whose people give the real check crops (none: --video '')",
    )
    parser.add_argument(
        "--standin",
        action="store_true",
        help="the source is tools/metrabs_standin.py's stand-in: write its licence note",
    )
    args = parser.parse_args()
    if args.video is not None and not str(args.video):
        args.video = None
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    entry = convert(args)
    print(json.dumps(entry["verification"]["checks"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
