import itertools
from collections.abc import Callable

import numpy as np
import pytest

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points
from posecast.engines.geometry.reconstruction import (
    BEHIND_CAMERA,
    ILL_CONDITIONED,
    NON_FINITE,
    TOO_FEW_JOINTS,
    ReconstructionConfig,
    field_of_view_weights,
    reconstruct_absolute,
)
from posecast.errors import InvalidInputError

RotationSampler = Callable[[np.random.Generator, int], np.ndarray]


def make_scene(
    random_rotations: RotationSampler,
    poses: np.ndarray,
    rng: np.random.Generator,
    count: int,
    depth_range_m: tuple[float, float] = (2.0, 30.0),
    lateral_m: float = 4.0,
) -> dict[str, np.ndarray]:
    """People with random orientation, position and depth, each with its own camera."""
    picks = rng.integers(0, len(poses), count)
    rotated = np.einsum("nij,nkj->nki", random_rotations(rng, count), poses[picks])
    depth = rng.uniform(*depth_range_m, count)
    translation = np.stack(
        [rng.uniform(-lateral_m, lateral_m, count), rng.uniform(-1.0, 1.5, count), depth], axis=1
    )
    sizes = rng.choice([(640, 480), (1280, 720), (1920, 1080)], count)
    fovs = rng.uniform(30.0, 90.0, count)
    K = np.array([intrinsics_from_fov(w, h, fov) for (w, h), fov in zip(sizes, fovs, strict=True)])
    joints_cam = rotated + translation[:, None]
    return {
        "joints_rel": rotated,
        "translation": translation,
        "joints2d": project_points(joints_cam, K),
        "K": K,
        "sizes": sizes,
    }


