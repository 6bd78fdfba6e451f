"""MeTRAbs perspective crops: geometry, warps, and mappings back to image and camera."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points
from posecast.engines.geometry.perspective_crops import (
    camera_to_perspective_crop,
    image_to_perspective_crop_points,
    perspective_crop_to_camera,
    perspective_crop_to_image_points,
    perspective_crops,
    warp_perspective_crops,
)
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.warps import image_to_crop_points

K = intrinsics_from_fov(1280, 720)


def _boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    corners = rng.uniform([-100, -100], [1200, 650], (count, 2))
    sizes = rng.uniform([30, 60], [300, 700], (count, 2))
    return np.concatenate([corners, corners + sizes], axis=1)


def test_perspective_crop_centres_the_box_and_fits_the_longer_side(
    rng: np.random.Generator,
) -> None:
    boxes = _boxes(rng, 20)
    crops = perspective_crops(boxes, K, 256)
    centers = (boxes[:, None, :2] + boxes[:, None, 2:]) / 2
    np.testing.assert_allclose(image_to_perspective_crop_points(centers, crops), 128.0, atol=1e-9)
    np.testing.assert_allclose(
        crops.K_crop[:, 0, 0] / K[0, 0], 256 / np.max(boxes[:, 2:] - boxes[:, :2], axis=1)
    )


def test_perspective_crop_is_the_virtual_camera_image(rng: np.random.Generator) -> None:
    """Projecting 3D points with (K_crop, R) equals warping their image projections with H."""
    boxes = _boxes(rng, 10)
    crops = perspective_crops(boxes, K, 256, rolls_rad=rng.uniform(-0.5, 0.5, 10), scales=1.1)
    points_cam = rng.uniform([-3, -2, 2], [3, 2, 15], (10, 25, 3))
    via_image = image_to_perspective_crop_points(project_points(points_cam, K), crops)
    via_crop_camera = project_points(camera_to_perspective_crop(points_cam, crops), crops.K_crop)
    np.testing.assert_allclose(via_image, via_crop_camera, atol=1e-8)


@pytest.mark.parametrize("flipped", [False, True])
def test_perspective_crop_round_trips(rng: np.random.Generator, flipped: bool) -> None:
    crops = perspective_crops(_boxes(rng, 12), K, 224, rolls_rad=0.3, is_flipped=flipped)
    points = rng.uniform(-50, 1300, (12, 17, 2))
    np.testing.assert_allclose(
        perspective_crop_to_image_points(image_to_perspective_crop_points(points, crops), crops),
        points,
        atol=1e-8,
    )
    points_3d = rng.normal(size=(12, 17, 3))
    np.testing.assert_allclose(
        perspective_crop_to_camera(camera_to_perspective_crop(points_3d, crops), crops),
        points_3d,
        atol=1e-12,
    )


def test_perspective_roll_has_the_roi_rotation_sense(rng: np.random.Generator) -> None:
    """A crop rolled by a at the image centre maps like a BlazePose ROI rotated by a."""
    center = K[:2, 2]
    box = np.array([[center[0] - 100, center[1] - 100, center[0] + 100, center[1] + 100]])
    crops = perspective_crops(box, K, 256, rolls_rad=0.5)
    roi = Roi(centers_px=center[None], sides_px=np.array([200.0]), rotations_rad=np.array([0.5]))
    offsets = rng.uniform(-5, 5, (1, 10, 2))  # small: the perspective crop is not affine
    np.testing.assert_allclose(
        image_to_perspective_crop_points(center + offsets, crops),
        image_to_crop_points(center + offsets, roi),
        atol=1e-3,
    )


def test_antialiasing_suppresses_aliasing_when_shrinking() -> None:
    checker = (np.indices((1024, 1024)).sum(axis=0) % 2 * 255).astype(np.uint8)
    K_big = intrinsics_from_fov(1024, 1024)
    box = np.array([[0.0, 0.0, 1024.0, 1024.0]])
    crops = perspective_crops(box, K_big, 64)  # 16x shrink
    smooth = warp_perspective_crops(checker, crops)[0].astype(float)
    aliased = warp_perspective_crops(checker, crops, antialias=False)[0].astype(float)
    # Without the pyramid the checkerboard folds into a moire pattern.
    assert smooth[8:-8, 8:-8].std() < 2.0
    assert aliased[8:-8, 8:-8].std() > 10.0
    assert abs(smooth[8:-8, 8:-8].mean() - 127.5) < 5.0


@pytest.mark.parametrize("antialias", [False, True])
def test_perspective_warp_samples_the_right_place(antialias: bool) -> None:
    height, width = 720, 1280
    ramp = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    boxes = np.array([[300.0, 100.0, 700.0, 700.0], [900.0, 50.0, 1250.0, 650.0]])
    crops = perspective_crops(boxes, K, 64)
    warped = warp_perspective_crops(ramp, crops, antialias=antialias)
    grid = np.stack(np.meshgrid(np.arange(64.0), np.arange(64.0)), axis=-1).reshape(1, -1, 2)
    expected = perspective_crop_to_image_points(np.repeat(grid, 2, 0), crops)[..., 0]
    # A linear ramp survives blurring, so even pyramid levels must agree (to ~0.2 px).
    inside = expected < width - 8  # the second box runs off the image (black border)
    assert inside.mean() > 0.8
    np.testing.assert_allclose(warped.reshape(2, -1)[inside], expected[inside], atol=0.25)
