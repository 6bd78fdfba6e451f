"""MeTRAbs decoding and test-time augmentation: pure functions over (N, ...) arrays.

From the paper (Sarandi et al., "MeTRAbs: Metric-Scale Truncation-Robust Heatmaps for
Absolute 3D Human Pose Estimation", T-BIOM 2020) and its released code (``tfu3d.py``,
``multiperson_model.py`` of isarandi/metrabs), written anew:

1. The network gives each point (joint or latent point) a 2D position in crop pixels and a
   metric 3D position relative to an unknown reference, in the crop camera's axes.
2. Absolute reconstruction: the reference point's translation that best explains the 2D
   points through the crop intrinsics, by weighted least squares, the weight of a point
   being 1 where its 2D prediction lies inside the crop's field of view and small outside.
   MeTRAbs solves it normalised over the whole batch, so its results depend on which other
   crops share the batch; here it is solved per crop (posecast's ``reconstruct_absolute``).
3. The 2D/3D combination: a point inside the field of view is placed between its 3D-based
   position (relative + translation) and the back-projection of its 2D prediction at the
   same depth (``mix_3d_inside_fov`` of the former); outside, the 3D-based one is kept.
4. Test-time augmentation: each person is cropped ``A`` times, rolled over [-25, 25] deg,
   zoomed 0.8-1.1, every other crop mirrored, gamma 0.6-1.0; predictions are un-mirrored
   in the crop frame (x negated, left/right swapped), rotated back to the camera frame and
   averaged per person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.augmentation import unflip_joints
from posecast.engines.geometry.camera import pixels_to_normalized
from posecast.engines.geometry.perspective_crops import (
    PerspectiveCrops,
    perspective_crop_to_camera,
)
from posecast.engines.geometry.reconstruction import ReconstructionConfig, reconstruct_absolute
from posecast.errors import InvalidInputError

MAX_ROTATION_DEG = 25.0
SCALE_LOW, SCALE_MID, SCALE_HIGH = 0.8, 1.0, 1.1
GAMMA_LOW, GAMMA_HIGH = 0.6, 1.0
GAMMA_DECODE = 2.2
"""MeTRAbs warps in linear light: pixels ** 2.2 before, ** (gamma / 2.2) after."""


def _linspace(start: float, stop: float, count: int, endpoint: bool = True) -> np.ndarray:
    """MeTRAbs' ``linspace``: one value is the midpoint (numpy's would be ``start``)."""
    if count == 1 and endpoint:
        return np.array([(start + stop) / 2.0])
    return np.linspace(start, stop, count, endpoint=endpoint)


@dataclass(frozen=True, eq=False)
class MetrabsAugmentations:
    """MeTRAbs' A test-time augmentations, applied identically to every person.

    Attributes:
        rolls_rad: (A,) crop rolls (``perspective_crops``' sense).
        scales: (A,) extra zoom (> 1 magnifies).
        is_flipped: (A,) mirrored crops.
        gammas: (A,) gamma applied to the crop's linear-light pixels (``x ** (gamma / 2.2)``
            of ``x ** 2.2``; 1 restores the image).
    """

    rolls_rad: np.ndarray
    scales: np.ndarray
    is_flipped: np.ndarray
    gammas: np.ndarray

    def __len__(self) -> int:
        return len(self.scales)

    def per_crop(self, num_persons: int) -> dict[str, np.ndarray]:
        """``perspective_crops`` keyword arguments for N x A crops (person-major)."""
        return {
            "rolls_rad": np.tile(self.rolls_rad, num_persons),
            "scales": np.tile(self.scales, num_persons),
            "is_flipped": np.tile(self.is_flipped, num_persons),
        }


def metrabs_augmentations(
    num_aug: int, max_rotation_deg: float = MAX_ROTATION_DEG
) -> MetrabsAugmentations:
    """MeTRAbs' own test-time augmentation set (its multi-person model's defaults).

    Rolls evenly over [-max, max]; scales: the first A // 2 evenly in [0.8, 1.0) and the
    rest evenly over [1.0, 1.1]; crop i is mirrored when i - A // 2 is odd (so the middle
    one never is); gammas evenly over [0.6, 1.0]. With one augmentation: no roll, scale 1,
    not mirrored, gamma 0.8 (MeTRAbs' midpoint rule for a single value).

    Raises:
        InvalidInputError: num_aug < 1.
    """
    if num_aug < 1:
        raise InvalidInputError(f"num_aug must be at least 1, got {num_aug}")
    half = num_aug // 2
    scales = np.concatenate(
        [
            np.linspace(SCALE_LOW, SCALE_MID, half, endpoint=False),
            np.linspace(SCALE_MID, SCALE_HIGH, num_aug - half),
        ]
    )
    return MetrabsAugmentations(
        rolls_rad=np.deg2rad(_linspace(-max_rotation_deg, max_rotation_deg, num_aug)),
        scales=scales,
        is_flipped=(np.arange(num_aug) - half) % 2 != 0,
        gammas=_linspace(GAMMA_LOW, GAMMA_HIGH, num_aug),
    )


def points_in_fov(points2d_crop_px: np.ndarray, fov_min_px: float, fov_max_px: float) -> np.ndarray:
    """(M, P) whether each 2D prediction lies inside [min, max] on both crop axes."""
    points = np.asarray(points2d_crop_px)
    return np.all((points >= fov_min_px) & (points <= fov_max_px), axis=-1)


def combine_2d_and_3d(
    points_rel_m: np.ndarray,
    points2d_px: np.ndarray,
    K: np.ndarray,
    translations_m: np.ndarray,
    is_in_fov: np.ndarray,
    mix_3d_inside_fov: float,
) -> np.ndarray:
    """Absolute points from the reconstructed translation (MeTRAbs' 2D/3D combination).

    Args:
        points_rel_m: (M, P, 3) relative 3D points, crop camera axes.
        points2d_px: (M, P, 2) their 2D predictions, crop pixels.
        K: (M, 3, 3) crop intrinsics.
        translations_m: (M, 3) the reference point of each crop.
        is_in_fov: (M, P) where the 2D predictions are inside the field of view.
        mix_3d_inside_fov: weight of the 3D-based position inside the field of view.

    Returns:
        (M, P, 3) absolute points in the crop camera frame, metres.
    """
    from_3d = points_rel_m + translations_m[:, None, :]
    depth = from_3d[..., 2:]
    normalized = pixels_to_normalized(points2d_px, K)
    from_2d = np.concatenate([normalized * depth, depth], axis=-1)
    mixed = mix_3d_inside_fov * from_3d + (1.0 - mix_3d_inside_fov) * from_2d
    return np.where(is_in_fov[..., None], mixed, from_3d)


@dataclass(frozen=True, eq=False)
class CropJoints:
    """Absolute joints of M crops in their crop camera frames.

    Attributes:
        joints_crop_m: (M, J, 3) metres, crop camera frame (NaN for invalid crops).
        joint_scores: (M, J) in [0, 1]: 1 where the joint's points were inside the crop's
            field of view (weighted by the points' share in the joint), lower outside.
        is_valid: (M,) crops whose reconstruction succeeded.
        drop_reasons: (M,) ``""`` or the reconstruction's reason for dropping the crop.
    """

    joints_crop_m: np.ndarray
    joint_scores: np.ndarray
    is_valid: np.ndarray
    drop_reasons: np.ndarray


def absolute_crop_joints(
    points2d_px: np.ndarray,
    points_rel_m: np.ndarray,
    K_crop: np.ndarray,
    points_to_joints: np.ndarray,
    fov_px: tuple[float, float],
    mix_3d_inside_fov: float,
    outside_fov_weight: float,
    config: ReconstructionConfig | None = None,
) -> CropJoints:
    """Steps 2-3 of the module docstring for M crops, each on its own, then the joints.

    Args:
        points2d_px: (M, P, 2) 2D predictions, crop pixels.
        points_rel_m: (M, P, 3) relative 3D predictions, crop camera axes, metres.
        K_crop: (M, 3, 3) crop intrinsics.
        points_to_joints: (J, P) affine combination taking points to joints.
        fov_px: the field of view's (min, max) crop pixel on both axes.
        mix_3d_inside_fov: see ``combine_2d_and_3d``.
        outside_fov_weight: reconstruction weight of points outside the field of view.
        config: the per-crop least-squares settings.
    """
    is_in_fov = points_in_fov(points2d_px, *fov_px)
    weights = np.where(is_in_fov, 1.0, outside_fov_weight)
    absolute = reconstruct_absolute(points_rel_m, points2d_px, K_crop, weights, None, config)
    points = combine_2d_and_3d(
        np.asarray(points_rel_m, np.float64),
        points2d_px,
        K_crop,
        absolute.translations_m,
        is_in_fov,
        mix_3d_inside_fov,
    )
    joints = np.einsum("jp,mpc->mjc", points_to_joints, points)
    shares = np.abs(points_to_joints) / np.abs(points_to_joints).sum(axis=1, keepdims=True)
    return CropJoints(
        joints_crop_m=joints,
        joint_scores=weights @ shares.T,
        is_valid=absolute.is_valid,
        drop_reasons=absolute.reasons,
    )


def crop_joints_to_camera(
    joints_crop_m: np.ndarray, crops: PerspectiveCrops, skeleton: str
) -> np.ndarray:
    """(M, J, 3) crop-frame joints -> camera frame: mirrored crops un-mirrored (x negated,
    left and right swapped), then rotated back with R^T."""
    unflipped = unflip_joints(joints_crop_m, crops.is_flipped, skeleton, mirror_x=True)
    return perspective_crop_to_camera(unflipped, crops)


def mean_of_valid(values: np.ndarray, is_valid: np.ndarray, num_aug: int) -> np.ndarray:
    """Per-person mean over the valid ones of its ``num_aug`` consecutive rows.

    Args:
        values: (N * A, ...) person-major rows.
        is_valid: (N * A,) rows to average; a person without any gets NaN.

    Returns:
        (N, ...) means.
    """
    values = np.asarray(values, dtype=np.float64)
    grouped = values.reshape(-1, num_aug, *values.shape[1:])
    mask = np.asarray(is_valid, bool).reshape(-1, num_aug, *([1] * (values.ndim - 1)))
    counts = mask.sum(axis=1)
    total = np.where(mask, np.nan_to_num(grouped), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)
