"""Build a stand-in for an official MeTRAbs SavedModel: the same interface, random weights.

The official models cannot be shipped or downloaded here (non-commercial research licence,
no registry package). This script writes a small TensorFlow SavedModel that a MeTRAbs user's
code and ``tools/convert_metrabs.py`` see exactly as they see an official one (facts from
isarandi/metrabs docs/API.md and metrabs_tf/{models/metrabs.py, multiperson/
multiperson_model.py}; the code here is posecast's own):

- the top-level object has ``crop_model``, ``joint_names``, ``joint_edges`` and the dicts
  ``per_skeleton_indices``, ``per_skeleton_joint_names``, ``per_skeleton_joint_edges``;
- ``crop_model.predict_multi(image, intrinsic_matrix)``: float16 crops (N, S, S, 3) in
  [0, 1] and float32 intrinsics (N, 3, 3) -> (N, J, 3) absolute 3D joints in the crop camera
  frame, millimetres; ``crop_model.input_resolution``, ``joint_names``, ``joint_edges``;
- inside: pixels ``2 x - 1``, a strided convolutional backbone (stride 32, batch norm,
  swish) in mixed precision (float16 compute, float32 weights), one 1x1 convolution giving
  J 2D heatmaps and 8 x J volumetric heatmaps (``metrabs/metrabs_heads/conv2d``), soft-argmax,
  a 2.2 m metric box, and the absolute reconstruction with its batch-wide normalisation,
  ``tf.linalg.lstsq`` (the MatrixSolveLs op that tf2onnx cannot convert) and the 2D/3D mix.

Joint names follow MeTRAbs' conventions (``lsho_smpl``, ``nose_coco``, ``htop_mpi_inf_3dhp``)
and its skeletons' names (``smpl_24``, ``coco_19``, ``h36m_17``, ``smpl+head_30``, ``''``).
Weights are random (seeded): the stand-in's poses mean nothing; it exists to exercise
conversion, loading, batching, decoding and skeleton selection end to end.

Run in the conversion environment (tools/requirements-metrabs.txt)::

    python tools/metrabs_standin.py --out /tmp/metrabs-standin [--precision float32]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf

SMPL_JOINTS = (
    "pelv", "lhip", "rhip", "bell", "lkne", "rkne", "spin", "lank", "rank", "thor", "ltoe",
    "rtoe", "neck", "lcla", "rcla", "head", "lsho", "rsho", "lelb", "relb", "lwri", "rwri",
    "lhan", "rhan",
)  # fmt: skip
COCO_JOINTS = (
    "nose", "leye", "reye", "lear", "rear", "lsho", "rsho", "lelb", "relb", "lwri", "rwri",
    "lhip", "rhip", "lkne", "rkne", "lank", "rank",
)  # fmt: skip
JOINT_NAMES = (
    *(f"{name}_smpl" for name in SMPL_JOINTS),
    *(f"{name}_coco" for name in COCO_JOINTS),
    "htop_mpi_inf_3dhp",
)
SMPL_EDGES = (
    (0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9), (7, 10),
    (8, 11), (9, 12), (9, 13), (9, 14), (12, 15), (13, 16), (14, 17), (16, 18), (17, 19),
    (18, 20), (19, 21), (20, 22), (21, 23),
)  # fmt: skip


def _index(name: str) -> int:
    return JOINT_NAMES.index(name)


def _subset(names: list[str], edges: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    indices = [_index(name) for name in names]
    return {
        "indices": np.array(indices, np.int32),
        "names": np.array(names),
        "edges": np.array([(names.index(a), names.index(b)) for a, b in edges], np.int32),
    }


def skeleton_infos() -> dict[str, dict[str, np.ndarray]]:
    """The named joint subsets, with their names and edges (as the official models')."""
    smpl = [f"{name}_smpl" for name in SMPL_JOINTS]
    smpl_edges = [(smpl[a], smpl[b]) for a, b in SMPL_EDGES]
    coco_order = ["neck_smpl", "nose_coco", "pelv_smpl"] + [
        f"{name}_coco"
        for name in (
            "lsho", "lelb", "lwri", "lhip", "lkne", "lank", "rsho", "relb", "rwri", "rhip",
            "rkne", "rank", "leye", "lear", "reye", "rear",
        )
    ]  # fmt: skip
    coco_edges = [
        ("neck_smpl", "nose_coco"), ("neck_smpl", "pelv_smpl"), ("neck_smpl", "lsho_coco"),
        ("lsho_coco", "lelb_coco"), ("lelb_coco", "lwri_coco"), ("pelv_smpl", "lhip_coco"),
        ("lhip_coco", "lkne_coco"), ("lkne_coco", "lank_coco"), ("neck_smpl", "rsho_coco"),
        ("rsho_coco", "relb_coco"), ("relb_coco", "rwri_coco"), ("pelv_smpl", "rhip_coco"),
        ("rhip_coco", "rkne_coco"), ("rkne_coco", "rank_coco"), ("nose_coco", "leye_coco"),
        ("leye_coco", "lear_coco"), ("nose_coco", "reye_coco"), ("reye_coco", "rear_coco"),
    ]  # fmt: skip
    h36m = [
        "pelv_smpl", "rhip_smpl", "rkne_smpl", "rank_smpl", "lhip_smpl", "lkne_smpl",
        "lank_smpl", "spin_smpl", "neck_smpl", "head_smpl", "htop_mpi_inf_3dhp", "lsho_smpl",
        "lelb_smpl", "lwri_smpl", "rsho_smpl", "relb_smpl", "rwri_smpl",
    ]  # fmt: skip
    h36m_edges = [(h36m[a], h36m[b]) for a, b in (
        (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
        (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
    )]  # fmt: skip
    head = ["htop_mpi_inf_3dhp", "lear_coco", "leye_coco", "nose_coco", "rear_coco", "reye_coco"]
    head_edges = [
        ("head_smpl", "htop_mpi_inf_3dhp"), ("head_smpl", "nose_coco"),
        ("nose_coco", "leye_coco"), ("leye_coco", "lear_coco"),
        ("nose_coco", "reye_coco"), ("reye_coco", "rear_coco"),
    ]  # fmt: skip
    all_edges = smpl_edges + coco_edges[3:] + [("head_smpl", "htop_mpi_inf_3dhp")]
    return {
        "smpl_24": _subset(smpl, smpl_edges),
        "coco_19": _subset(coco_order, coco_edges),
        "h36m_17": _subset(h36m, h36m_edges),
        "smpl+head_30": _subset(smpl + head, smpl_edges + head_edges),
        "": _subset(list(JOINT_NAMES), all_edges),
    }


# The decoding constants of the stand-in (the converter must find them on its own).
STRIDE_PX = 32
CENTERED_STRIDE = True
BOX_SIZE_MM = 2200.0
DEPTH_BINS = 8
MIX_3D_INSIDE_FOV = 0.5
CHANNELS = (8, 16, 16, 32, 32)


def _soft_argmax(logits: tf.Tensor, spatial_shape: tuple[int, ...]) -> tf.Tensor:
    """(N, P, *spatial) logits -> (N, P, len(spatial)) expected coordinates in [0, 1], the
    last spatial axis first (x, y[, z] for an (h, w[, d]) map ordered (y, x[, z]))."""
    batch_points = tf.shape(logits)[:2]
    flat = tf.reshape(logits, tf.concat([batch_points, [-1]], axis=0))
    probabilities = tf.reshape(tf.nn.softmax(flat, axis=-1), tf.shape(logits))
    rank = len(spatial_shape)
    coordinates = []
    for axis in range(rank):
        others = [2 + other for other in range(rank) if other != axis]
        marginal = tf.reduce_sum(probabilities, axis=others)
        steps = tf.linspace(0.0, 1.0, spatial_shape[axis])
        coordinates.append(tf.reduce_sum(marginal * steps, axis=-1))
    order = {2: [1, 0], 3: [1, 0, 2]}[rank]  # (y, x) -> (x, y); (y, x, z) -> (x, y, z)
    return tf.stack([coordinates[axis] for axis in order], axis=-1)


def _to_pixels(coordinates: tf.Tensor, size: int) -> tf.Tensor:
    last_center = (size - 1) - ((size - 1) % STRIDE_PX)
    offset = STRIDE_PX // 2 if CENTERED_STRIDE else 0
    return coordinates * float(last_center) + float(offset)


def _is_within_fov(points2d: tf.Tensor, size: int) -> tf.Tensor:
    offset = 0.0 if CENTERED_STRIDE else -STRIDE_PX / 2
    lower = STRIDE_PX * 0.75 + offset
    upper = size - STRIDE_PX * 0.75 + offset
    return tf.reduce_all((points2d >= lower) & (points2d <= upper), axis=-1)


def _reference_point(normalized: tf.Tensor, relative: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    """The translation by weighted least squares, normalised over the whole batch (the
    released models' way; posecast solves per crop)."""
    count = tf.shape(normalized)[0]
    num_points = normalized.shape[1]
    eyes = tf.tile(tf.eye(2)[None], [count, num_points, 1])
    flat2d = tf.reshape(normalized, [-1, num_points * 2, 1])
    scale2d = tf.sqrt(tf.reduce_mean(tf.square(flat2d)))
    design = tf.concat([eyes, -flat2d / scale2d], axis=2)
    target = normalized * relative[..., 2:] - relative[..., :2]
    flat_target = tf.reshape(target, [-1, num_points * 2, 1])
    scale_target = tf.sqrt(tf.reduce_mean(tf.square(flat_target)))
    weights = tf.repeat(tf.cast(valid, tf.float32) + 1e-4, 2, axis=1)[..., None]
    solution = tf.linalg.lstsq(
        design * weights, flat_target / scale_target * weights, l2_regularizer=1e-2, fast=True
    )
    solution = tf.concat([solution[:, :2], solution[:, 2:] / scale2d], axis=1) * scale_target
    return solution[..., 0]


def _reconstruct_absolute(
    points2d: tf.Tensor, relative: tf.Tensor, intrinsics: tf.Tensor, size: int
) -> tf.Tensor:
    homogeneous = tf.concat([points2d, tf.ones_like(points2d[..., :1])], axis=-1)
    normalized = tf.einsum("npc,nkc->npk", homogeneous, tf.linalg.inv(intrinsics))[..., :2]
    valid = _is_within_fov(points2d, size)
    reference = _reference_point(normalized, relative, valid)
    from_3d = relative + reference[:, None]
    depth = from_3d[..., 2:]
    from_2d = tf.concat([normalized * depth, depth], axis=-1)
    mixed = MIX_3D_INSIDE_FOV * from_3d + (1.0 - MIX_3D_INSIDE_FOV) * from_2d
    return tf.where(valid[..., None], mixed, from_3d)


class StandInCropModel(tf.Module):
    """The crop model: backbone, heatmap head, soft-argmax, metric box, reconstruction."""

    def __init__(self, rng: np.random.Generator, size: int, mixed_precision: bool) -> None:
        super().__init__()
        self.input_resolution = tf.Variable(np.int32(size), trainable=False)
        self.joint_names = tf.Variable(np.array(JOINT_NAMES), trainable=False)
        self.joint_edges = tf.Variable(skeleton_infos()[""]["edges"], trainable=False)
        self.size = size
        self.compute_dtype = tf.float16 if mixed_precision else tf.float32
        self.blocks = []
        channels_in = 3
        for channels in CHANNELS:
            kernel = rng.normal(0, np.sqrt(2.0 / (9 * channels_in)), (3, 3, channels_in, channels))
            self.blocks.append(
                {
                    "kernel": tf.Variable(kernel.astype(np.float32)),
                    "scale": tf.Variable(rng.uniform(0.8, 1.2, channels).astype(np.float32)),
                    "offset": tf.Variable(rng.normal(0, 0.1, channels).astype(np.float32)),
                    "mean": tf.Variable(rng.normal(0, 0.1, channels).astype(np.float32)),
                    "variance": tf.Variable(rng.uniform(0.5, 1.5, channels).astype(np.float32)),
                }
            )
            channels_in = channels
        # The volumetric heatmaps share the 2D heatmaps' layout (plus a little of their own),
        # so that, as in a trained model, 3D and 2D agree and people land in front of the
        # camera at a plausible distance.
        num_points = len(JOINT_NAMES)
        kernel2d = rng.normal(0, 16.0 / np.sqrt(channels_in), (1, 1, channels_in, num_points))
        bias2d = rng.normal(0, 1.0, num_points)
        shape3d = (1, 1, channels_in, DEPTH_BINS * num_points)
        kernel3d = np.tile(kernel2d, DEPTH_BINS) + rng.normal(0, 0.1, shape3d) / np.sqrt(
            channels_in
        )
        bias3d = np.tile(bias2d, DEPTH_BINS) + rng.normal(0, 0.5, DEPTH_BINS * num_points)
        head = np.concatenate([kernel2d, kernel3d], axis=3)
        self.head_kernel = tf.Variable(head.astype(np.float32))
        self.head_bias = tf.Variable(np.concatenate([bias2d, bias3d]).astype(np.float32))

    @tf.function(
        input_signature=[
            tf.TensorSpec(shape=(None, None, None, 3), dtype=tf.float16),
            tf.TensorSpec(shape=(None, 3, 3), dtype=tf.float32),
        ]
    )
    def predict_multi(self, image: tf.Tensor, intrinsic_matrix: tf.Tensor) -> tf.Tensor:
        dtype = self.compute_dtype
        features = tf.cast(image, dtype) * tf.cast(2, dtype) - tf.cast(1, dtype)
        for block in self.blocks:
            features = tf.nn.conv2d(
                features, tf.cast(block["kernel"], dtype), strides=2, padding="SAME"
            )
            features, _, _ = tf.compat.v1.nn.fused_batch_norm(
                features,
                block["scale"],
                block["offset"],
                block["mean"],
                block["variance"],
                is_training=False,
            )
            features = features * tf.sigmoid(features)
        with tf.name_scope("metrabs/metrabs_heads/conv2d"):
            logits = tf.nn.conv2d(features, tf.cast(self.head_kernel, dtype), 1, "VALID")
            logits = tf.nn.bias_add(logits, tf.cast(self.head_bias, dtype))
        logits = tf.cast(logits, tf.float32)
        num_points = len(JOINT_NAMES)
        height, width = self.size // STRIDE_PX, self.size // STRIDE_PX
        logits2d, logits3d = tf.split(logits, [num_points, DEPTH_BINS * num_points], axis=3)
        maps2d = tf.transpose(logits2d, [0, 3, 1, 2])  # (N, P, h, w)
        volumes = tf.reshape(logits3d, [-1, height, width, DEPTH_BINS, num_points])
        volumes = tf.transpose(volumes, [0, 4, 1, 2, 3])  # (N, P, h, w, d)
        points2d = _to_pixels(_soft_argmax(maps2d, (height, width)), self.size)
        coords3d = _soft_argmax(volumes, (height, width, DEPTH_BINS))
        relative = tf.concat(
            [
                _to_pixels(coords3d[..., :2], self.size) * (BOX_SIZE_MM / self.size),
                coords3d[..., 2:] * BOX_SIZE_MM,
            ],
            axis=-1,
        )
        return _reconstruct_absolute(points2d, relative, intrinsic_matrix, self.size)


class StandInModel(tf.Module):
    """The multi-person model's attributes that posecast reads (no detector, no cropping)."""

    def __init__(self, crop_model: StandInCropModel) -> None:
        super().__init__()
        self.crop_model = crop_model
        self.joint_names = crop_model.joint_names
        self.joint_edges = crop_model.joint_edges
        infos = skeleton_infos()
        self.per_skeleton_indices = {
            name: tf.Variable(info["indices"], trainable=False) for name, info in infos.items()
        }
        self.per_skeleton_joint_names = {
            name: tf.Variable(info["names"], trainable=False) for name, info in infos.items()
        }
        self.per_skeleton_joint_edges = {
            name: tf.Variable(info["edges"], trainable=False) for name, info in infos.items()
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="SavedModel folder to write")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision",
        choices=("mixed", "float32"),
        default="mixed",
        help="mixed: float16 compute as the released models; float32: the same weights in "
        "full precision (isolates conversion error from float16 rounding)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    crop_model = StandInCropModel(rng, args.size, args.precision == "mixed")
    tf.saved_model.save(StandInModel(crop_model), str(args.out))
    print(f"wrote {args.out} ({len(JOINT_NAMES)} joints, {args.size} px, {args.precision})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
