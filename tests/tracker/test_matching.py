import numpy as np
import pytest

from tracker.matching import (
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
