"""The MeTRAbs crop model behind posecast's pose crop contract (design.md, section 2).

In: a batch of perspective crops (M, S, S, 3) and their crop intrinsics (M, 3, 3). Out: per
crop the joints in crop pixels, metric 3D joints in the crop camera frame, per-joint
confidence. The converted network (one runtime call for the whole batch) gives each point
its 2D crop position and relative metric 3D position; everything after it is per crop
(``posecast.engines.metrabs.decoding``), so a crop's result never depends on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.camera import project_points
from posecast.engines.geometry.reconstruction import ReconstructionConfig
from posecast.engines.metrabs.decoding import absolute_crop_joints
from posecast.engines.metrabs.metadata import (
    IMAGE_INPUT,
    POINTS_2D_OUTPUT,
    POINTS_3D_OUTPUT,
    MetrabsMetadata,
)
from posecast.engines.runtimes import Runtime
from posecast.errors import InvalidInputError, ModelError


@dataclass(frozen=True, eq=False)
class CropPoses:
    """The crop model's output for M crops (crop camera frames).

    Attributes:
        joints2d_crop_px: (M, J, 2) joints in crop pixels (projections of the 3D joints).
        joints_crop_m: (M, J, 3) absolute joints in the crop camera frame, metres; NaN for
            crops whose reconstruction failed.
        joint_scores: (M, J) confidence in [0, 1] (inside the crop's field of view: 1).
        is_valid: (M,) crops with a pose.
        drop_reasons: (M,) ``""`` or why a crop has none (``reconstruct_absolute`` reasons).
    """

    joints2d_crop_px: np.ndarray
    joints_crop_m: np.ndarray
    joint_scores: np.ndarray
    is_valid: np.ndarray
    drop_reasons: np.ndarray

    def __len__(self) -> int:
        return len(self.is_valid)

    def root_relative(self, root_index: int) -> np.ndarray:
        """(M, J, 3) the joints relative to joint ``root_index`` (the contract's form)."""
        return self.joints_crop_m - self.joints_crop_m[:, root_index : root_index + 1]


class MetrabsCropModel:
    """A converted MeTRAbs network with its metadata.

    Args:
        runtime: the ONNX model (input ``image`` (M, S, S, 3) float32 RGB in [0, 1], outputs
            ``points2d_crop_px`` (M, P, 2) and ``points3d_rel_crop_m`` (M, P, 3)); any
            provider, or a batched runtime in the service.
        metadata: its joints and decoding constants.
        reconstruction: the per-crop least-squares settings.

    Raises:
        ModelError: the runtime's tensors do not match the metadata.
    """

    def __init__(
        self,
        runtime: Runtime,
        metadata: MetrabsMetadata,
        reconstruction: ReconstructionConfig | None = None,
    ) -> None:
        self.runtime = runtime
        self.metadata = metadata
        self.reconstruction = reconstruction or ReconstructionConfig()
        self._check_tensors()

    @property
    def input_size_px(self) -> int:
        return self.metadata.input_size_px

    def with_runtime(self, runtime: Runtime) -> MetrabsCropModel:
        """The same model and decoding over another runtime (the service's batched one)."""
        return MetrabsCropModel(runtime, self.metadata, self.reconstruction)

    def _check_tensors(self) -> None:
        size, points = self.metadata.input_size_px, self.metadata.num_points
        expected = {
            IMAGE_INPUT: (None, size, size, 3),
            POINTS_2D_OUTPUT: (None, points, 2),
            POINTS_3D_OUTPUT: (None, points, 3),
        }
        found = {spec.name: spec.shape for spec in (*self.runtime.inputs, *self.runtime.outputs)}
        for name, shape in expected.items():
            actual = found.get(name)
            fits = actual is not None and len(actual) == len(shape)
            fits = fits and all(a == b for a, b in zip(actual[1:], shape[1:], strict=True))
            if not fits:
                raise ModelError(
                    f"MeTRAbs model: expected tensor {name} {shape}, found {found}; is the "
                    "metadata from the same conversion as the ONNX file?"
                )

    def run(self, crops_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network alone: (M, P, 2) 2D crop pixels and (M, P, 3) relative metres.

        Raises:
            InvalidInputError: crops of the wrong shape or type.
        """
        size = self.input_size_px
        crops = np.asarray(crops_rgb)
        if crops.dtype != np.float32 or crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
            raise InvalidInputError(
                f"crops: expected (M, {size}, {size}, 3) float32, got {crops.shape} {crops.dtype}"
            )
        if not len(crops):
            points = self.metadata.num_points
            return np.zeros((0, points, 2), np.float32), np.zeros((0, points, 3), np.float32)
        outputs = self.runtime.infer({IMAGE_INPUT: crops})
        return outputs[POINTS_2D_OUTPUT], outputs[POINTS_3D_OUTPUT]

    def predict(self, crops_rgb: np.ndarray, K_crop: np.ndarray) -> CropPoses:
        """Poses of M crops in their crop camera frames.

        Args:
            crops_rgb: (M, S, S, 3) float32 RGB in [0, 1] (MeTRAbs' crops: warped in linear
                light, ``posecast.engines.metrabs.estimator``).
            K_crop: (M, 3, 3) the crops' intrinsics.

        Raises:
            InvalidInputError: crops or intrinsics of the wrong shape.
        """
        K_crop = np.asarray(K_crop, dtype=np.float64)
        if K_crop.shape != (len(crops_rgb), 3, 3):
            raise InvalidInputError(
                f"K_crop: expected ({len(crops_rgb)}, 3, 3), got {K_crop.shape}"
            )
        points2d, points_rel = self.run(crops_rgb)
        metadata = self.metadata
        joints = absolute_crop_joints(
            points2d.astype(np.float64),
            points_rel.astype(np.float64),
            K_crop,
            metadata.points_to_joints,
            (metadata.fov_min_px, metadata.fov_max_px),
            metadata.mix_3d_inside_fov,
            metadata.outside_fov_weight,
            self.reconstruction,
        )
        return CropPoses(
            joints2d_crop_px=project_points(joints.joints_crop_m, K_crop),
            joints_crop_m=joints.joints_crop_m,
            joint_scores=joints.joint_scores,
            is_valid=joints.is_valid,
            drop_reasons=joints.drop_reasons,
        )
