"""Ground-contact placement: people on a known plane, the fallbacks and their reasons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points, world_to_camera
from posecast.engines.geometry.ground import (
    GroundPlane,
    heights_above_ground_m,
    world_from_ground_plane,
)
from posecast.engines.geometry.placement import (
    ABOVE_HORIZON,
    FEET_NOT_SEEN,
    IMPRECISE,
    LEANING,
    NO_PLANE,
    OFF_PLANE,
    place_people,
    scale_about_camera,
)
from posecast.engines.geometry.scene_config import PlacementConfig
from posecast.errors import InvalidInputError
from synthetic.ground_scenes import mocap_poses_world

SIZE = (1280, 720)
K = intrinsics_from_fov(*SIZE, 60.0)
PLANE = GroundPlane.from_angles(math.radians(15), math.radians(2), 3.0)


def people_on_the_ground(positions_xy: list[tuple[float, float]], lift_m: float = 0.0):
    """True camera-frame skeletons standing at ground positions (world x forward, y left),
    their exact 2D landmarks and visibilities."""
    pose = mocap_poses_world()[0] * 1.75
    world_from_camera = world_from_ground_plane(PLANE)
    joints = np.stack(
        [
            world_to_camera(pose + np.array([x, y, lift_m]), world_from_camera)
            for x, y in positions_xy
        ]
    )
    return joints, project_points(joints, K), np.ones(joints.shape[:2])


def test_people_on_the_ground_are_placed_exactly() -> None:
    truth, pixels, scores = people_on_the_ground([(6.0, 0.5), (12.0, -2.0), (20.0, 3.0)])
    # The monocular skeletons come out 10 % small (so 10 % near): the plane fixes both.
    monocular = scale_about_camera(truth, 0.9)
    placement = place_people(monocular, pixels, scores, K, SIZE, PLANE)
    assert placement.is_ground.all() and (placement.reasons == "").all()
    assert list(placement.labels) == ["ground"] * 3
    np.testing.assert_allclose(placement.joints_cam_m, truth, atol=1e-6)
    np.testing.assert_allclose(placement.scales, 1 / 0.9, rtol=1e-6)
    lowest = heights_above_ground_m(placement.joints_cam_m[:, 29:33], PLANE).min(axis=1)
    np.testing.assert_allclose(lowest, 0.0, atol=1e-6)


def test_placement_keeps_the_image() -> None:
    truth, pixels, scores = people_on_the_ground([(8.0, 1.0)])
    monocular = scale_about_camera(truth, 1.15) + np.array([0.01, -0.02, 0.0])  # a 2D misfit
    placed = place_people(monocular, pixels, scores, K, SIZE, PLANE).joints_cam_m
    np.testing.assert_allclose(project_points(placed, K), pixels, atol=3.0)


def test_without_a_plane_everyone_is_monocular_with_the_scale_correction() -> None:
    truth, pixels, scores = people_on_the_ground([(6.0, 0.0), (9.0, 1.0)])
    config = PlacementConfig(monocular_scale=1.06)
    placement = place_people(truth, pixels, scores, K, SIZE, None, config)
    assert not placement.is_ground.any() and (placement.reasons == NO_PLANE).all()
    np.testing.assert_allclose(placement.joints_cam_m, truth * 1.06)
    disabled = place_people(
        truth, pixels, scores, K, SIZE, PLANE, PlacementConfig(is_enabled=False)
    )
    assert not disabled.is_ground.any()


def test_hidden_feet_leaning_and_flying_people_fall_back() -> None:
    truth, pixels, scores = people_on_the_ground([(6.0, 0.0), (7.0, 1.0), (8.0, -1.0)])
    scores[0, 29:33] = 0.1  # person 0: heels and toes hidden
    # Person 1 lies down: the skeleton turned 90 degrees about a horizontal axis.
    world_from_camera = world_from_ground_plane(PLANE)
    lying = mocap_poses_world()[0] * 1.75
    lying = lying @ np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T
    truth[1] = world_to_camera(lying + np.array([7.0, 1.0, 0.3]), world_from_camera)
    pixels[1] = project_points(truth[1], K)
    placement = place_people(truth, pixels, scores, K, SIZE, PLANE)
    assert list(placement.reasons[:2]) == [FEET_NOT_SEEN, LEANING]
    assert placement.is_ground[2]
    # High in the air above a low camera: the plane's range disagrees with the skeleton's.
    low = GroundPlane.from_angles(math.radians(5), 0.0, 2.5)
    flying = world_to_camera(
        mocap_poses_world()[0] * 1.75 + [6.0, 0.0, 1.5], world_from_ground_plane(low)
    )
    placement = place_people(
        flying[None], project_points(flying[None], K), np.ones((1, 33)), K, SIZE, low
    )
    assert placement.reasons[0] == OFF_PLANE


def test_feet_near_or_above_the_horizon_fall_back() -> None:
    truth, pixels, scores = people_on_the_ground([(300.0, 0.0)])
    placement = place_people(truth, pixels, scores, K, SIZE, PLANE)
    assert placement.reasons[0] == IMPRECISE
    # Feet seen above the horizon (row 20; the horizon is near row 63): no ground there.
    truth, pixels, scores = people_on_the_ground([(6.0, 0.0)])
    pixels[..., 1] += 20.0 - pixels[0, 29:33, 1].max()
    placement = place_people(truth, pixels, scores, K, SIZE, PLANE)
    assert placement.reasons[0] == ABOVE_HORIZON


def test_empty_and_bad_input() -> None:
    empty = place_people(
        np.zeros((0, 33, 3)), np.zeros((0, 33, 2)), np.zeros((0, 33)), K, SIZE, PLANE
    )
    assert len(empty) == 0 and empty.joints_cam_m.shape == (0, 33, 3)
    with pytest.raises(InvalidInputError, match="33"):
        place_people(np.zeros((1, 17, 3)), np.zeros((1, 17, 2)), np.zeros((1, 17)), K, SIZE, PLANE)
