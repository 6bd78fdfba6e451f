"""Ground plane geometry: angles, rays meeting the plane, heights, horizon, world frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posecast.engines.geometry.camera import (
    camera_to_world,
    intrinsics_from_fov,
    project_points,
    world_to_camera,
)
from posecast.engines.geometry.ground import (
    GroundPlane,
    ground_plane_from_world,
    heights_above_feet_m,
    heights_above_ground_m,
    horizon_line_px,
    normal_from_pitch_roll,
    pitch_roll_from_normal,
    pixels_to_ground_cam,
    world_from_ground_plane,
)
from posecast.errors import InvalidInputError

K = intrinsics_from_fov(1280, 720, 60.0)


@pytest.mark.parametrize(
    ("pitch_deg", "roll_deg"),
    [
        (0.0, 0.0),  # level camera
        (15.0, 2.0),  # a typical surveillance camera
        (-10.0, -5.0),  # looking up a little
        (60.0, 30.0),  # steep, strongly rolled
        (89.0, 0.0),  # almost straight down
    ],
)
def test_pitch_roll_round_trip(pitch_deg: float, roll_deg: float) -> None:
    normal = normal_from_pitch_roll(math.radians(pitch_deg), math.radians(roll_deg))
    assert np.linalg.norm(normal) == pytest.approx(1.0)
    pitch, roll = pitch_roll_from_normal(normal)
    assert math.degrees(pitch) == pytest.approx(pitch_deg, abs=1e-9)
    assert math.degrees(roll) == pytest.approx(roll_deg, abs=1e-9)


def test_angle_conventions() -> None:
    # Level: up is image-up (-y). Looking down: up leans backwards (-z). Positive roll: up
    # leans towards the image's +x, so the horizon's right end is lower in the image.
    np.testing.assert_allclose(normal_from_pitch_roll(0.0, 0.0), [0, -1, 0], atol=1e-12)
    assert normal_from_pitch_roll(math.radians(20), 0.0)[2] < 0
    plane = GroundPlane.from_angles(0.0, math.radians(5), 2.0)
    a, b, c = horizon_line_px(K, plane)
    left, right = -c / b, -(c + a * 1279) / b
    assert right > left


@pytest.mark.parametrize(
    ("normal", "height", "message"),
    [
        ([0.0, 0.0, 0.0], 1.0, "non-zero"),
        ([0.0, -1.0], 1.0, "3-vector"),
        ([0.0, np.nan, 0.0], 1.0, "non-zero"),
        ([0.0, -1.0, 0.0], 0.0, "positive"),
        ([0.0, -1.0, 0.0], -2.0, "positive"),
        ([0.0, -1.0, 0.0], math.inf, "positive"),
    ],
)
def test_ground_plane_rejects_bad_values(normal: list[float], height: float, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        GroundPlane(np.array(normal), height)


def test_ground_plane_normalises_its_normal() -> None:
    plane = GroundPlane(np.array([0.0, -2.0, 0.0]), 3.0)
    np.testing.assert_allclose(plane.normal_cam, [0, -1, 0])
    assert not plane.normal_cam.flags.writeable


def test_pixels_meet_the_plane_where_they_came_from() -> None:
    plane = GroundPlane.from_angles(math.radians(20), math.radians(-3), 5.0)
    world_from_camera = world_from_ground_plane(plane)
    rng = np.random.default_rng(0)
    ground_world = np.column_stack([rng.uniform(5, 40, 50), rng.uniform(-8, 8, 50), np.zeros(50)])
    ground_cam = world_to_camera(ground_world, world_from_camera)
    pixels = project_points(ground_cam, K)
    found = pixels_to_ground_cam(pixels, K, plane)
    np.testing.assert_allclose(found, ground_cam, atol=1e-9)
    np.testing.assert_allclose(heights_above_ground_m(found, plane), 0.0, atol=1e-9)


def test_pixels_at_or_above_the_horizon_meet_nothing() -> None:
    plane = GroundPlane.from_angles(0.0, 0.0, 1.5)  # level: horizon through the centre
    pixels = np.array([[640.0, 500.0], [640.0, K[1, 2]], [640.0, 100.0]])
    found = pixels_to_ground_cam(pixels, K, plane)
    assert np.isfinite(found[0]).all()
    assert np.isnan(found[1:]).all()


def test_horizon_is_the_image_of_level_directions() -> None:
    plane = GroundPlane.from_angles(math.radians(12), math.radians(4), 3.0)
    line = horizon_line_px(K, plane)
    # Far points on the ground approach the horizon; points above it are on the sky side.
    far = world_to_camera(np.array([[1e6, 2e5, 0.0]]), world_from_ground_plane(plane))
    u, v = project_points(far, K)[0]
    assert line @ [u, v, 1.0] == pytest.approx(0.0, abs=1e-2)
    high = world_to_camera(np.array([[10.0, 0.0, 10.0]]), world_from_ground_plane(plane))
    u, v = project_points(high, K)[0]
    assert line @ [u, v, 1.0] > 0


def test_world_frame_of_a_plane() -> None:
    plane = GroundPlane.from_angles(math.radians(25), math.radians(6), 4.0)
    world_from_camera = world_from_ground_plane(plane)
    # Camera centre 4 m above the origin; the optical axis points along +x on the ground.
    np.testing.assert_allclose(world_from_camera[:3, 3], [0, 0, 4.0], atol=1e-12)
    axis = camera_to_world(np.array([0.0, 0.0, 1.0]), world_from_camera) - world_from_camera[:3, 3]
    assert axis[0] > 0 and axis[1] == pytest.approx(0.0, abs=1e-12) and axis[2] < 0
    rotation = world_from_camera[:3, :3]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    # Heights above the plane are world z.
    points_cam = np.random.default_rng(1).normal(size=(20, 3)) * 5 + [0, 0, 10]
    np.testing.assert_allclose(
        camera_to_world(points_cam, world_from_camera)[:, 2],
        heights_above_ground_m(points_cam, plane),
        atol=1e-9,
    )


def test_world_frame_round_trips() -> None:
    plane = GroundPlane.from_angles(math.radians(-8), math.radians(-20), 1.2)
    world_from_camera = world_from_ground_plane(plane)
    points = np.random.default_rng(2).normal(size=(30, 3)) * 3
    back = world_to_camera(camera_to_world(points, world_from_camera), world_from_camera)
    np.testing.assert_allclose(back, points, atol=1e-12)
    again = ground_plane_from_world(world_from_camera)
    np.testing.assert_allclose(again.normal_cam, plane.normal_cam, atol=1e-12)
    assert again.camera_height_m == pytest.approx(1.2)


def test_world_frame_of_a_camera_looking_straight_down() -> None:
    plane = GroundPlane(np.array([0.0, 0.0, -1.0]), 10.0)
    world_from_camera = world_from_ground_plane(plane)
    assert np.isfinite(world_from_camera).all()
    # x is the image's up direction projected on the ground.
    up_image = camera_to_world(np.array([0.0, -1.0, 10.0]), world_from_camera)
    assert up_image[0] > 0 and up_image[2] == pytest.approx(0.0, abs=1e-9)


def test_ground_of_extrinsics_needs_the_camera_above_it() -> None:
    world_from_camera = np.eye(4)
    world_from_camera[:3, 3] = [0.0, 0.0, -1.0]
    with pytest.raises(InvalidInputError, match="not above the ground"):
        ground_plane_from_world(world_from_camera)
    # Another convention: y down, ground at y = 0.
    world_from_camera[:3, 3] = [0.0, -2.0, 0.0]
    plane = ground_plane_from_world(world_from_camera, up_world=(0.0, -1.0, 0.0))
    assert plane.camera_height_m == pytest.approx(2.0)
    np.testing.assert_allclose(plane.normal_cam, [0, -1, 0])


def test_heights_above_feet_of_upright_segments() -> None:
    plane = GroundPlane.from_angles(math.radians(18), math.radians(-4), 6.0)
    world_from_camera = world_from_ground_plane(plane)
    rng = np.random.default_rng(3)
    feet = np.column_stack([rng.uniform(6, 30, 40), rng.uniform(-6, 6, 40), np.zeros(40)])
    heights = rng.uniform(1.4, 2.0, 40)
    tops = feet + heights[:, None] * [0.0, 0.0, 1.0]
    foot_px = project_points(world_to_camera(feet, world_from_camera), K)
    top_px = project_points(world_to_camera(tops, world_from_camera), K)
    np.testing.assert_allclose(heights_above_feet_m(foot_px, top_px, K, plane), heights, rtol=1e-9)
