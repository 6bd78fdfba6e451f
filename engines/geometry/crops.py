"""Person crops: MeTRAbs perspective crops and BlazePose (MediaPipe) regions of interest.

Two crop models live here, one per model family:

* Perspective crops (MeTRAbs): a virtual camera turned to look at the box centre and zoomed
  so the box fills the crop. The crop is an exact pinhole image with intrinsics ``K_crop``;
  3D predictions in the crop camera frame map back to the camera frame with ``R^T``.
* BlazePose ROIs (MediaPipe conventions): a square, possibly rotated rectangle in the image,
  cut out with an affine warp to 256 x 256 exactly as MediaPipe's ImageToTensorCalculator
  does (rectangle corners onto tensor corners, bilinear, replicated border).

Pixel convention everywhere: the centre of pixel (i, j) is at (x=j, y=i) (OpenCV's). See
docs/geometry.md for the derivations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from posecast.engines.geometry.boxes import non_max_suppression
from posecast.engines.geometry.camera import pixels_to_normalized, validate_intrinsics
from posecast.errors import InvalidInputError

BLAZEPOSE_ROI_SCALE = 1.25
"""Margin MediaPipe's pose landmark graph applies to its ROIs (RectTransformationCalculator)."""

BLAZEPOSE_INPUT_SIZE_PX = 256
"""Side of the BlazePose landmark model's square input tensor."""


# ---------------------------------------------------------------------------------------------
# Rotations


