"""Several calibrated views of the same people: rays, cross-view matching, triangulation.

Cross-view matching here uses only the 2D joints and the calibration (the distance between
the viewing rays of the same joint seen from two cameras), never the monocular 3D, so the 3D
agreement it is used to measure does not decide who is matched with whom.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def pixels_to_world_rays(
    points_px: np.ndarray, K: np.ndarray, world_from_camera: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viewing rays of undistorted pixels.

    Args:
        points_px: (..., 2) ideal (undistorted) pixels.
        K: (3, 3) intrinsics.
        world_from_camera: (4, 4) rigid transform, metres.

    Returns:
        ``origin`` (3,) the camera centre in the world, and ``directions`` (..., 3) unit rays.
    """
    points_px = np.asarray(points_px, np.float64)
    homogeneous = np.concatenate([points_px, np.ones((*points_px.shape[:-1], 1))], axis=-1)
    rays_cam = homogeneous @ np.linalg.inv(K).T
    directions = rays_cam @ world_from_camera[:3, :3].T
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return world_from_camera[:3, 3].copy(), directions


def ray_distances_m(
    origin_a: np.ndarray, directions_a: np.ndarray, origin_b: np.ndarray, directions_b: np.ndarray
) -> np.ndarray:
    """(...) closest-approach distance between rays a and b ((3,) origins, (..., 3) unit
    directions, broadcast); for parallel rays the distance between the lines."""
    offset = np.asarray(origin_b, np.float64) - np.asarray(origin_a, np.float64)
    normal = np.cross(directions_a, directions_b)
    normal_length = np.linalg.norm(normal, axis=-1)
    skew = np.abs((normal * offset).sum(axis=-1)) / np.maximum(normal_length, 1e-12)
    along = (offset * directions_a).sum(axis=-1)[..., None] * directions_a
    parallel = np.linalg.norm(offset - along, axis=-1)
    return np.where(normal_length > 1e-9, skew, parallel)


def triangulate_rays(origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(3,) the point closest (least squares) to V >= 2 rays: (V, 3) origins, (V, 3) unit
    directions."""
    origins = np.asarray(origins, np.float64)
    directions = np.asarray(directions, np.float64)
    # Projectors onto each ray's normal plane: (V, 3, 3)
    projectors = np.eye(3) - directions[:, :, None] * directions[:, None, :]
    lhs = projectors.sum(axis=0)
    rhs = np.einsum("vij,vj->i", projectors, origins)
    return np.linalg.solve(lhs, rhs)


def person_ray_distance_m(
    origin_a: np.ndarray, directions_a: np.ndarray, origin_b: np.ndarray, directions_b: np.ndarray
) -> np.ndarray:
    """(A, B) median over joints of the ray distance between every person of view a,
    (A, J, 3) directions, and every person of view b, (B, J, 3): small for the same person."""
    distances = ray_distances_m(origin_a, directions_a[:, None], origin_b, directions_b[None])
    return np.median(distances, axis=-1) if distances.size else distances.sum(axis=-1)


def group_across_views(
    costs: Mapping[tuple[int, int], np.ndarray], max_cost: float
) -> list[dict[int, int]]:
    """Persons seen in several views, from pairwise costs (e.g. :func:`person_ray_distance_m`).

    Greedy agglomeration with complete linkage: pairs are taken cheapest first, and two groups
    merge only if they share no view and every cross pair costs at most ``max_cost``, so one
    coincidental cheap pair cannot chain two people together.

    Args:
        costs: ``(view_a, view_b) -> (A, B)`` cost of person i of view a and person j of view
            b, for view_a < view_b.
        max_cost: costlier pairs never link.

    Returns:
        One ``{view: person index}`` per group of two or more views, sorted.
    """

    def cost(u: tuple[int, int], v: tuple[int, int]) -> float:
        (view_u, person_u), (view_v, person_v) = sorted([u, v])
        return float(costs[(view_u, view_v)][person_u, person_v])

    edges = sorted(
        (float(matrix[i, j]), (a, int(i)), (b, int(j)))
        for (a, b), matrix in costs.items()
        for i, j in zip(*np.nonzero(np.asarray(matrix) <= max_cost), strict=True)
    )
    group_of: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for _, u, v in edges:
        group_u, group_v = group_of.get(u, [u]), group_of.get(v, [v])
        if group_u is group_v or {w for w, _ in group_u} & {w for w, _ in group_v}:
            continue
        if all(cost(x, y) <= max_cost for x in group_u for y in group_v):
            merged = group_u + group_v
            for node in merged:
                group_of[node] = merged
    groups = {id(group): group for group in group_of.values()}.values()
    return sorted((dict(sorted(group)) for group in groups), key=lambda g: sorted(g.items()))
