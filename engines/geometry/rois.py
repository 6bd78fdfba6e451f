"""BlazePose regions of interest (MediaPipe conventions): the ``Roi`` record and the functions
that make, compare, deduplicate and orient ROIs.

A ROI is a square, possibly rotated rectangle in the image, in pixels (the centre of pixel
(i, j) is at (x=j, y=i), OpenCV's convention). Cutting ROIs out of an image and mapping
points between crop and image is in :mod:`posecast.engines.geometry.warps`. See docs/geometry.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from posecast.engines.geometry.boxes import non_max_suppression, validate_boxes_xyxy
from posecast.engines.geometry.camera import pixels_to_normalized, validate_intrinsics
from posecast.engines.geometry.rotations import (
    look_at_rotations,
    normalize_radians,
    rotations_about_z,
)
from posecast.errors import InvalidInputError

BLAZEPOSE_ROI_SCALE = 1.25
"""Margin MediaPipe's pose landmark graph applies to its ROIs (RectTransformationCalculator)."""


@dataclass(frozen=True, eq=False)
class Roi:
    """N square, rotated regions of interest in image pixels.

    Attributes:
        centers_px: (N, 2) rectangle centres.
        sides_px: (N,) side lengths.
        rotations_rad: (N,) rotations in [-pi, pi]; the crop's x axis points along
            (cos r, sin r) in the image (x right, y down), MediaPipe's sense.
        is_flipped: (N,) whether the crop is mirrored horizontally (test-time augmentation).
    """

    centers_px: np.ndarray
    sides_px: np.ndarray
    rotations_rad: np.ndarray
    is_flipped: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for name in ("centers_px", "sides_px", "rotations_rad"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        count = len(self.sides_px)
        if self.is_flipped is None:
            object.__setattr__(self, "is_flipped", np.zeros(count, dtype=bool))
        object.__setattr__(self, "is_flipped", np.asarray(self.is_flipped, dtype=bool))
        expected = {
            "centers_px": (count, 2),
            "sides_px": (count,),
            "rotations_rad": (count,),
            "is_flipped": (count,),
        }
        for name, shape in expected.items():
            actual = np.shape(getattr(self, name))
            if actual != shape:
                raise InvalidInputError(f"Roi.{name}: expected shape {shape}, got {actual}")
        if not (np.all(np.isfinite(self.centers_px)) and np.all(np.isfinite(self.sides_px))):
            raise InvalidInputError("Roi: contains non-finite values")
        if np.any(np.asarray(self.sides_px) <= 0):
            raise InvalidInputError("Roi.sides_px: sides must be positive")

    def __len__(self) -> int:
        return len(self.sides_px)

    def __getitem__(self, index: int | slice | np.ndarray | list[int]) -> Roi:
        """Select ROIs; an int keeps the leading axis."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Roi(
            centers_px=np.asarray(self.centers_px)[index],
            sides_px=np.asarray(self.sides_px)[index],
            rotations_rad=np.asarray(self.rotations_rad)[index],
            is_flipped=np.asarray(self.is_flipped)[index],
        )

    @classmethod
    def empty(cls) -> Roi:
        """No ROIs."""
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros(0))

    @classmethod
    def concatenate(cls, rois: list[Roi]) -> Roi:
        """All ROIs of several sets, in order."""
        return cls(
            centers_px=np.concatenate([np.asarray(roi.centers_px, float) for roi in rois]),
            sides_px=np.concatenate([np.asarray(roi.sides_px, float) for roi in rois]),
            rotations_rad=np.concatenate([np.asarray(roi.rotations_rad, float) for roi in rois]),
            is_flipped=np.concatenate([np.asarray(roi.is_flipped, bool) for roi in rois]),
        )

    def with_flips(self, is_flipped: np.ndarray | bool) -> Roi:
        return replace(self, is_flipped=np.broadcast_to(is_flipped, (len(self),)).copy())


def roi_from_box(boxes_xyxy: np.ndarray, scale: float = BLAZEPOSE_ROI_SCALE) -> Roi:
    """Square, unrotated ROIs around person boxes: side = longer box side x ``scale``.

    Args:
        boxes_xyxy: (N, 4) boxes in image pixels.
        scale: margin factor (MediaPipe's pose graphs use 1.25).
    """
    boxes = validate_boxes_xyxy(boxes_xyxy)
    return Roi(
        centers_px=(boxes[:, :2] + boxes[:, 2:]) / 2.0,
        sides_px=np.max(boxes[:, 2:] - boxes[:, :2], axis=1) * scale,
        rotations_rad=np.zeros(len(boxes)),
    )


def roi_from_alignment_points(
    center_points_px: np.ndarray,
    scale_points_px: np.ndarray,
    scale: float = BLAZEPOSE_ROI_SCALE,
    target_angle_rad: float = np.pi / 2.0,
) -> Roi:
    """ROIs from BlazePose's two alignment points (auxiliary landmarks 33 and 34).

    MediaPipe's PoseLandmarksToRoi: AlignmentPointsRectsCalculator (centre = first point,
    box size = 2 |p1 - p0| in pixels, rotation = target - atan2(-(y1 - y0), x1 - x0), y
    negated because image y points down, wrapped to [-pi, pi)), then
    RectTransformationCalculator (square_long, then x ``scale``). MediaPipe does this in
    normalised coordinates but scales by the image size first, so in pixels the ROI is square.

    Args:
        center_points_px: (N, 2) first alignment point (landmark 33, hips centre).
        scale_points_px: (N, 2) second alignment point (landmark 34).
        scale: margin factor (1.25 in the pose landmark graph).
        target_angle_rad: angle the centre->scale vector should have in the crop (90 deg:
            pointing up, i.e. the body upright).

    Returns:
        ROIs; degenerate pairs (coincident points) raise.

    Raises:
        InvalidInputError: wrong shapes, non-finite or coincident points.
    """
    p0 = np.asarray(center_points_px, dtype=np.float64)
    p1 = np.asarray(scale_points_px, dtype=np.float64)
    if p0.ndim != 2 or p0.shape[1] != 2 or p1.shape != p0.shape:
        raise InvalidInputError(
            f"alignment points: expected two (N, 2) arrays, got {p0.shape} and {p1.shape}"
        )
    delta = p1 - p0
    size = 2.0 * np.hypot(delta[:, 0], delta[:, 1])
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise InvalidInputError("alignment points: non-finite or coincident points")
    rotation = normalize_radians(target_angle_rad - np.arctan2(-delta[:, 1], delta[:, 0]))
    return Roi(centers_px=p0.copy(), sides_px=size * scale, rotations_rad=rotation)


def boxes_covered_by_rois(
    boxes_xyxy: np.ndarray, roi: Roi, max_center_offset: float = 0.2
) -> np.ndarray:
    """(N,) whether each person box already has a followed ROI.

    Boxes and ROIs are paired one to one (Hungarian on centre distance): a pair counts when
    the box centre lies within ``max_center_offset`` x the ROI side of the ROI centre (the
    hips, about mid-body) and the box is person-sized for that ROI (its longer side 0.4-1.2 x
    the ROI side, which is ~1.25 x the body). One to one, so a neighbour standing inside
    someone's ROI is still a new person.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    covered = np.zeros(len(boxes), dtype=bool)
    if len(boxes) == 0 or len(roi) == 0:
        return covered
    sides = np.asarray(roi.sides_px, dtype=np.float64)[None, :]
    box_centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    offsets = np.linalg.norm(box_centers[:, None] - np.asarray(roi.centers_px)[None], axis=-1)
    longer = (boxes[:, 2:] - boxes[:, :2]).max(axis=1)[:, None]
    is_pair = (offsets <= max_center_offset * sides) & (longer >= 0.4 * sides)
    is_pair &= longer <= 1.2 * sides
    rows, cols = linear_sum_assignment(np.where(is_pair, offsets / sides, 1e6))
    covered[rows[is_pair[rows, cols]]] = True
    return covered


def deduplicate_rois(roi: Roi, scores: np.ndarray, max_iou: float = 0.5) -> Roi:
    """Drop ROIs that overlap a higher-scored one by more than ``max_iou`` (their axis-aligned
    squares), so that two followed ROIs that converged on one person become one.

    Args:
        roi: N ROIs.
        scores: (N,) a score per ROI; the higher one of an overlapping pair is kept.
    """
    if len(roi) < 2:
        return roi
    sides = np.asarray(roi.sides_px, dtype=np.float64)[:, None]
    corners = np.asarray(roi.centers_px, dtype=np.float64) - sides / 2
    kept = non_max_suppression(np.concatenate([corners, corners + sides], axis=1), scores, max_iou)
    return roi[np.sort(kept)]


def roi_look_at_rotations(roi: Roi, K: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations of virtual cameras looking along the rays through ROI centres."""
    K = validate_intrinsics(K)
    normalized = pixels_to_normalized(np.asarray(roi.centers_px, dtype=np.float64), K)
    return look_at_rotations(np.concatenate([normalized, np.ones((len(roi), 1))], axis=1))


def roi_world_to_camera(
    world_landmarks_m: np.ndarray,
    roi: Roi,
    K: np.ndarray | None = None,
    *,
    perspective_correction: bool = True,
) -> np.ndarray:
    """Orient BlazePose world landmarks (predicted in the ROI crop's axes) like the camera.

    Step 1, as MediaPipe's WorldLandmarkProjectionCalculator: rotate by the ROI rotation
    about the optical axis (x' = cos r x - sin r y, y' = sin r x + cos r y).

    Step 2, the perspective correction (``perspective_correction=True``, needs ``K``): the
    crop is an affine cut of the image around the ROI centre, so the model sees the person
    as a camera looking along the ray through that centre would (to first order; that
    virtual camera's view of the neighbourhood is the real image stretched radially, with no
    rotation, see :func:`look_at_rotations`). Its prediction is therefore in the look-at
    camera's orientation; R^T of the look-at rotation turns it into the real camera's. For
    a person at the image edge with a 55 deg lens this is a ~25 deg rotation about a vertical
    axis, which MediaPipe's own output lacks.

    Args:
        world_landmarks_m: (N, J, 3) metric landmarks in the (unflipped) crop axes: x right,
            y down, z away from the camera, as BlazePose outputs them.
        roi: the N ROIs the landmarks were predicted in.
        K: (3, 3) intrinsics; required for the perspective correction.
        perspective_correction: apply step 2.

    Returns:
        (N, J, 3) landmarks in the camera's orientation (still root-relative, metres).
    """
    points = np.asarray(world_landmarks_m, dtype=np.float64)
    # Row vectors: X' = X @ Rz^T.
    oriented = points @ np.swapaxes(rotations_about_z(roi.rotations_rad), 1, 2)
    if not perspective_correction:
        return oriented
    if K is None:
        raise InvalidInputError("roi_world_to_camera: the perspective correction needs K")
    # X_cam = R_lookat^T X  ->  rows: X @ R_lookat.
    return oriented @ roi_look_at_rotations(roi, K)
