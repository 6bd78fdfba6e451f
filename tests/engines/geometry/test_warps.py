"""ROI crops as MediaPipe cuts them, and points between image and crop pixels."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.warps import (
    apply_homographies,
    crop_to_image_points,
    image_to_crop_points,
    roi_crop_from_image,
    warp_roi,
)


def _mediapipe_crop_from_image(roi: Roi, size: int) -> np.ndarray:
    """What MediaPipe's OpenCV ImageToTensorConverter builds (float32, as it does)."""
    matrices = []
    for center, side, rotation in zip(roi.centers_px, roi.sides_px, roi.rotations_rad, strict=True):
        rect = cv2.RotatedRect(
            (float(center[0]), float(center[1])), (float(side), float(side)), math.degrees(rotation)
        )
        src = cv2.boxPoints(rect).astype(np.float32)
        dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
        matrices.append(cv2.getPerspectiveTransform(src, dst))
    return np.array(matrices)


def _random_rois(count: int, seed: int = 1) -> Roi:
    rng = np.random.default_rng(seed)
    return Roi(
        centers_px=rng.uniform(0, 600, (count, 2)),
        sides_px=rng.uniform(50, 700, count),
        rotations_rad=rng.uniform(-np.pi, np.pi, count),
    )


def test_roi_matrix_matches_mediapipe_image_to_tensor() -> None:
    roi = _random_rois(16)
    ours = roi_crop_from_image(roi, 256)
    theirs = _mediapipe_crop_from_image(roi, 256)
    theirs = theirs / theirs[:, 2:3, 2:3]
    # Map a grid of image points with both: float32 corners limit agreement to ~1e-3 px.
    points = np.random.default_rng(2).uniform(0, 600, (16, 30, 2))
    np.testing.assert_allclose(
        apply_homographies(points, ours), apply_homographies(points, theirs), atol=5e-3
    )


def test_landmark_projection_matches_mediapipe_in_normalized_coordinates() -> None:
    """MediaPipe's LandmarkProjectionCalculator works on a non-square image in normalised
    coordinates; in pixels it must agree with crop_to_image_points."""
    width, height = 1280, 720
    roi = _random_rois(8, seed=3)
    crop_px = np.random.default_rng(4).uniform(-20, 276, (8, 39, 2))
    ours = crop_to_image_points(crop_px, roi)
    x = crop_px[..., 0] / 256 - 0.5
    y = crop_px[..., 1] / 256 - 0.5
    angle = roi.rotations_rad[:, None]
    norm_width = (roi.sides_px / width)[:, None]
    norm_height = (roi.sides_px / height)[:, None]
    new_x = (np.cos(angle) * x - np.sin(angle) * y) * norm_width + roi.centers_px[:, :1] / width
    new_y = (np.sin(angle) * x + np.cos(angle) * y) * norm_height + roi.centers_px[:, 1:] / height
    np.testing.assert_allclose(ours, np.stack([new_x * width, new_y * height], -1), atol=1e-9)


def test_warp_roi_samples_the_mapped_image_points() -> None:
    """On a linear ramp, bilinear sampling is exact: crop pixel (i, j) shows image x at the
    point the crop matrix maps (j, i) to."""
    height, width = 400, 500
    ramp = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    roi = Roi(centers_px=np.array([[250.0, 200.0]]), sides_px=np.array([200.0]),
              rotations_rad=np.array([0.4]))  # fmt: skip
    crop = warp_roi(ramp, roi, 64)[0]
    grid = np.stack(np.meshgrid(np.arange(64.0), np.arange(64.0)), axis=-1).reshape(1, -1, 2)
    expected = crop_to_image_points(grid, roi, 64)[0, :, 0].reshape(64, 64)
    np.testing.assert_allclose(crop, expected, atol=0.02)  # OpenCV's 1/32 px fixed point
    # The first pixel sits exactly on the rectangle corner (MediaPipe: corners to corners).
    corner = np.array([[250.0, 200.0]]) + 100.0 * np.array(
        [[-math.cos(0.4) + math.sin(0.4), -math.sin(0.4) - math.cos(0.4)]]
    )
    np.testing.assert_allclose(crop_to_image_points(np.zeros((1, 1, 2)), roi, 64)[0], corner)


def test_warp_roi_equals_mediapipe_warp_and_replicates_the_border() -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    roi = Roi(centers_px=np.array([[10.0, 100.0]]), sides_px=np.array([150.0]),
              rotations_rad=np.array([0.3]))  # fmt: skip
    ours = warp_roi(image, roi, 256)[0]
    matrix = _mediapipe_crop_from_image(roi, 256)[0]
    theirs = cv2.warpPerspective(image, matrix, (256, 256), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    # The crop's left edge lies off the image; there the replicated border differs from black.
    assert crop_to_image_points(np.array([[[0.0, 128.0]]]), roi)[0, 0, 0] < -10
    black = warp_roi(image, roi, 256, border_mode=cv2.BORDER_CONSTANT)[0]
    assert not black[:, 0].any()
    assert ours[:, 0].any()


@pytest.mark.parametrize("flipped", [False, True])
def test_roi_round_trip(flipped: bool) -> None:
    roi = _random_rois(10).with_flips(flipped)
    points = np.random.default_rng(6).uniform(-100, 800, (10, 33, 2))
    np.testing.assert_allclose(
        crop_to_image_points(image_to_crop_points(points, roi), roi), points, atol=1e-9
    )


def test_flipped_roi_mirrors_the_crop() -> None:
    roi = _random_rois(5)
    points = np.random.default_rng(7).uniform(0, 600, (5, 10, 2))
    plain = image_to_crop_points(points, roi)
    mirrored = image_to_crop_points(points, roi.with_flips(True))
    np.testing.assert_allclose(mirrored[..., 0], 256 - plain[..., 0], atol=1e-9)
    np.testing.assert_allclose(mirrored[..., 1], plain[..., 1], atol=1e-9)
