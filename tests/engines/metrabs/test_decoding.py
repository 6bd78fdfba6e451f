"""MeTRAbs decoding: test-time augmentation, per-crop reconstruction, the 2D/3D mix, and the
way back from mirrored, rolled crops to the camera frame."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.camera import Camera, project_points
from posecast.engines.metrabs.crops import metrabs_crops
from posecast.engines.metrabs.decoding import (
    absolute_crop_joints,
    combine_2d_and_3d,
    crop_joints_to_camera,
    mean_of_valid,
    metrabs_augmentations,
    points_in_fov,
)
from posecast.engines.metrabs.joints import metrabs_formats

RAW_NAMES = ["pelv", "lhip", "rhip", "lkne", "rkne", "lank", "rank", "neck", "lwri", "rwri", "head"]
SIZE = 256


@pytest.fixture
def skeleton() -> str:
    formats = metrabs_formats(RAW_NAMES, np.zeros((0, 2), int), [])
    formats.register()
    return formats.native.name


def _person(offset_cam_m: np.ndarray) -> np.ndarray:
    """(11, 3) an asymmetric standing person (left wrist raised), camera frame."""
    body = np.array(
        [
            [0.0, 0.0, 0.0], [0.1, 0.05, 0.0], [-0.1, 0.05, 0.02], [0.12, 0.45, 0.05],
            [-0.1, 0.45, -0.05], [0.12, 0.85, 0.0], [-0.11, 0.86, 0.0], [0.0, -0.5, 0.0],
            [0.3, -0.7, 0.1], [-0.25, 0.05, -0.1], [0.0, -0.7, 0.02],
        ]
    )  # fmt: skip
    return body + offset_cam_m


@pytest.mark.parametrize(
    ("num_aug", "rolls_deg", "scales", "flips", "gammas"),
    [
        # one crop: no roll, no zoom, not mirrored, MeTRAbs' midpoint gamma 0.8
        (1, [0], [1.0], [False], [0.8]),
        (2, [-25, 25], [0.8, 1.0], [True, False], [0.6, 1.0]),
        # MeTRAbs' default: the middle crop is the plain one
        (5, [-25, -12.5, 0, 12.5, 25], [0.8, 0.9, 1.0, 1.05, 1.1],
         [False, True, False, True, False], [0.6, 0.7, 0.8, 0.9, 1.0]),
    ],
)  # fmt: skip
def test_metrabs_augmentations(num_aug, rolls_deg, scales, flips, gammas) -> None:
    augs = metrabs_augmentations(num_aug)
    np.testing.assert_allclose(np.rad2deg(augs.rolls_rad), rolls_deg)
    np.testing.assert_allclose(augs.scales, scales)
    assert augs.is_flipped.tolist() == flips
    np.testing.assert_allclose(augs.gammas, gammas)


def _model_outputs(joints_cam: np.ndarray, crops, skeleton: str, offset: np.ndarray):
    """What a perfect crop model predicts: the person as each (mirrored) crop shows it."""
    from posecast.engines.geometry.skeletons import get_skeleton

    in_crop = np.einsum("mij,mpj->mpi", crops.crop_from_camera, joints_cam)
    permutation = get_skeleton(skeleton).mirror_permutation
    mirrored = in_crop[:, permutation] * np.array([-1.0, 1.0, 1.0])
    seen = np.where(crops.is_flipped[:, None, None], mirrored, in_crop)
    return project_points(seen, crops.K_crop), seen - offset


@pytest.mark.parametrize("num_aug", [1, 2, 5])
def test_perfect_predictions_come_back_as_the_person(skeleton: str, num_aug: int) -> None:
    camera = Camera.from_fov(1280, 720)
    people = np.stack([_person(np.array([1.5, 0.3, 6.0])), _person(np.array([-2.0, 0.0, 9.0]))])
    projected = project_points(people, camera.K)
    boxes = np.concatenate([projected.min(axis=1) - 10, projected.max(axis=1) + 10], axis=1)
    augs = metrabs_augmentations(num_aug)
    crops = metrabs_crops(boxes, camera, SIZE, augs)
    joints_cam = np.repeat(people, num_aug, axis=0)
    points2d, relative = _model_outputs(joints_cam, crops, skeleton, np.array([0.3, -0.2, 2.0]))
    decoded = absolute_crop_joints(
        points2d, relative, crops.K_crop, np.eye(len(RAW_NAMES)), (0, SIZE), 0.5, 1e-4
    )
    assert decoded.is_valid.all()
    back = crop_joints_to_camera(decoded.joints_crop_m, crops, skeleton)
    np.testing.assert_allclose(mean_of_valid(back, decoded.is_valid, num_aug), people, atol=1e-6)


def test_joints_outside_the_field_of_view_keep_their_3d_shape(skeleton: str) -> None:
    camera = Camera.from_fov(1280, 720)
    person = _person(np.array([0.0, 0.0, 5.0]))
    projected = project_points(person, camera.K)
    # a box down to the knees: the feet leave the crop's field of view
    top_left = projected.min(axis=0) - 20
    box = np.concatenate([top_left, [projected.max(axis=0)[0] + 20, projected[3, 1]]])
    crops = metrabs_crops(box[None], camera, SIZE, metrabs_augmentations(1))
    points2d, relative = _model_outputs(person[None], crops, skeleton, np.array([0.1, 0.2, 3.0]))
    fov = (24.0, 232.0)
    inside = points_in_fov(points2d, *fov)
    assert inside.any() and not inside.all()
    decoded = absolute_crop_joints(points2d, relative, crops.K_crop, np.eye(11), fov, 0.5, 1e-4)
    assert decoded.joint_scores[inside].min() == 1.0
    assert decoded.joint_scores[~inside].max() == pytest.approx(1e-4)
    back = crop_joints_to_camera(decoded.joints_crop_m, crops, skeleton)
    np.testing.assert_allclose(back[0], person, atol=1e-6)


def test_the_mix_moves_only_points_inside_the_field_of_view() -> None:
    K = np.array([[[500.0, 0, 128], [0, 500, 128], [0, 0, 1]]])
    relative = np.array([[[0.0, 0.0, 0.0], [0.2, 0.0, 0.1]]])
    points2d = np.array([[[128.0, 128.0], [150.0, 128.0]]])  # the second disagrees with 3D
    translation = np.array([[0.0, 0.0, 5.0]])
    inside = np.array([[True, True]])
    from_3d = combine_2d_and_3d(relative, points2d, K, translation, inside, 1.0)
    from_2d = combine_2d_and_3d(relative, points2d, K, translation, inside, 0.0)
    np.testing.assert_allclose(from_3d[0, 1], [0.2, 0.0, 5.1])
    np.testing.assert_allclose(project_points(from_2d, K[0])[0, 1], [150.0, 128.0])
    np.testing.assert_allclose(from_2d[0, 1, 2], 5.1)  # same depth either way
    outside = combine_2d_and_3d(relative, points2d, K, translation, ~inside, 0.0)
    np.testing.assert_allclose(outside, from_3d)


def test_each_crop_is_solved_on_its_own(skeleton: str, rng: np.random.Generator) -> None:
    count = 6
    points2d = rng.uniform(30, 220, (count, 11, 2))
    relative = rng.normal(0, 0.4, (count, 11, 3))
    K = np.tile(np.array([[600.0, 0, 128], [0, 600, 128], [0, 0, 1]]), (count, 1, 1))
    K[:, 0, 0] = K[:, 1, 1] = rng.uniform(300, 2000, count)
    batch = absolute_crop_joints(points2d, relative, K, np.eye(11), (24, 232), 0.5, 1e-4)
    for index in range(count):
        alone = absolute_crop_joints(
            points2d[index : index + 1], relative[index : index + 1], K[index : index + 1],
            np.eye(11), (24, 232), 0.5, 1e-4,
        )  # fmt: skip
        np.testing.assert_array_equal(alone.joints_crop_m[0], batch.joints_crop_m[index])


def test_points_to_joints_combines_absolute_points() -> None:
    points2d = np.array([[[100.0, 100.0], [150.0, 120.0], [120.0, 160.0], [90.0, 140.0]]])
    relative = np.array([[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]]])
    K = np.array([[[500.0, 0, 128], [0, 500, 128], [0, 0, 1]]])
    identity = absolute_crop_joints(points2d, relative, K, np.eye(4), (0, 256), 0.5, 1e-4)
    halfway = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    combined = absolute_crop_joints(points2d, relative, K, halfway, (0, 256), 0.5, 1e-4)
    np.testing.assert_allclose(combined.joints_crop_m[0], halfway @ identity.joints_crop_m[0])


def test_mean_of_valid_skips_invalid_rows() -> None:
    values = np.array([[[1.0]], [[np.nan]], [[3.0]], [[np.nan]]])  # 2 persons x 2 augmentations
    valid = np.array([True, False, True, False])
    np.testing.assert_array_equal(mean_of_valid(values, valid, 2)[:, 0, 0], [1.0, 3.0])
    none_valid = mean_of_valid(values, np.zeros(4, bool), 2)
    assert np.isnan(none_valid).all()
