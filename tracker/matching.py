"""Association cues (pose, image, ground and appearance distances), their combination into one
cost, and gated Hungarian assignment (scipy's linear_sum_assignment)."""

from __future__ import annotations

from dataclasses import dataclass

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


def ground_distance_matrix_m(
    track_ground_m: np.ndarray, detection_ground_m: np.ndarray
) -> np.ndarray:
    """(T, 2) x (D, 2) ground positions (metres) -> (T, D) distances; NaN rows or columns
    (no position) give NaN."""
    differences = track_ground_m[:, None, :] - detection_ground_m[None, :, :]
    return np.linalg.norm(differences, axis=-1)


def ground_positions_m(
    joints_world_m: np.ndarray, joint_scores: np.ndarray, min_joint_confidence: float
) -> np.ndarray:
    """(N, J, 3) world joints (z up) -> (N, 2) x, y of the centroid of each person's confident
    joints (the point on the ground below the body); NaN where no joint is confident."""
    confident = joint_scores >= min_joint_confidence  # (N, J)
    counts = confident.sum(axis=1)
    totals = np.where(confident[..., None], joints_world_m[..., :2], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[:, None] > 0, totals / counts[:, None], np.nan)


def shape_distance_matrix_m(
    track_joints_m: np.ndarray,
    track_scores: np.ndarray,
    detection_joints_m: np.ndarray,
    detection_scores: np.ndarray,
    min_joint_confidence: float,
    min_common_joints: int,
) -> np.ndarray:
    """Mean per-joint distance between the poses, each centred on its confident joints'
    centroid: the body's shape and posture, wherever it stands. (T, D) metres, ``inf`` where
    too few joints are common."""

    def centred(joints_m: np.ndarray, scores: np.ndarray) -> np.ndarray:
        confident = (scores >= min_joint_confidence)[..., None]
        counts = np.maximum(confident.sum(axis=1), 1)
        centroid = np.where(confident, joints_m, 0.0).sum(axis=1) / counts
        return joints_m - centroid[:, None, :]

    return pose_distance_matrix_m(
        centred(track_joints_m, track_scores),
        track_scores,
        centred(detection_joints_m, detection_scores),
        detection_scores,
        min_joint_confidence,
        min_common_joints,
    )


@dataclass(frozen=True)
class CueDistances:
    """Each cue's (T, D) distances divided by its gate (1.0: at the gate); NaN where a pair
    lacks the cue (no appearance, no common joints, ...); None: the cue is not used.

    Attributes:
        position: 3D pose distance (camera) or ground distance (world).
        image: 2D joint distance.
        appearance: appearance cosine distance.
        shape: root-relative 3D pose distance (cost only, never a gate).
        image_may_replace_position: (T, D) bool: pairs whose image distance may stand in for
            a failed position (tracks whose measured position noise is large: monocular depth
            at range); None: nowhere.
    """

    position: np.ndarray
    image: np.ndarray | None = None
    appearance: np.ndarray | None = None
    shape: np.ndarray | None = None
    image_may_replace_position: np.ndarray | None = None


@dataclass(frozen=True)
class CueWeights:
    """Weights of the cues in the cost, and the cap of a normalised distance."""

    position: float = 1.0
    image: float = 1.0
    appearance: float = 1.0
    shape: float = 0.0
    max_normalized_cost: float = 2.0


def association_cost(cues: CueDistances, weights: CueWeights) -> np.ndarray:
    """One cost per (track, detection) pair from the cues, ``inf`` where the pair is gated out.

    A pair is allowed when its position is within the gate, or its image distance is and the
    pair is one where the image may replace the position (monocular depth at range jumps by
    metres between frames while the 2D joints hold), and, when both sides have an appearance,
    its appearance distance is within the gate too. Its cost is the
    weighted mean of the normalised distances it has, each capped at
    ``weights.max_normalized_cost``.

    Returns:
        (T, D) costs in [0, max_normalized_cost], ``inf`` where not allowed.
    """
    cap = weights.max_normalized_cost
    shape = cues.position.shape
    within = np.nan_to_num(cues.position, nan=np.inf) <= 1.0
    if cues.image is not None and cues.image_may_replace_position is not None:
        is_image_within = np.nan_to_num(cues.image, nan=np.inf) <= 1.0
        within |= is_image_within & cues.image_may_replace_position
    if cues.appearance is not None:
        within &= ~(cues.appearance > 1.0)  # NaN (unknown) passes
    total = np.zeros(shape)
    weight_sum = np.zeros(shape)
    for values, weight in (
        (cues.position, weights.position),
        (cues.image, weights.image),
        (cues.appearance, weights.appearance),
        (cues.shape, weights.shape),
    ):
        if values is None or weight <= 0:
            continue
        has = ~np.isnan(values)
        total += np.where(has, weight * np.minimum(np.nan_to_num(values, nan=0.0), cap), 0.0)
        weight_sum += np.where(has, weight, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.where(weight_sum > 0, total / weight_sum, cap)
    return np.where(within, cost, np.inf)
