"""Test-time augmentation (MeTRAbs style): several rotated, scaled, flipped crops per person.

Flow for N persons and A augmentations (augmented arrays are person-major: rows
``i * A .. i * A + A - 1`` belong to person i):

1. ``augs = make_augmentations(A)``; ``rois = augment_rois(roi, augs)`` (N * A ROIs; the
   flip is part of each ROI's crop matrix, so :func:`posecast.engines.geometry.warps.warp_roi` cuts
   mirrored crops directly) or, for perspective crops, pass ``augs.per_crop(N)`` to
   :func:`posecast.engines.geometry.perspective_crops.perspective_crops`.
2. Run the model on all N * A crops.
3. 2D: map crop pixels to image pixels (the crop matrices undo flip, rotation and scale),
   then ``unflip_joints(..., mirror_x=False)`` swaps left/right identities of flipped crops.
   3D: ``unflip_joints(..., mirror_x=True)`` in the crop frame, then rotate to the camera
   frame (:func:`posecast.engines.geometry.rois.roi_world_to_camera` or
   :func:`posecast.engines.geometry.perspective_crops.perspective_crop_to_camera`).
4. ``average_augmentations`` per person, in the camera frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.rotations import normalize_radians
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.errors import InvalidInputError

_GOLDEN_FRACTION = 0.6180339887498949


@dataclass(frozen=True, eq=False)
class Augmentations:
    """A augmentation parameter sets, applied identically to every person.

    Attributes:
        rotations_rad: (A,) in-plane rotations of the crop (positive turns the crop's x axis
            towards the image's y axis).
        scales: (A,) zoom factors (> 1 magnifies: the ROI side is divided by it).
        is_flipped: (A,) horizontal mirror of the crop.
    """

    rotations_rad: np.ndarray
    scales: np.ndarray
    is_flipped: np.ndarray

    def __len__(self) -> int:
        return len(self.scales)

    def per_crop(self, num_persons: int) -> dict[str, np.ndarray]:
        """Keyword arguments (rolls_rad, scales, is_flipped) for N * A perspective crops.

        Repeat each box A times (``np.repeat(boxes, A, axis=0)``) to match.
        """
        return {
            "rolls_rad": np.tile(self.rotations_rad, num_persons),
            "scales": np.tile(self.scales, num_persons),
            "is_flipped": np.tile(self.is_flipped, num_persons),
        }


def make_augmentations(
    num_aug: int,
    max_rotation_deg: float = 25.0,
    scale_range: tuple[float, float] = (0.8, 1.1),
) -> Augmentations:
    """Deterministic augmentation parameters.

    One augmentation is the identity. With more, rotations are spread evenly over
    [-max, max], scales evenly over ``scale_range`` in a golden-ratio shuffled order (so
    scale does not follow rotation), and every second augmentation is flipped.

    Raises:
        InvalidInputError: num_aug < 1 or an invalid range.
    """
    if num_aug < 1:
        raise InvalidInputError(f"num_aug must be at least 1, got {num_aug}")
    low, high = scale_range
    if not 0 < low <= high or max_rotation_deg < 0:
        raise InvalidInputError(f"invalid augmentation ranges: {scale_range}, {max_rotation_deg}")
    if num_aug == 1:
        return Augmentations(np.zeros(1), np.ones(1), np.zeros(1, dtype=bool))
    rotations = np.deg2rad(np.linspace(-max_rotation_deg, max_rotation_deg, num_aug))
    order = np.argsort((np.arange(num_aug) * _GOLDEN_FRACTION) % 1.0)
    scales = np.linspace(low, high, num_aug)[np.argsort(order)]
    is_flipped = np.arange(num_aug) % 2 == 1
    return Augmentations(rotations, scales, is_flipped)


def augment_rois(roi: Roi, augs: Augmentations) -> Roi:
    """N ROIs -> N * A augmented ROIs (person-major): rotated, shrunk by scale, flipped.

    Flipping composes with the ROI's own flag (a flipped ROI flipped again is unflipped).
    """
    count, num_aug = len(roi), len(augs)
    return Roi(
        centers_px=np.repeat(np.asarray(roi.centers_px, dtype=np.float64), num_aug, axis=0),
        sides_px=(np.asarray(roi.sides_px)[:, None] / augs.scales[None]).reshape(-1),
        rotations_rad=normalize_radians(
            (np.asarray(roi.rotations_rad)[:, None] + augs.rotations_rad[None]).reshape(-1)
        ),
        is_flipped=(np.asarray(roi.is_flipped)[:, None] ^ augs.is_flipped[None]).reshape(
            count * num_aug
        ),
    )


def unflip_joints(
    joints: np.ndarray, is_flipped: np.ndarray, skeleton: str, *, mirror_x: bool
) -> np.ndarray:
    """Undo horizontal flips of predictions made on mirrored crops.

    Args:
        joints: (M, J, D) predictions, one row per crop.
        is_flipped: (M,) which crops were mirrored.
        skeleton: the predictions' format (for the left/right permutation).
        mirror_x: negate x too: True for coordinates in the crop frame (e.g. 3D in the
            crop camera's axes), False for coordinates already mapped back through the
            crop matrix (which includes the mirror).

    Returns:
        (M, J, D) new array with flipped rows un-mirrored and left/right swapped.
    """
    joints = np.asarray(joints)
    is_flipped = np.asarray(is_flipped, dtype=bool)
    permutation = get_skeleton(skeleton).mirror_permutation
    if joints.ndim != 3 or joints.shape[1] != len(permutation) or len(is_flipped) != len(joints):
        raise InvalidInputError(
            f"unflip_joints: expected (M, {len(permutation)}, D) joints and (M,) flags, "
            f"got {joints.shape} and {is_flipped.shape}"
        )
    out = joints.copy()
    flipped = out[is_flipped][:, permutation]
    if mirror_x:
        flipped[..., 0] = -flipped[..., 0]
    out[is_flipped] = flipped
    return out


def unflip_scores(scores: np.ndarray, is_flipped: np.ndarray, skeleton: str) -> np.ndarray:
    """(M, J) per-joint scores of flipped crops with left/right swapped back."""
    return unflip_joints(np.asarray(scores)[..., None], is_flipped, skeleton, mirror_x=False)[
        ..., 0
    ]


def average_augmentations(
    values: np.ndarray, num_aug: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Average per-person augmentations (person-major rows).

    Args:
        values: (N * A, J, D) joints in a common frame (camera frame, image pixels) or
            (N * A, J) scores.
        num_aug: A.
        weights: optional (N * A, J) non-negative weights (e.g. joint confidences); a joint
            whose weights all vanish falls back to the plain mean.

    Returns:
        (N, J, D) or (N, J) averages.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) % num_aug:
        raise InvalidInputError(f"{len(values)} rows are not a multiple of num_aug={num_aug}")
    grouped = values.reshape(-1, num_aug, *values.shape[1:])
    if weights is None:
        return grouped.mean(axis=1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1, num_aug, values.shape[1])
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / num_aug)
    if values.ndim == 3:
        w = w[..., None]
    return (grouped * w).sum(axis=1)
