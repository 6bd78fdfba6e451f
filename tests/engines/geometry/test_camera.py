import json
import math

import numpy as np
import pytest

from posecast.engines.geometry.camera import (
    Camera,
    camera_to_world,
    intrinsics_from_fov,
    pixels_to_normalized,
    project_points,
    validate_intrinsics,
    world_to_camera,
)
from posecast.errors import InvalidInputError

K_GOOD = [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]


def test_from_fov_matches_the_metrabs_default() -> None:
    camera = Camera.from_fov(1920, 1080)
    focal = 1920 / (2 * math.tan(math.radians(55.0) / 2))
    np.testing.assert_allclose(camera.K, [[focal, 0, 959.5], [0, focal, 539.5], [0, 0, 1]])
    # The longer side decides, whatever the orientation.
    assert Camera.from_fov(1080, 1920).K[0, 0] == pytest.approx(focal)


@pytest.mark.parametrize(
    ("K", "message"),
    [
        ([[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]], "non-finite"),  # NaN entry
        ([[np.inf, 0, 1], [0, 1, 1], [0, 0, 1]], "non-finite"),  # infinite entry
        ([[0, 0, 1], [0, 1, 1], [0, 0, 1]], "positive"),  # zero focal length
        ([[-500, 0, 1], [0, 500, 1], [0, 0, 1]], "positive"),  # negative focal length
        ([[500, 0, 1], [0, 500, 1], [0, 0, 0]], "last row"),  # singular (projective row)
        ([[500, 0, 1], [0, 500, 1]], "shape"),  # 2x3
        ([[500, 0, 1], [3, 500, 1], [0, 0, 1]], "upper-triangular"),  # not a camera matrix
        ("not a matrix", "expected"),  # garbage
    ],
)
def test_invalid_intrinsics_are_rejected(K: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Camera(K=K)  # type: ignore[arg-type]


def test_validate_intrinsics_returns_a_new_array() -> None:
    original = np.array(K_GOOD)
    validated = validate_intrinsics(original)
    validated[0, 0] = 1.0
    assert original[0, 0] == 1000.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"distortion": [0, 0, 0, 0]}, "missing key 'K'"),
        ({"K": K_GOOD, "focal": 3}, "unknown keys"),
        ({"K": K_GOOD, "distortion": [0.1, 0.2, 0.3]}, "coefficients"),
        ({"K": K_GOOD, "distortion": [0.1, np.nan, 0, 0]}, "non-finite"),
        ({"K": K_GOOD, "world_from_camera": np.diag([2.0, 1, 1, 1]).tolist()}, "rotation"),
        ({"K": K_GOOD, "R": np.eye(3).tolist()}, "together"),
        ({"K": K_GOOD, "R": np.eye(3).tolist(), "t": [0, 0], "world_from_camera": None}, "shape"),
    ],
)
def test_invalid_camera_dicts_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Camera.from_dict(data)


def test_json_round_trip(tmp_path) -> None:
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    world_from_camera[:3, 3] = [1.0, 2.0, 3.0]
    camera = Camera(
        K=K_GOOD, distortion=[-0.2, 0.05, 0.001, 0.0, 0.0], world_from_camera=world_from_camera
    )
    path = tmp_path / "camera.json"
    path.write_text(json.dumps(camera.to_dict()))
    loaded = Camera.from_json(path)
    np.testing.assert_array_equal(loaded.K, camera.K)
    np.testing.assert_array_equal(loaded.distortion, camera.distortion)
    np.testing.assert_array_equal(loaded.world_from_camera, world_from_camera)


def test_rotation_and_translation_keys_build_the_extrinsics() -> None:
    camera = Camera.from_dict({"K": K_GOOD, "R": np.eye(3).tolist(), "t": [0.0, 0.0, 5.0]})
    np.testing.assert_allclose(camera.camera_to_world(np.zeros((1, 3))), [[0.0, 0.0, 5.0]])


def test_unreadable_json_is_an_input_error(tmp_path) -> None:
    path = tmp_path / "camera.json"
    path.write_text("{not json")
    with pytest.raises(InvalidInputError):
        Camera.from_json(path)
    with pytest.raises(InvalidInputError):
        Camera.from_json(tmp_path / "missing.json")


def test_all_zero_distortion_counts_as_none() -> None:
    assert not Camera(K=K_GOOD, distortion=[0, 0, 0, 0, 0]).has_distortion


def test_camera_is_immutable() -> None:
    camera = Camera(K=K_GOOD)
    with pytest.raises(ValueError):
        camera.K[0, 0] = 1.0


def test_projection_and_normalization_are_inverse(rng: np.random.Generator) -> None:
    points = rng.uniform([-2, -2, 1], [2, 2, 20], (4, 7, 3))
    K = np.array(K_GOOD)
    pixels = project_points(points, K)
    np.testing.assert_allclose(pixels_to_normalized(pixels, K), points[..., :2] / points[..., 2:])
    # One K per person gives the same as the shared K.
    per_person = np.broadcast_to(K, (4, 3, 3))
    np.testing.assert_allclose(project_points(points, per_person), pixels)
    np.testing.assert_allclose(
        pixels_to_normalized(pixels, per_person), points[..., :2] / points[..., 2:]
    )


def test_distortion_round_trip(rng: np.random.Generator) -> None:
    camera = Camera(K=K_GOOD, distortion=[-0.25, 0.08, 0.001, -0.0005, -0.01])
    ideal = rng.uniform([100, 50], [1180, 670], (50, 2))
    observed = camera.distort_points(ideal)
    assert np.abs(observed - ideal).max() > 5.0  # the distortion is not negligible
    np.testing.assert_allclose(camera.undistort_points(observed), ideal, atol=1e-6)
    # Forward projection with distortion = pinhole projection, then distortion.
    points = rng.uniform([-1, -0.5, 2], [1, 0.5, 6], (10, 3))
    np.testing.assert_allclose(
        camera.project(points), camera.distort_points(project_points(points, camera.K)), atol=1e-6
    )


def test_points_pass_through_without_distortion() -> None:
    camera = Camera(K=K_GOOD)
    points = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(camera.undistort_points(points), points)
    assert camera.undistort_points(np.zeros((0, 2))).shape == (0, 2)


def test_world_transform_round_trip(rng: np.random.Generator) -> None:
    angle = 0.3
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = [
        [math.cos(angle), 0, math.sin(angle)],
        [0, 1, 0],
        [-math.sin(angle), 0, math.cos(angle)],
    ]
    world_from_camera[:3, 3] = [0.5, -1.5, 2.0]
    points = rng.normal(size=(3, 5, 3))
    world = camera_to_world(points, world_from_camera)
    np.testing.assert_allclose(world_to_camera(world, world_from_camera), points, atol=1e-12)


def test_world_output_needs_extrinsics() -> None:
    with pytest.raises(InvalidInputError, match="extrinsics"):
        Camera(K=K_GOOD).camera_to_world(np.zeros((1, 3)))


@pytest.mark.parametrize(("width", "height", "fov"), [(0, 10, 55), (10, 10, 0), (10, 10, 180)])
def test_invalid_fov_arguments(width: int, height: int, fov: float) -> None:
    with pytest.raises(InvalidInputError):
        intrinsics_from_fov(width, height, fov)


def test_vanishing_field_of_view_is_a_clear_error() -> None:
    # found by fuzzing the HTTP API: tan(1e-320 / 2) underflows to 0
    with pytest.raises(InvalidInputError, match="finite focal"):
        intrinsics_from_fov(640, 480, 1e-320)
