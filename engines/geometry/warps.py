"""Image warps and point mappings: cutting BlazePose ROIs out of an image, and carrying points
between image and crop pixels through (N, 3, 3) homographies.

ROI crops follow MediaPipe's ImageToTensorCalculator: the rotated square's corners go onto
the tensor's corners, warped with OpenCV, bilinear, replicated border. Pixel convention
everywhere: the centre of pixel (i, j) is at (x=j, y=i) (OpenCV's). See docs/geometry.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from posecast.engines.geometry.rois import Roi

BLAZEPOSE_INPUT_SIZE_PX = 256
"""Side of the BlazePose landmark model's square input tensor."""


def apply_homographies(points_px: np.ndarray, homographies: np.ndarray) -> np.ndarray:
    """Map (N, J, 2) points with (N, 3, 3) homographies, one per leading index."""
    points_px = np.asarray(points_px, dtype=np.float64)
    mapped = points_px @ np.swapaxes(homographies[:, :2, :2], 1, 2) + homographies[:, None, :2, 2]
    denominator = points_px @ homographies[:, 2, :2, None] + homographies[:, None, 2, 2:3]
    return mapped / denominator


def crop_flip_matrix(size_px: int) -> np.ndarray:
    """(3, 3) mirror of crop x about the crop centre: u -> S - u (rectangle edges onto each
    other), composed into the crop matrices of flipped crops (test-time augmentation)."""
    return np.array([[-1.0, 0.0, size_px], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


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
    return np.where(flips, matrices @ crop_flip_matrix(size_px), matrices)


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
    (:func:`posecast.engines.geometry.augmentation.unflip_joints`).
    """
    return apply_homographies(points_crop_px, roi_image_from_crop(roi, size_px))


def image_to_crop_points(
    points_px: np.ndarray, roi: Roi, size_px: int = BLAZEPOSE_INPUT_SIZE_PX
) -> np.ndarray:
    """(N, J, 2) image pixels -> (N, J, 2) crop pixels."""
    return apply_homographies(points_px, roi_crop_from_image(roi, size_px))