def look_at_rotations(directions_cam: np.ndarray) -> np.ndarray:
    """Smallest rotations that turn the optical axis towards given directions.

    Args:
        directions_cam: (N, 3) viewing directions in the camera frame (any length, z > -|d|).

    Returns:
        (N, 3, 3) rotations R with R @ d / |d| = (0, 0, 1): R maps camera-frame vectors into
        the frame of a virtual camera looking along d. Among all such rotations this one has
        no roll about the new axis (its axis is perpendicular to both z and d), which is what
        makes an axis-aligned image cut around the ray look like that camera's view.
    """
    directions = np.asarray(directions_cam, dtype=np.float64)
    directions = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    # Rodrigues' formula for the rotation taking unit a onto unit b: v = a x b, c = a . b,
    # R = I + [v]x + [v]x^2 / (1 + c). Here b = z.
    v = np.stack([directions[:, 1], -directions[:, 0], np.zeros(len(directions))], axis=-1)
    c = directions[:, 2]
    if np.any(c <= -1.0 + 1e-9):
        raise InvalidInputError("look_at_rotations: direction points backwards (z <= 0)")
    cross = np.zeros((len(directions), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2] = -v[:, 2], v[:, 1]
    cross[:, 1, 0], cross[:, 1, 2] = v[:, 2], -v[:, 0]
    cross[:, 2, 0], cross[:, 2, 1] = -v[:, 1], v[:, 0]
    return np.eye(3) + cross + (cross @ cross) / (1.0 + c)[:, None, None]


def rotations_about_z(angles_rad: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 3, 3) rotations about the optical axis.

    In image terms (x right, y down) a positive angle turns x towards y, i.e. clockwise on
    screen; this is the sense of MediaPipe's ROI rotation.
    """
    angles = np.asarray(angles_rad, dtype=np.float64)
    cos, sin = np.cos(angles), np.sin(angles)
    rotations = np.zeros((len(angles), 3, 3))
    rotations[:, 0, 0], rotations[:, 0, 1] = cos, -sin
    rotations[:, 1, 0], rotations[:, 1, 1] = sin, cos
    rotations[:, 2, 2] = 1.0
    return rotations


def apply_homographies(points_px: np.ndarray, homographies: np.ndarray) -> np.ndarray:
    """Map (N, J, 2) points with (N, 3, 3) homographies, one per leading index."""
    points_px = np.asarray(points_px, dtype=np.float64)
    mapped = points_px @ np.swapaxes(homographies[:, :2, :2], 1, 2) + homographies[:, None, :2, 2]
    denominator = points_px @ homographies[:, 2, :2, None] + homographies[:, None, 2, 2:3]
    return mapped / denominator


def _flip_matrix(size_px: int) -> np.ndarray:
    """Mirror of crop x about the crop centre: u -> S - u (rectangle edges onto each other)."""
    return np.array([[-1.0, 0.0, size_px], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _per_crop(
    value: np.ndarray | float | None, count: int, default: float, name: str
) -> np.ndarray:
    if value is None:
        return np.full(count, default, dtype=np.float64)
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (count,)).copy()
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name}: contains non-finite values")
    return array


def _check_boxes(boxes_xyxy: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InvalidInputError(f"boxes_xyxy: expected shape (N, 4), got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise InvalidInputError("boxes_xyxy: contains non-finite values")
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise InvalidInputError("boxes_xyxy: every box needs x2 > x1 and y2 > y1")
    return boxes


# ---------------------------------------------------------------------------------------------
# MeTRAbs perspective crops


@dataclass(frozen=True, eq=False)
class PerspectiveCrops:
    """N perspective crops of one image.

    Attributes:
        crop_from_camera: (N, 3, 3) rotations R; a camera-frame vector X is R @ X in the crop
            camera frame, so crop-frame predictions map back with R^T.
        K_crop: (N, 3, 3) intrinsics of the (unflipped) crop camera, the ones the model gets.
        crop_from_image: (N, 3, 3) homographies from image pixels to crop pixels (flip
            included), K_crop R K^-1 composed with the flip where flipped.
        is_flipped: (N,) whether the crop is mirrored horizontally (test-time augmentation).
        zoom: (N,) crop pixels per image pixel at the crop centre (< 1 means shrinking).
        size_px: side S of the square crops.
    """

    crop_from_camera: np.ndarray
    K_crop: np.ndarray
    crop_from_image: np.ndarray
    is_flipped: np.ndarray
    zoom: np.ndarray
    size_px: int

    def __len__(self) -> int:
        return len(self.crop_from_camera)


def perspective_crops(
    boxes_xyxy: np.ndarray,
    K: np.ndarray,
    size_px: int = 256,
    *,
    box_margin: float = 1.0,
    rolls_rad: np.ndarray | float | None = None,
    scales: np.ndarray | float | None = None,
    is_flipped: np.ndarray | bool | None = None,
) -> PerspectiveCrops:
    """MeTRAbs perspective crops around person boxes.

    The virtual crop camera has the real camera's centre, is rotated to look along the ray
    through the box centre (:func:`look_at_rotations`), rolled by ``rolls_rad`` about its
    optical axis, and zoomed so the box's longer side times ``box_margin`` spans the crop:
    K_crop = [[fx s, 0, S/2], [0, fy s, S/2], [0, 0, 1]], s = S / (margin max(w, h)) * scale.

    Args:
        boxes_xyxy: (N, 4) boxes in undistorted image pixels.
        K: (3, 3) camera intrinsics.
        size_px: crop side S.
        box_margin: factor on the box's longer side.
        rolls_rad: (N,) or scalar roll of the crop camera (test-time augmentation); positive
            turns the crop's x axis towards the image's y axis, as BlazePose ROI rotations.
        scales: (N,) or scalar extra zoom (> 1 magnifies).
        is_flipped: (N,) or scalar horizontal mirror of the crop.

    Returns:
        The crops' geometry; warp pixels with :func:`warp_perspective_crops`.

    Raises:
        InvalidInputError: malformed boxes, K or augmentation parameters.
    """
    boxes = _check_boxes(boxes_xyxy)
    K = validate_intrinsics(K)
    count = len(boxes)
    rolls = _per_crop(rolls_rad, count, 0.0, "rolls_rad")
    zooms = _per_crop(scales, count, 1.0, "scales")
    flips = np.broadcast_to(np.asarray(False if is_flipped is None else is_flipped), (count,))
    if np.any(zooms <= 0) or box_margin <= 0:
        raise InvalidInputError("scales and box_margin must be positive")

    centers_px = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    directions = np.concatenate([pixels_to_normalized(centers_px, K), np.ones((count, 1))], axis=1)
    # Roll by -angle about z: the crop's x axis, seen from the camera, then points along
    # (cos a, sin a), the same sense as a BlazePose ROI rotation.
    crop_from_camera = rotations_about_z(-rolls) @ look_at_rotations(directions)
    longer_side_px = np.max(boxes[:, 2:] - boxes[:, :2], axis=1) * box_margin
    zoom = size_px / longer_side_px * zooms
    K_crop = np.zeros((count, 3, 3))
    K_crop[:, 0, 0] = K[0, 0] * zoom
    K_crop[:, 1, 1] = K[1, 1] * zoom
    K_crop[:, :2, 2] = size_px / 2.0
    K_crop[:, 2, 2] = 1.0
    crop_from_image = K_crop @ crop_from_camera @ np.linalg.inv(K)
    crop_from_image = np.where(
        flips[:, None, None], _flip_matrix(size_px) @ crop_from_image, crop_from_image
    )
    return PerspectiveCrops(
        crop_from_camera=crop_from_camera,
        K_crop=K_crop,
        crop_from_image=crop_from_image,
        is_flipped=flips.copy(),
        zoom=zoom,
        size_px=size_px,
    )


def _pyramid_level(zoom: float) -> int:
    """How many halvings to take first so the final warp shrinks by at most 2x."""
    return max(0, int(np.floor(np.log2(1.0 / zoom)))) if zoom < 1.0 else 0


def warp_perspective_crops(
    image: np.ndarray,
    crops: PerspectiveCrops,
    *,
    antialias: bool = True,
    border_mode: int = cv2.BORDER_CONSTANT,
) -> np.ndarray:
    """Cut the crops out of an image.

    Args:
        image: (H, W, C) or (H, W) image (any dtype OpenCV warps).
        crops: from :func:`perspective_crops`.
        antialias: when a crop shrinks the image by 2x or more, warp from a Gaussian pyramid
            level instead (cv2.pyrDown halves per level; level pixel x is image pixel 2^L x),
            so the bilinear warp never shrinks by more than 2x and does not alias.
        border_mode: OpenCV border mode for pixels outside the image.

    Returns:
        (N, S, S, C) or (N, S, S) crops of the image's dtype.
    """
    size = crops.size_px
    pyramid = [image]
    out = np.empty((len(crops), size, size, *image.shape[2:]), dtype=image.dtype)
    for index in range(len(crops)):
        level = _pyramid_level(float(crops.zoom[index])) if antialias else 0
        while len(pyramid) <= level:
            pyramid.append(cv2.pyrDown(pyramid[-1]))
        level_to_image = np.diag([2.0**level, 2.0**level, 1.0])
        out[index] = cv2.warpPerspective(
            pyramid[level],
            crops.crop_from_image[index] @ level_to_image,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=border_mode,
        )
    return out


def perspective_crop_to_image_points(
    points_crop_px: np.ndarray, crops: PerspectiveCrops
) -> np.ndarray:
    """(N, J, 2) crop pixels -> (N, J, 2) undistorted image pixels (flips undone geometrically).

    Joint identities are not swapped here: for flipped crops permute left/right joints with
    :func:`engines.geometry.augmentation.unflip_joints`.
    """
    return apply_homographies(points_crop_px, np.linalg.inv(crops.crop_from_image))


def image_to_perspective_crop_points(points_px: np.ndarray, crops: PerspectiveCrops) -> np.ndarray:
    """(N, J, 2) undistorted image pixels -> (N, J, 2) crop pixels."""
    return apply_homographies(points_px, crops.crop_from_image)


def perspective_crop_to_camera(points_crop_m: np.ndarray, crops: PerspectiveCrops) -> np.ndarray:
    """Rotate (N, J, 3) crop-camera-frame points (or root-relative poses) into the camera frame.

    Points must be in the unflipped crop frame (un-mirror flipped predictions first).
    """
    return np.asarray(points_crop_m, dtype=np.float64) @ crops.crop_from_camera


def camera_to_perspective_crop(points_cam_m: np.ndarray, crops: PerspectiveCrops) -> np.ndarray:
    """Rotate (N, J, 3) camera-frame points into each crop camera frame (R @ X)."""
    return np.asarray(points_cam_m, dtype=np.float64) @ np.swapaxes(crops.crop_from_camera, 1, 2)


# ---------------------------------------------------------------------------------------------
# BlazePose regions of interest (MediaPipe conventions)


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


def normalize_radians(angles_rad: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi) as MediaPipe's NormalizeRadians does."""
    angles = np.asarray(angles_rad, dtype=np.float64)
    return angles - 2.0 * np.pi * np.floor((angles + np.pi) / (2.0 * np.pi))


def roi_from_box(boxes_xyxy: np.ndarray, scale: float = BLAZEPOSE_ROI_SCALE) -> Roi:
    """Square, unrotated ROIs around person boxes: side = longer box side x ``scale``.

    Args:
        boxes_xyxy: (N, 4) boxes in image pixels.
        scale: margin factor (MediaPipe's pose graphs use 1.25).
    """
    boxes = _check_boxes(boxes_xyxy)
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


def roi_image_from_crop(roi: Roi, size_px: int = BLAZEPOSE_INPUT_SIZE_PX) -> np.ndarray:
    """(N, 3, 3) affine matrices taking crop pixels to image pixels.

    MediaPipe (ImageToTensorConverter, OpenCV path) maps the rotated rectangle's corners onto
    the tensor corners (0, 0), (S, 0), (S, S), (0, S) and warps with OpenCV (pixel centres at
    integer coordinates), and LandmarkProjectionCalculator maps a landmark at crop pixel u
    back to the rectangle point u / S of the way across. Both say: image point =
    centre + Rot(r) @ (side / S) (u - S / 2), with u mirrored to S - u for flipped crops.
    """
    factor = np.asarray(roi.sides_px, dtype=np.float64) / size_px
    cos, sin = np.cos(roi.rotations_rad), np.sin(roi.rotations_rad)
    matrices = np.zeros((len(roi), 3, 3))
    matrices[:, 0, 0], matrices[:, 0, 1] = factor * cos, -factor * sin
    matrices[:, 1, 0], matrices[:, 1, 1] = factor * sin, factor * cos
    half = size_px / 2.0
    matrices[:, :2, 2] = np.asarray(roi.centers_px) - matrices[:, :2, :2] @ np.array([half, half])
    matrices[:, 2, 2] = 1.0
    flips = np.asarray(roi.is_flipped)[:, None, None]
    return np.where(flips, matrices @ _flip_matrix(size_px), matrices)


def roi_crop_from_image(roi: Roi, size_px: int = BLAZEPOSE_INPUT_SIZE_PX) -> np.ndarray:
    """(N, 3, 3) affine matrices taking image pixels to crop pixels (inverse of the above)."""
    return np.linalg.inv(roi_image_from_crop(roi, size_px))


def warp_roi(
    image: np.ndarray,
    roi: Roi,
    size_px: int = BLAZEPOSE_INPUT_SIZE_PX,
    border_mode: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Cut ROIs out of an image as MediaPipe's pose landmark graph does.

    Bilinear (INTER_LINEAR), no anti-aliasing (MediaPipe has none), and BORDER_REPLICATE:
    the landmark graph leaves ImageToTensorCalculator's border_mode unset, which MediaPipe
    maps to replicate (only the pose *detector* graph sets BORDER_ZERO).

    Args:
        image: (H, W, C) or (H, W) image, RGB for BlazePose.
        roi: N regions.
        size_px: output side S (256 for BlazePose landmark models).
        border_mode: OpenCV border mode; keep the default to match MediaPipe.

    Returns:
        (N, S, S, C) or (N, S, S) crops of the image's dtype.
    """
    matrices = roi_crop_from_image(roi, size_px)
    out = np.empty((len(roi), size_px, size_px, *image.shape[2:]), dtype=image.dtype)
    for index, matrix in enumerate(matrices):
        out[index] = cv2.warpAffine(
            image, matrix[:2], (size_px, size_px), flags=cv2.INTER_LINEAR, borderMode=border_mode
        )
    return out


def crop_to_image_points(
    points_crop_px: np.ndarray, roi: Roi, size_px: int = BLAZEPOSE_INPUT_SIZE_PX
) -> np.ndarray:
    """(N, J, 2) crop pixels -> (N, J, 2) image pixels (flips undone geometrically).

    For flipped ROIs permute left/right joints afterwards
    (:func:`engines.geometry.augmentation.unflip_joints`).
    """
    return apply_homographies(points_crop_px, roi_image_from_crop(roi, size_px))


def image_to_crop_points(
    points_px: np.ndarray, roi: Roi, size_px: int = BLAZEPOSE_INPUT_SIZE_PX
) -> np.ndarray:
    """(N, J, 2) image pixels -> (N, J, 2) crop pixels."""
    return apply_homographies(points_px, roi_crop_from_image(roi, size_px))


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
