import numpy as np
import pytest

from posecast.tracker.matching import (
    linear_assignment,
    normalized_distance_matrix_2d,
    pose_distance_matrix_m,
)


@pytest.mark.parametrize(
    ("cost", "gate", "matches", "rows", "cols"),
    [
        # empty inputs
        (np.zeros((0, 0)), 1.0, [], [], []),
        (np.zeros((2, 0)), 1.0, [], [0, 1], []),
        (np.zeros((0, 3)), 1.0, [], [], [0, 1, 2]),
        # the global optimum, not the greedy one (greedy takes (0, 0) at 0.1, then (1, 1) at 5)
        (np.array([[0.1, 0.2], [0.3, 5.0]]), 10.0, [[0, 1], [1, 0]], [], []),
        # the same with a gate of 1: (1, 1) is over the gate, the optimum within it is taken
        (np.array([[0.1, 0.2], [0.3, 5.0]]), 1.0, [[0, 1], [1, 0]], [], []),
        # everything over the gate
        (np.array([[2.0, 3.0]]), 1.0, [], [0], [0, 1]),
        # inf never matches
        (np.array([[np.inf, 0.5]]), 1.0, [[0, 1]], [], [0]),
        # per-row gates: row 0 may take 0.5, row 1 may not take 0.6
        (np.array([[0.5, 9.0], [9.0, 0.6]]), np.array([0.55, 0.55]), [[0, 0]], [1], [1]),
        # more rows than columns
        (np.array([[0.2], [0.1], [0.3]]), 1.0, [[1, 0]], [0, 2], []),
    ],
)
def test_linear_assignment(cost, gate, matches, rows, cols) -> None:
    got_matches, got_rows, got_cols = linear_assignment(cost, gate)
    assert got_matches.reshape(-1, 2).tolist() == matches
    assert got_rows.tolist() == rows
    assert got_cols.tolist() == cols


def test_pose_distance_averages_only_joints_confident_in_both() -> None:
    track = np.zeros((1, 3, 3))
    detection = np.array([[[0.1, 0, 0], [0, 0.3, 0], [5.0, 0, 0]]])
    track_scores = np.array([[1.0, 1.0, 1.0]])
    detection_scores = np.array([[1.0, 0.9, 0.1]])  # the far joint is not confident
    distance = pose_distance_matrix_m(track, track_scores, detection, detection_scores, 0.3, 2)
    assert distance[0, 0] == pytest.approx(0.2)
    too_few = pose_distance_matrix_m(track, track_scores, detection, detection_scores, 0.3, 3)
    assert np.isinf(too_few[0, 0])


def test_normalized_2d_distance_is_scale_free() -> None:
    reference = np.array([[[0.0, 0.0], [0.0, 100.0], [30.0, 100.0]]])
    shifted = reference + np.array([5.0, 0.0])
    scores = np.ones((1, 3))
    near = normalized_distance_matrix_2d(reference, scores, shifted, scores, 0.3, 2)
    far_reference = reference / 4  # a person 4 times as far: 4 times smaller, same shift
    far = normalized_distance_matrix_2d(
        far_reference, scores, far_reference + np.array([1.25, 0]), scores, 0.3, 2
    )
    assert near[0, 0] == pytest.approx(5.0 / np.hypot(30, 100))
    assert far[0, 0] == pytest.approx(near[0, 0])


def _pose_at(range_m: float) -> np.ndarray:
    """(1, 3, 3) three joints around a point on a ray 20 degrees off the optical axis."""
    direction = np.array([np.sin(np.radians(20)), 0.0, np.cos(np.radians(20))])
    return (np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.2, 0.0, 0.0]]) + range_m * direction)[
        None
    ]


@pytest.mark.parametrize(
    ("range_m", "range_error_m", "lateral_m", "full_depth_range_m", "expected_m"),
    [
        # plain 3D distance: the whole range error counts
        (15.0, 0.8, 0.0, np.inf, 0.8),
        # 15 m, full depth up to 6 m: weight (6 / 15)^2 per joint (each at its own range)
        (15.0, 0.8, 0.0, 6.0, None),
        # within full_depth_range_m depth counts fully
        (4.0, 0.3, 0.0, 6.0, 0.3),
        # a lateral shift counts fully at any range
        (15.0, 0.0, 0.5, 6.0, 0.5),
    ],
)
def test_pose_distance_down_weights_depth_beyond_full_depth_range(
    range_m, range_error_m, lateral_m, full_depth_range_m, expected_m
) -> None:
    track = _pose_at(range_m)
    # monocular depth error: the pose slides along the camera ray (same image), plus a shift
    # perpendicular to the ray
    direction = track[0, 0] / np.linalg.norm(track[0, 0])
    lateral = np.cross(direction, [0.0, 1.0, 0.0])
    detection = track + range_error_m * direction + lateral_m * lateral
    scores = np.ones((1, 3))
    distance = pose_distance_matrix_m(track, scores, detection, scores, 0.3, 1, full_depth_range_m)
    if expected_m is None:
        ranges = np.linalg.norm(track[0], axis=-1)
        weights = 6.0**2 / (ranges * np.linalg.norm(detection[0], axis=-1))
        assert distance[0, 0] == pytest.approx(0.8 * weights.mean(), rel=0.05)
        assert distance[0, 0] < 0.15  # well inside the 0.4 m gate; the plain distance is not
    else:
        assert distance[0, 0] == pytest.approx(expected_m, rel=0.02)


def test_pose_distance_with_infinite_full_depth_range_is_euclidean() -> None:
    rng = np.random.default_rng(0)
    tracks, detections = rng.normal(0, 3, (4, 5, 3)), rng.normal(0, 3, (2, 5, 3))
    tracks[..., 2] += 12
    detections[..., 2] += 12
    scores = np.ones((4, 5)), np.ones((2, 5))
    plain = np.linalg.norm(tracks[:, None] - detections[None], axis=-1).mean(axis=-1)
    got = pose_distance_matrix_m(tracks, scores[0], detections, scores[1], 0.3, 1)
    np.testing.assert_allclose(got, plain)
    # a finite range only ever lowers distances, and never below the lateral part
    weighted = pose_distance_matrix_m(tracks, scores[0], detections, scores[1], 0.3, 1, 6.0)
    assert (weighted <= plain + 1e-12).all()
    lateral = pose_distance_matrix_m(tracks, scores[0], detections, scores[1], 0.3, 1, 1e-9)
    assert (weighted >= lateral - 1e-12).all()


def test_pose_distance_empty() -> None:
    distance = pose_distance_matrix_m(
        np.zeros((0, 3, 3)), np.zeros((0, 3)), np.ones((2, 3, 3)), np.ones((2, 3)), 0.3, 1, 6.0
    )
    assert distance.shape == (0, 2)