def test_noise_free_reconstruction_is_exact(
    random_rotations: RotationSampler, blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    scene = make_scene(random_rotations, blazepose_poses, rng, 300)
    result = reconstruct_absolute(scene["joints_rel"], scene["joints2d"], scene["K"])
    assert result.is_valid.all()
    error_m = np.linalg.norm(result.translations_m - scene["translation"], axis=1)
    assert error_m.max() < 1e-3
    np.testing.assert_allclose(
        result.joints_cam_m, scene["joints_rel"] + scene["translation"][:, None], atol=1e-3
    )


def test_people_partly_outside_the_image(
    random_rotations: RotationSampler, blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    """Joints outside the frame are down-weighted but, noise-free, still consistent."""
    scene = make_scene(
        random_rotations, blazepose_poses, rng, 200, depth_range_m=(1.5, 4.0), lateral_m=2.5
    )
    width, height = 640, 480
    K = np.broadcast_to(intrinsics_from_fov(width, height), (200, 3, 3))
    joints2d = project_points(scene["joints_rel"] + scene["translation"][:, None], K)
    outside = field_of_view_weights(joints2d, (width, height)) < 1
    partly = outside.any(axis=1) & ~outside.all(axis=1)
    assert partly.sum() > 50  # the scene does exercise truncation
    result = reconstruct_absolute(scene["joints_rel"], joints2d, K, image_size_wh=(width, height))
    ok = result.is_valid
    assert ok[partly].mean() > 0.95
    error_m = np.linalg.norm(result.translations_m[ok] - scene["translation"][ok], axis=1)
    assert error_m.max() < 1e-3


def test_result_does_not_depend_on_batch_composition(
    random_rotations: RotationSampler, blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    scene = make_scene(random_rotations, blazepose_poses, rng, 64)
    weights = rng.uniform(0.2, 1.0, (64, 33))
    joints2d = scene["joints2d"] + rng.normal(0, 3.0, scene["joints2d"].shape)
    batch = reconstruct_absolute(scene["joints_rel"], joints2d, scene["K"], weights)
    for index in (0, 17, 63):
        alone = reconstruct_absolute(
            scene["joints_rel"][index : index + 1],
            joints2d[index : index + 1],
            scene["K"][index : index + 1],
            weights[index : index + 1],
        )
        np.testing.assert_array_equal(alone.translations_m[0], batch.translations_m[index])
    # A shuffled batch with extra people, including degenerate ones, changes nothing.
    order = rng.permutation(64)
    extra_rel = np.concatenate([scene["joints_rel"][order], np.full((2, 33, 3), 1e6)])
    extra_2d = np.concatenate([joints2d[order], np.zeros((2, 33, 2))])
    extra_K = np.concatenate([scene["K"][order], scene["K"][:2]])
    extra_w = np.concatenate([weights[order], np.ones((2, 33))])
    shuffled = reconstruct_absolute(extra_rel, extra_2d, extra_K, extra_w)
    np.testing.assert_array_equal(shuffled.translations_m[:64], batch.translations_m[order])


def test_error_grows_with_2d_noise(
    random_rotations: RotationSampler, blazepose_poses: np.ndarray
) -> None:
    rng = np.random.default_rng(7)
    scene = make_scene(random_rotations, blazepose_poses, rng, 400, depth_range_m=(4.0, 8.0))
    noise = rng.normal(size=scene["joints2d"].shape)
    errors = []
    for sigma_px in (0.0, 1.0, 2.0, 4.0, 8.0):
        result = reconstruct_absolute(
            scene["joints_rel"], scene["joints2d"] + sigma_px * noise, scene["K"]
        )
        errors.append(np.linalg.norm(result.translations_m - scene["translation"], axis=1).mean())
    assert errors[0] < 1e-3
    assert all(b > 1.5 * a for a, b in itertools.pairwise(errors))
    # Roughly linear in sigma (a little faster at high noise: depth is a ratio of noisy terms).
    assert all(1.5 < b / a < 3.5 for a, b in itertools.pairwise(errors[1:]))


def test_one_intrinsics_matrix_for_all(
    blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    K = intrinsics_from_fov(1280, 720)
    joints_rel = blazepose_poses[:5]
    translation = np.array([[0.0, 0.3, 5.0], [1, 0, 8], [-2, 0.5, 12], [0.5, -0.2, 3], [3, 1, 20]])
    joints2d = project_points(joints_rel + translation[:, None], K)
    result = reconstruct_absolute(joints_rel, joints2d, K)
    np.testing.assert_allclose(result.translations_m, translation, atol=1e-4)


def _one_person(blazepose_poses: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    K = intrinsics_from_fov(1280, 720)
    joints_rel = blazepose_poses[:1]
    joints2d = project_points(joints_rel + np.array([0.2, 0.1, 4.0]), K)
    return joints_rel, joints2d, K


def test_person_behind_the_camera_is_dropped(blazepose_poses: np.ndarray) -> None:
    joints_rel, _, K = _one_person(blazepose_poses)
    # Points behind the camera project (with the sign flip) like a mirrored person.
    joints2d = project_points(joints_rel + np.array([0.0, 0.0, -4.0]), K)
    result = reconstruct_absolute(joints_rel, joints2d, K)
    assert result.reasons.tolist() == [BEHIND_CAMERA]
    assert not result.is_valid[0]
    assert np.isnan(result.joints_cam_m).all()
    assert result.drop_counts() == {BEHIND_CAMERA: 1}


def test_too_few_weighted_joints_are_dropped(blazepose_poses: np.ndarray) -> None:
    joints_rel, joints2d, K = _one_person(blazepose_poses)
    weights = np.zeros((1, 33))
    weights[0, [11, 12, 23]] = 1.0
    assert reconstruct_absolute(joints_rel, joints2d, K, weights).reasons.tolist() == [
        TOO_FEW_JOINTS
    ]
    weights[0, 24] = 1.0  # four joints suffice by default
    assert reconstruct_absolute(joints_rel, joints2d, K, weights).is_valid.all()


def test_degenerate_geometry_is_ill_conditioned(blazepose_poses: np.ndarray) -> None:
    joints_rel, _, K = _one_person(blazepose_poses)
    joints2d = np.full((1, 33, 2), 300.0)  # every joint on one pixel: depth is unobservable
    result = reconstruct_absolute(joints_rel, joints2d, K)
    assert result.reasons.tolist() == [ILL_CONDITIONED]


def test_non_finite_input_is_dropped_without_poisoning_others(blazepose_poses: np.ndarray) -> None:
    joints_rel, joints2d, K = _one_person(blazepose_poses)
    joints_rel = np.concatenate([joints_rel, joints_rel])
    joints2d = np.concatenate([joints2d, joints2d])
    joints2d[1, 5, 0] = np.nan
    result = reconstruct_absolute(joints_rel, joints2d, K)
    assert result.reasons.tolist() == ["", NON_FINITE]
    np.testing.assert_allclose(result.translations_m[0], [0.2, 0.1, 4.0], atol=1e-4)


def test_empty_batch(blazepose_poses: np.ndarray) -> None:
    result = reconstruct_absolute(np.zeros((0, 33, 3)), np.zeros((0, 33, 2)), np.eye(3))
    assert len(result) == 0
    assert result.drop_counts() == {}


@pytest.mark.parametrize(
    ("rel_shape", "px_shape", "w_shape", "K_shape"),
    [
        ((2, 33, 3), (2, 32, 2), (2, 33), (3, 3)),  # joint count mismatch
        ((2, 33, 3), (2, 33, 2), (2, 32), (3, 3)),  # weight shape mismatch
        ((2, 33, 3), (2, 33, 2), (2, 33), (3, 3, 3)),  # K per person, wrong count
        ((2, 33, 2), (2, 33, 2), (2, 33), (3, 3)),  # 2D where 3D is due
    ],
)
def test_shape_errors(rel_shape: tuple, px_shape: tuple, w_shape: tuple, K_shape: tuple) -> None:
    with pytest.raises(InvalidInputError):
        reconstruct_absolute(
            np.ones(rel_shape), np.ones(px_shape), np.ones(K_shape), np.ones(w_shape)
        )


def test_negative_weights_and_bad_config_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="non-negative"):
        reconstruct_absolute(np.ones((1, 5, 3)), np.ones((1, 5, 2)), np.eye(3), -np.ones((1, 5)))
    with pytest.raises(InvalidInputError):
        ReconstructionConfig(min_joints=1)
