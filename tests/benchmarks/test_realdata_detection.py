"""Detection scoring: greedy matching with don't-care regions, recall, precision, AP."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.detection import (
    FALSE_POSITIVE,
    IGNORED,
    TRUE_POSITIVE,
    average_precision,
    match_frame,
    score_detections,
)

TARGETS = np.array([[0, 0, 10, 20], [100, 0, 110, 20]], float)
DONT_CARE = np.array([[200, 0, 210, 20]], float)


def test_each_kind_of_prediction() -> None:
    predictions = np.array(
        [
            [0, 0, 10, 20],  # on target 0: true positive
            [1, 0, 11, 20],  # duplicate of target 0, lower score: false positive
            [200, 0, 210, 21],  # on the don't-care box: ignored
            [300, 0, 310, 20],  # on nothing: false positive
        ],
        float,
    )
    match = match_frame(predictions, [0.9, 0.8, 0.7, 0.6], TARGETS, DONT_CARE)
    assert match.labels.tolist() == [TRUE_POSITIVE, FALSE_POSITIVE, IGNORED, FALSE_POSITIVE]
    assert match.is_found.tolist() == [True, False]


def test_targets_have_the_first_claim_over_dont_care() -> None:
    # A target inside a don't-care box: the prediction counts as a hit, not as ignored.
    match = match_frame(TARGETS[:1], [0.5], TARGETS[:1], TARGETS[:1])
    assert match.labels.tolist() == [TRUE_POSITIVE]


def test_higher_scores_match_first() -> None:
    predictions = np.array([[2, 0, 12, 20], [0, 0, 10, 20]], float)  # IoU 0.67 and 1
    match = match_frame(predictions, [0.9, 0.1], TARGETS[:1])
    assert match.labels.tolist() == [TRUE_POSITIVE, FALSE_POSITIVE]


def test_flagged_predictions_are_ignored_unless_they_hit() -> None:
    predictions = np.array([[0, 0, 10, 20], [500, 0, 510, 20]], float)
    match = match_frame(predictions, [0.9, 0.8], TARGETS[:1], pred_is_ignored=[True, True])
    assert match.labels.tolist() == [TRUE_POSITIVE, IGNORED]


def test_empty_frames() -> None:
    match = match_frame(np.zeros((0, 4)), np.zeros(0), TARGETS)
    assert match.labels.shape == (0,)
    assert not match.is_found.any()
    match = match_frame(TARGETS, [0.5, 0.5], np.zeros((0, 4)))
    assert match.labels.tolist() == [FALSE_POSITIVE, FALSE_POSITIVE]


def test_scores_pooled_over_frames() -> None:
    frames = [
        match_frame(TARGETS, [0.9, 0.8], TARGETS, target_is_visible=[True, False]),
        match_frame(np.array([[500, 0, 510, 20]], float), [0.95], TARGETS, None, [True, True]),
    ]
    scores = score_detections(frames)
    assert scores.recall == pytest.approx(2 / 4)
    assert scores.recall_visible == pytest.approx(1 / 3)
    assert scores.precision == pytest.approx(2 / 3)
    # The false positive scores highest: precision 0, 1/2, 2/3 at recall 0, 1/4, 1/2; the
    # interpolated precision is 2/3 up to recall 1/2.
    assert scores.ap50 == pytest.approx(0.5 * 2 / 3)
    assert (scores.num_targets, scores.num_visible, scores.num_false_positives) == (4, 3, 1)


def test_visible_recall_is_nan_without_visibility_labels() -> None:
    scores = score_detections([match_frame(TARGETS, [0.9, 0.8], TARGETS)])
    assert np.isnan(scores.recall_visible)
    assert scores.recall == 1.0


@pytest.mark.parametrize(
    ("labels", "scores", "num_targets", "expected"),
    [
        ([1, 1], [0.9, 0.8], 2, 1.0),  # perfect
        ([0, 1], [0.9, 0.8], 1, 0.5),  # false positive first
        ([1, 0], [0.9, 0.8], 2, 0.5),  # half the targets found
        ([], [], 3, 0.0),  # no predictions
    ],
)
def test_average_precision(
    labels: list[int], scores: list[float], num_targets: int, expected: float
) -> None:
    assert average_precision(np.array(labels), np.array(scores), num_targets) == pytest.approx(
        expected
    )


def test_average_precision_without_targets_is_nan() -> None:
    assert np.isnan(average_precision(np.array([0]), np.array([0.5]), 0))
