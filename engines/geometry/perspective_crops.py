"""MeTRAbs perspective crops: a virtual camera turned to look at a person box and zoomed so
the box fills the crop.

The crop is an exact pinhole image with intrinsics ``K_crop``; 3D predictions in the crop
camera frame map back to the camera frame with ``R^T``. Pixel convention: the centre of
pixel (i, j) is at (x=j, y=i) (OpenCV's). See docs/geometry.md for the derivation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.geometry.boxes import validate_boxes_xyxy
from posecast.engines.geometry.camera import pixels_to_normalized, validate_intrinsics
from posecast.engines.geometry.rotations import (
    look_at_rotations,
    rotations_about_z,
    upright_look_at_rotations,
)
from posecast.engines.geometry.warps import apply_homographies, crop_flip_matrix
from posecast.errors import InvalidInputError


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


def _per_crop(
    value: np.ndarray | float | None, count: int, default: float, name: str
) -> np.ndarray:
    if value is None:
        return np.full(count, default, dtype=np.float64)
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (count,)).copy()
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name}: contains non-finite values")
    return array


def perspective_crops(
    boxes_xyxy: np.ndarray,
    K: np.ndarray,
    size_px: int = 256,
    *,
    box_margin: float = 1.0,
    rolls_rad: np.ndarray | float | None = None,
    scales: np.ndarray | float | None = None,
    is_flipped: np.ndarray | bool | None = None,
    up_cam: np.ndarray | None = None,
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
        up_cam: (3,) the world's up direction in the camera frame: the crop cameras keep it
            up (MeTRAbs' crops, :func:`upright_look_at_rotations`); None: the roll-free
            :func:`look_at_rotations`.

    Returns:
        The crops' geometry; warp pixels with :func:`warp_perspective_crops`.

    Raises:
        InvalidInputError: malformed boxes, K or augmentation parameters.
    """
    boxes = validate_boxes_xyxy(boxes_xyxy)
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
    look_at = (
        look_at_rotations(directions)
        if up_cam is None
        else upright_look_at_rotations(directions, up_cam)
    )
    crop_from_camera = rotations_about_z(-rolls) @ look_at
    longer_side_px = np.max(boxes[:, 2:] - boxes[:, :2], axis=1) * box_margin
    zoom = size_px / longer_side_px * zooms
    K_crop = np.zeros((count, 3, 3))
    K_crop[:, 0, 0] = K[0, 0] * zoom
    K_crop[:, 1, 1] = K[1, 1] * zoom
    K_crop[:, :2, 2] = size_px / 2.0
    K_crop[:, 2, 2] = 1.0
    crop_from_image = K_crop @ crop_from_camera @ np.linalg.inv(K)
    crop_from_image = np.where(
        flips[:, None, None], crop_flip_matrix(size_px) @ crop_from_image, crop_from_image
    )
    return PerspectiveCrops(
        crop_from_camera=crop_from_camera,
        K_crop=K_crop,
        crop_from_image=crop_from_image,
        is_flipped=flips.copy(),
        zoom=zoom,
        size_px=size_px,
    )


def pyramid_level(zoom: float) -> int:
    """How many halvings to take first so the final warp shrinks by at most 2x (level pixel
    x is image pixel 2^L x)."""
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
        level = pyramid_level(float(crops.zoom[index])) if antialias else 0
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
    :func:`posecast.engines.geometry.augmentation.unflip_joints`.
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
