"""Multi-view geometry: rays, their distances, triangulation, cross-view grouping."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.multiview import (
    group_across_views,
    person_ray_distance_m,
    pixels_to_world_rays,
    ray_distances_m,
    triangulate_rays,
)

K = np.array([[1000.0, 0, 500], [0, 1000, 400], [0, 0, 1]])


def camera_at(centre: list[float], yaw_deg: float) -> np.ndarray:
    """world_from_camera of a camera at ``centre`` turned by ``yaw_deg`` about the y axis."""
    yaw = np.radians(yaw_deg)
    pose = np.eye(4)
    pose[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    pose[:3, 3] = centre
    return pose


def project(points_world: np.ndarray, world_from_camera: np.ndarray) -> np.ndarray:
    camera = (points_world - world_from_camera[:3, 3]) @ world_from_camera[:3, :3]
    pixels = camera @ K.T
    return pixels[..., :2] / pixels[..., 2:]


def test_rays_of_projected_points_pass_through_them() -> None:
    pose = camera_at([1, 0, -2], 20)
    points = np.array([[0.5, 0.2, 3.0], [-1, 1, 5]])
    origin, directions = pixels_to_world_rays(project(points, pose), K, pose)
    np.testing.assert_allclose(origin, [1, 0, -2])
    np.testing.assert_allclose(np.linalg.norm(directions, axis=-1), 1)
    distances = ray_distances_m(origin, directions, points[0], np.array([0, 1.0, 0]))
    assert distances[0] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize(
    ("origin_b", "direction_b", "expected"),
    [
        ([0, 1, 0], [0, 0, 1], 1.0),  # parallel, 1 m apart
        ([0, 1, 5], [1, 0, 0], 1.0),  # skew, 1 m apart at closest
        ([0, 0, 5], [1, 0, 0], 0.0),  # crossing
    ],
)
def test_ray_distances(origin_b: list[float], direction_b: list[float], expected: float) -> None:
    distance = ray_distances_m(np.zeros(3), np.array([0, 0, 1.0]), origin_b, np.array(direction_b))
    assert distance == pytest.approx(expected)


def test_triangulation_of_two_views() -> None:
    point = np.array([0.3, -0.2, 4.0])
    poses = [camera_at([0, 0, 0], 0), camera_at([3, 0, 1], -30)]
    rays = [pixels_to_world_rays(project(point[None], pose), K, pose) for pose in poses]
    origins = np.stack([origin for origin, _ in rays])
    directions = np.concatenate([direction for _, direction in rays])
    np.testing.assert_allclose(triangulate_rays(origins, directions), point, atol=1e-9)


def test_persons_match_across_views_by_their_rays() -> None:
    shape = np.random.default_rng(2).normal(0, 0.3, (12, 3))
    people = np.stack([shape + np.array([x, 0, z]) for x, z in ((-1, 5), (1, 7))])  # (2, 12, 3)
    # The second camera higher up: with both cameras and both people at one height, each
    # person's rays would cross the other's (one epipolar plane).
    pose_a, pose_b = camera_at([0, 0, 0], 0), camera_at([4, -2, 2], -45)
    origin_a, rays_a = pixels_to_world_rays(project(people, pose_a), K, pose_a)
    origin_b, rays_b = pixels_to_world_rays(project(people[::-1], pose_b), K, pose_b)
    cost = person_ray_distance_m(origin_a, rays_a, origin_b, rays_b)  # (2, 2)
    assert cost[0, 1] < 1e-9 and cost[1, 0] < 1e-9
    assert cost[0, 0] > 0.2 and cost[1, 1] > 0.2
    assert group_across_views({(0, 1): cost}, 0.1) == [{0: 0, 1: 1}, {0: 1, 1: 0}]


def test_grouping_by_complete_linkage() -> None:
    costs = {
        (0, 1): np.array([[0.01, 0.9], [0.9, 0.02]]),
        (0, 2): np.array([[0.05], [0.9]]),
        # View 2's only person is person 0, but its rays pass close to person 1 of view 1 too
        # (0.03): single linkage would chain everyone into one group.
        (1, 2): np.array([[0.06], [0.03]]),
    }
    assert group_across_views(costs, max_cost=0.1) == [{0: 0, 1: 0, 2: 0}, {0: 1, 1: 1}]
    assert group_across_views(costs, max_cost=0.015) == [{0: 0, 1: 0}]  # one pair cheap enough


def test_grouping_without_persons() -> None:
    assert group_across_views({(0, 1): np.zeros((0, 2))}, 0.1) == []
