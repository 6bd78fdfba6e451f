"""BlazePose ROIs: made from boxes and alignment points, compared with boxes, deduplicated,
and oriented into the camera frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posecast.engines.geometry.camera import intrinsics_from_fov
from posecast.engines.geometry.rois import (
    Roi,
    boxes_covered_by_rois,
    deduplicate_rois,
    roi_from_alignment_points,
    roi_from_box,
    roi_look_at_rotations,
    roi_world_to_camera,
)
from posecast.engines.geometry.rotations import rotations_about_z
from posecast.engines.geometry.warps import image_to_crop_points
from posecast.errors import InvalidInputError

K = intrinsics_from_fov(1280, 720)


def _rois(centers: list | np.ndarray, sides: list | np.ndarray) -> Roi:
    """Unrotated ROIs."""
    centers = np.asarray(centers, float)
    return Roi(centers, np.asarray(sides, float), np.zeros(len(centers)))


def _random_rois(count: int, seed: int = 1) -> Roi:
    rng = np.random.default_rng(seed)
    return Roi(
        centers_px=rng.uniform(0, 600, (count, 2)),
        sides_px=rng.uniform(50, 700, count),
        rotations_rad=rng.uniform(-np.pi, np.pi, count),
    )


@pytest.mark.parametrize(
    ("box", "center", "side"),
    [
        ([100, 50, 300, 450], [200, 250], 500.0),  # tall box: height decides
        ([0, 0, 80, 40], [40, 20], 100.0),  # wide box: width decides
        ([10.5, 20.5, 11.5, 21.5], [11, 21], 1.25),  # one pixel
    ],
)
def test_roi_from_box(box: list[float], center: list[float], side: float) -> None:
    roi = roi_from_box(np.array([box]))
    np.testing.assert_allclose(roi.centers_px, [center])
    np.testing.assert_allclose(roi.sides_px, [side])
    np.testing.assert_array_equal(roi.rotations_rad, [0.0])


def test_roi_from_no_boxes() -> None:
    assert len(roi_from_box(np.zeros((0, 4)))) == 0


@pytest.mark.parametrize(
    ("p33", "p34", "rotation_deg", "side"),
    [
        ([100, 200], [100, 100], 0.0, 250.0),  # upright: scale point straight above
        ([100, 200], [200, 200], 90.0, 250.0),  # head to the right: crop x points down
        ([100, 200], [0, 200], -90.0, 250.0),  # head to the left
        ([100, 200], [100, 300], -180.0, 250.0),  # upside down: wraps to -180
        ([0, 0], [30, -30], 45.0, 2 * math.hypot(30, 30) * 1.25),  # leaning right
    ],
)
def test_roi_from_alignment_points(
    p33: list[float], p34: list[float], rotation_deg: float, side: float
) -> None:
    roi = roi_from_alignment_points(np.array([p33], float), np.array([p34], float))
    np.testing.assert_allclose(roi.centers_px, [p33])
    np.testing.assert_allclose(roi.sides_px, [side])
    np.testing.assert_allclose(np.rad2deg(roi.rotations_rad), [rotation_deg], atol=1e-9)


def test_alignment_rotation_puts_the_scale_point_straight_above_in_the_crop() -> None:
    rng = np.random.default_rng(0)
    p33 = rng.uniform(100, 500, (20, 2))
    p34 = p33 + rng.normal(0, 80, (20, 2))
    roi = roi_from_alignment_points(p33, p34)
    crop = image_to_crop_points(np.stack([p33, p34], axis=1), roi)
    delta = crop[:, 1] - crop[:, 0]
    np.testing.assert_allclose(delta[:, 0], 0.0, atol=1e-9)
    assert np.all(delta[:, 1] < 0)  # above: smaller crop y
    # and the ROI is 1.25 x twice the distance, so p34 sits 0.4 S above the centre.
    np.testing.assert_allclose(-delta[:, 1], 256 / 2 / 1.25)


def test_coincident_alignment_points_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="coincident"):
        roi_from_alignment_points(np.array([[1.0, 1.0]]), np.array([[1.0, 1.0]]))


def test_roi_rejects_bad_shapes() -> None:
    with pytest.raises(InvalidInputError, match="shape"):
        Roi(centers_px=np.zeros((2, 2)), sides_px=np.ones(3), rotations_rad=np.zeros(3))
    with pytest.raises(InvalidInputError, match="positive"):
        Roi(centers_px=np.zeros((1, 2)), sides_px=np.zeros(1), rotations_rad=np.zeros(1))
    with pytest.raises(InvalidInputError):
        roi_from_box(np.array([[10, 10, 5, 20]]))


def test_converged_rois_keep_the_better_one() -> None:
    rois = _rois([[100, 100], [104, 98], [300, 100]], [80, 84, 80])
    kept = deduplicate_rois(rois, np.array([0.7, 0.9, 0.8]))
    np.testing.assert_array_equal(kept.centers_px, [[104, 98], [300, 100]])


def test_separate_rois_are_all_kept_in_order() -> None:
    rois = _rois([[100, 100], [200, 100], [300, 100]], [80, 80, 80])
    kept = deduplicate_rois(rois, np.array([0.5, 0.9, 0.7]))
    np.testing.assert_array_equal(kept.centers_px, rois.centers_px)


def test_deduplicating_no_or_one_roi() -> None:
    assert len(deduplicate_rois(_rois(np.zeros((0, 2)), []), np.zeros(0))) == 0
    assert len(deduplicate_rois(_rois([[5, 5]], [4]), np.ones(1))) == 1


def test_each_followed_roi_covers_only_its_own_person() -> None:
    # one followed person, hips at (100, 100), ROI side 100 (body ~80 px)
    rois = _rois([[100, 100]], [100])
    boxes = np.array(
        [
            [85, 62, 115, 140],  # the followed person: centre on the hips, 78 px tall
            [110, 60, 140, 138],  # a neighbour inside the same ROI square
            [300, 60, 330, 140],  # someone far away
        ],
        float,
    )
    np.testing.assert_array_equal(boxes_covered_by_rois(boxes, rois), [True, False, False])


def test_a_box_of_another_size_is_not_covered() -> None:
    rois = _rois([[100, 100]], [100])
    tiny = np.array([[95, 95, 105, 110]], float)  # 15 px: a distant person behind
    np.testing.assert_array_equal(boxes_covered_by_rois(tiny, rois), [False])


def test_coverage_with_no_rois_or_no_boxes() -> None:
    assert boxes_covered_by_rois(np.zeros((0, 4)), _rois([[1, 1]], [2])).shape == (0,)
    boxes = np.array([[0, 0, 10, 20]], float)
    np.testing.assert_array_equal(
        boxes_covered_by_rois(boxes, _rois(np.zeros((0, 2)), [])), [False]
    )


def test_world_landmarks_rotate_like_mediapipe() -> None:
    roi = _random_rois(4)
    points = np.random.default_rng(8).normal(size=(4, 33, 3))
    rotated = roi_world_to_camera(points, roi, perspective_correction=False)
    angle = roi.rotations_rad[:, None]
    np.testing.assert_allclose(
        rotated[..., 0], np.cos(angle) * points[..., 0] - np.sin(angle) * points[..., 1]
    )
    np.testing.assert_allclose(
        rotated[..., 1], np.sin(angle) * points[..., 0] + np.cos(angle) * points[..., 1]
    )
    np.testing.assert_array_equal(rotated[..., 2], points[..., 2])


def test_perspective_correction_recovers_the_camera_orientation(
    blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    """A pose seen by the ROI's look-at camera (in the rotated crop axes) maps back exactly."""
    poses = blazepose_poses[:6]
    roi = Roi(
        centers_px=rng.uniform([0, 0], [1280, 720], (6, 2)),
        sides_px=np.full(6, 300.0),
        rotations_rad=rng.uniform(-1, 1, 6),
    )
    look_at = roi_look_at_rotations(roi, K)
    # Crop axes: X_crop = Rz(r)^T R_lookat X_cam.
    in_crop = np.einsum(
        "nji,nkj->nki", rotations_about_z(roi.rotations_rad), poses @ np.swapaxes(look_at, 1, 2)
    )
    np.testing.assert_allclose(roi_world_to_camera(in_crop, roi, K), poses, atol=1e-12)
    with pytest.raises(InvalidInputError, match="needs K"):
        roi_world_to_camera(in_crop, roi)


def test_perspective_correction_is_identity_on_the_optical_axis() -> None:
    roi = Roi(centers_px=K[None, :2, 2], sides_px=np.array([300.0]), rotations_rad=np.array([0.2]))
    points = np.random.default_rng(9).normal(size=(1, 33, 3))
    np.testing.assert_allclose(
        roi_world_to_camera(points, roi, K),
        roi_world_to_camera(points, roi, perspective_correction=False),
        atol=1e-12,
    )
