"""Tracking scores through py-motmetrics, with don't-care boxes."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.tracking import (
    OVERALL,
    TrackingFrame,
    score_sequences,
    score_tracking,
    unclaimed_in_dont_care,
)

A = np.array([[0, 0, 10, 20]], float)
B = np.array([[100, 0, 110, 20]], float)
FAR = np.array([[500, 0, 510, 20]], float)
NONE = np.zeros((0, 4))


def frame(target_ids, target_boxes, hypothesis_ids, hypothesis_boxes, dont_care=NONE):
    return TrackingFrame(
        np.array(target_ids),
        np.concatenate(target_boxes) if target_boxes else NONE,
        np.array(hypothesis_ids),
        np.concatenate(hypothesis_boxes) if hypothesis_boxes else NONE,
        dont_care,
    )


def test_perfect_tracking() -> None:
    frames = [frame([1, 2], [A, B], [7, 8], [A, B]) for _ in range(3)]
    scores = score_tracking(frames)
    assert scores.mota == pytest.approx(1.0)
    assert scores.idf1 == pytest.approx(1.0)
    assert scores.num_switches == 0
    assert (scores.num_targets, scores.num_unique_targets) == (6, 2)


def test_an_identity_switch_and_a_fragmentation() -> None:
    frames = [
        frame([1], [A], [7], [A]),
        frame([1], [A], [], []),  # missed: the coverage is interrupted
        frame([1], [A], [9], [A]),  # found again under another id
    ]
    scores = score_tracking(frames)
    assert scores.num_switches == 1
    assert scores.num_fragmentations == 1
    assert scores.num_misses == 1
    assert scores.mota == pytest.approx(1 - (1 + 1) / 3)
    assert scores.recall == pytest.approx(2 / 3)


def test_false_positives_and_dont_care() -> None:
    frames = [
        frame([1], [A], [7, 8], [A, FAR]),  # FAR is a false positive
        frame([1], [A], [7, 8], [A, FAR], dont_care=FAR),  # ... here it is ignored
    ]
    scores = score_tracking(frames)
    assert scores.num_false_positives == 1
    assert scores.num_dropped == 1
    assert scores.precision == pytest.approx(2 / 3)


def test_targets_claim_hypotheses_before_dont_care() -> None:
    hypotheses = np.concatenate([A, FAR])
    dropped = unclaimed_in_dont_care(hypotheses, A, np.concatenate([A, FAR]))
    assert dropped.tolist() == [False, True]
    assert unclaimed_in_dont_care(NONE, A, A).shape == (0,)


def test_several_sequences_and_their_overall() -> None:
    perfect = [frame([1], [A], [7], [A]) for _ in range(2)]
    missed = [frame([1], [A], [], []) for _ in range(2)]
    scores = score_sequences({"a": perfect, "b": missed})
    assert set(scores) == {"a", "b", OVERALL}
    assert scores["a"].mota == pytest.approx(1.0) and scores["b"].recall == 0.0
    assert scores[OVERALL].num_targets == 4
    assert scores[OVERALL].mota == pytest.approx(0.5)
