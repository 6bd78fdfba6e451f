"""Distances between poses, and gated Hungarian assignment (scipy's linear_sum_assignment)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

_NO_MATCH_COST = 1e6
"""Stands in for gated-out pairs: finite, so linear_sum_assignment always has a solution."""


def pose_distance_matrix_m(
    track_joints_m: np.ndarray,
    track_scores: np.ndarray,
    detection_joints_m: np.ndarray,
    detection_scores: np.ndarray,
    min_joint_confidence: float,
    min_common_joints: int,
    full_depth_range_m: float = np.inf,
) -> np.ndarray:
    """Mean per-joint 3D distance over the joints confident in both poses, depth down-weighted.

    Each joint's difference is split along the camera ray: the depth part is the difference of
    the two ranges (distances from the camera centre), the lateral part the rest, which is the
    angle between the two rays times the geometric mean of the ranges
    (``|a - b|^2 = (|a| - |b|)^2 + |a| |b| |a/|a| - b/|b||^2``). The per-joint distance is
    ``sqrt(lateral^2 + (w * depth)^2)`` with ``w = min(1, full_depth_range_m^2 / (|a| |b|))``.
    Monocular reconstruction gets a joint's direction from the image but its range from the
    person's apparent size, so the range error grows with the square of the range (decimetres
    to a metre between frames at 15 m) while the lateral error stays small; ``w`` keeps the
    weighted depth error about as large at any range as at ``full_depth_range_m``.

    Args:
        track_joints_m: (T, J, 3) predicted track poses, camera frame, metres.
        track_scores: (T, J) their joint confidence.
        detection_joints_m: (D, J, 3) detected poses, metres.
        detection_scores: (D, J) their joint confidence.
        min_joint_confidence: joints below it count as absent.
        min_common_joints: pairs with fewer joints confident in both get ``inf``.
        full_depth_range_m: range up to which depth counts fully; ``inf`` (default): plain
            Euclidean distance.

    Returns:
        (T, D) distances in metres, ``inf`` where there are too few common joints.
    """
    differences = track_joints_m[:, None, :, :] - detection_joints_m[None, :, :, :]
    squared = (differences**2).sum(axis=-1)  # (T, D, J)
    if np.isfinite(full_depth_range_m):
        track_range_m = np.linalg.norm(track_joints_m, axis=-1)[:, None, :]
        detection_range_m = np.linalg.norm(detection_joints_m, axis=-1)[None, :, :]
        depth_m = track_range_m - detection_range_m  # (T, D, J)
        with np.errstate(divide="ignore"):
            depth_weight = np.minimum(
                full_depth_range_m**2 / (track_range_m * detection_range_m), 1.0
            )
        squared = np.maximum(squared - (1.0 - depth_weight**2) * depth_m**2, 0.0)
    return _mean_over_common(
        np.sqrt(squared), track_scores, detection_scores, min_joint_confidence, min_common_joints
    )


def _mean_over_common(
    distances: np.ndarray,
    row_scores: np.ndarray,
    column_scores: np.ndarray,
    min_joint_confidence: float,
    min_common_joints: int,
) -> np.ndarray:
    """(R, C) mean of (R, C, J) per-joint distances over joints confident in both, else inf."""
    common = (row_scores[:, None, :] >= min_joint_confidence) & (
        column_scores[None, :, :] >= min_joint_confidence
    )  # (R, C, J)
    num_common = common.sum(axis=-1)
    total = np.where(common, distances, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / num_common
    return np.where(num_common >= min_common_joints, mean, np.inf)


def normalized_distance_matrix_2d(
    reference_joints_px: np.ndarray,
    reference_scores: np.ndarray,
    detection_joints_px: np.ndarray,
    detection_scores: np.ndarray,
    min_joint_confidence: float,
    min_common_joints: int,
) -> np.ndarray:
    """Mean per-joint 2D distance over common joints, divided by the reference's size.

    The size is the diagonal of the box around the reference's confident joints, so the
    distance means the same for near (large) and far (small) people.

    Args:
        reference_joints_px: (R, J, 2) reference joints, pixels.
        reference_scores: (R, J) their confidence (0 where the reference lacks a joint).
        detection_joints_px: (D, J, 2) detected joints, pixels.
        detection_scores: (D, J) their confidence.
        min_joint_confidence: joints below it count as absent.
        min_common_joints: pairs with fewer common joints get ``inf``.

    Returns:
        (R, D) distances in units of reference size, ``inf`` where not comparable.
    """
    distances_px = _mean_over_common(
        np.linalg.norm(reference_joints_px[:, None] - detection_joints_px[None], axis=-1),
        reference_scores,
        detection_scores,
        min_joint_confidence,
        min_common_joints,
    )
    confident = reference_scores >= min_joint_confidence  # (R, J)
    low = np.where(confident[..., None], reference_joints_px, np.inf).min(axis=1)
    high = np.where(confident[..., None], reference_joints_px, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        size_px = np.linalg.norm(high - low, axis=-1)  # (R,)
    size_px = np.where(np.isfinite(size_px) & (size_px > 0), size_px, np.nan)
    distances = distances_px / size_px[:, None]
    return np.where(np.isnan(distances), np.inf, distances)


def linear_assignment(
    cost: np.ndarray, max_cost: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment; pairs costing more than the gate are no match.

    Args:
        cost: (R, C) cost matrix (``inf`` allowed: never matched).
        max_cost: the gate, a scalar or (R,) one per row.

    Returns:
        matches (K, 2) of (row, column); unmatched rows (R - K,); unmatched columns (C - K,).
        All int64, sorted ascending.
    """
    num_rows, num_cols = cost.shape
    gate = np.broadcast_to(np.asarray(max_cost, np.float64).reshape(-1, 1), (num_rows, 1))
    allowed = cost <= gate
    if num_rows == 0 or num_cols == 0 or not allowed.any():
        return np.zeros((0, 2), np.int64), np.arange(num_rows), np.arange(num_cols)
    gated = np.where(allowed, cost, _NO_MATCH_COST)
    rows, cols = linear_sum_assignment(gated)
    keep = allowed[rows, cols]
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    unmatched_rows = np.setdiff1d(np.arange(num_rows), matches[:, 0])
    unmatched_cols = np.setdiff1d(np.arange(num_cols), matches[:, 1])
    return matches, unmatched_rows, unmatched_cols
