"""ID switches and identity recall on hand-built cases."""

from __future__ import annotations

from pathlib import Path

import motmetrics
import numpy as np
import pytest

from posecast.clients.threedpw.evaluate import evaluate_sequence, evaluated_frames
from posecast.clients.threedpw.layout import load_sequence
from posecast.clients.threedpw.prediction import Prediction3DPW
from posecast.clients.threedpw.tracking import (
    TrackingConfig,
    count_id_switches,
    tracking_metrics,
    true_track_ids,
)
from posecast.errors import InvalidInputError


@pytest.mark.parametrize(
    ("track_ids", "switches"),
    [
        ([], 0),  # no frames
        ([5, 5, 5], 0),  # one track throughout
        ([5, -1, 5], 0),  # a filled-in frame is not a switch
        ([5, -1, 6], 1),  # a change across a filled-in frame is
        ([5, 6, 5], 2),  # switching back counts again
        ([-1, -1], 0),  # never tracked
    ],
)
def test_count_id_switches(track_ids: list[int], switches: int) -> None:
    assert count_id_switches(np.array(track_ids, dtype=np.int64)) == switches


def test_id_switches_agree_with_motmetrics() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        track_ids = rng.choice([-1, 1, 2, 3], size=30, p=[0.2, 0.6, 0.1, 0.1])
        accumulator = motmetrics.MOTAccumulator(auto_id=True)
        for track_id in track_ids:
            present = [] if track_id == -1 else [int(track_id)]
            accumulator.update([0], present, [[0.0]] if present else [[]])
        summary = motmetrics.metrics.create().compute(accumulator, metrics=["num_switches"])
        assert count_id_switches(track_ids) == int(summary["num_switches"].iloc[0])


def test_one_known_id_switch(threedpw_root: Path) -> None:
    # seq_b: one person, 8 frames. Track 7 is the person throughout; the prediction
    # follows it for 3 frames, fills in frame 3, then follows track 9, a person 2 m away.
    sequence = load_sequence(threedpw_root, "test", "seq_b")
    gt = sequence.joints_cam_m[0]
    far = gt + np.array([2.0, 0.0, 0.0])
    far[:3] = np.nan  # track 9 starts in frame 3
    track_ids = np.array([[7, 7, 7, -1, 9, 9, 9, 9]])
    joints = np.where((track_ids == 9)[..., None, None], far[None], gt[None])
    joints[0, 3] = joints[0, 2]  # filled in: repeated
    prediction = Prediction3DPW(joints, track_ids, {7: gt.copy(), 9: far})
    tracking = evaluate_sequence(prediction, sequence).tracking
    assert tracking.id_switches == 1
    assert tracking.num_person_frames == 8 and tracking.num_filled_frames == 1
    assert (tracking.num_identity_frames, tracking.num_identity_correct) == (8, 3)
    assert tracking.identity_recall == pytest.approx(3 / 8)


def test_hungarian_truth_and_swap(threedpw_root: Path) -> None:
    # seq_a: two persons; tracks 1 and 2 are persons 0 and 1 (with 1 cm noise); the
    # prediction swaps them from frame 8 on: one switch per person
    sequence = load_sequence(threedpw_root, "test", "seq_a")
    mask = evaluated_frames(sequence)
    gt = sequence.joints_cam_m
    noise = np.random.default_rng(0).normal(scale=0.01, size=gt.shape)
    tracks = {1: gt[0] + noise[0], 2: gt[1] + noise[1]}
    truth = true_track_ids(gt, mask, tracks, sequence.intrinsics, TrackingConfig())
    np.testing.assert_array_equal(truth, np.where(mask, [[1], [2]], -1))
    assigned = np.array([[1] * 8 + [2] * 4, [2] * 8 + [1] * 4])
    metrics = tracking_metrics(assigned, mask, true_ids=truth)
    assert metrics.id_switches == 2
    # correct: person 0 frames 0-7 but 2 (7), person 1 frames 0-7 but 5 and 6 (6), of 21
    assert (metrics.num_identity_correct, metrics.num_identity_frames) == (13, 21)


def test_far_tracks_are_no_ones_identity(threedpw_root: Path) -> None:
    sequence = load_sequence(threedpw_root, "test", "seq_b")
    gt = sequence.joints_cam_m
    tracks = {4: gt[0] + np.array([0.6, 0.0, 0.0])}  # 60 cm to the side, ~1/3 box size away
    mask = evaluated_frames(sequence)
    strict = true_track_ids(gt, mask, tracks, sequence.intrinsics, TrackingConfig(0.1))
    lenient = true_track_ids(gt, mask, tracks, sequence.intrinsics, TrackingConfig(1.0))
    assert np.all(strict == -1) and np.all(lenient == 4)
    metrics = tracking_metrics(np.full((1, 8), 4), mask, true_ids=strict)
    assert metrics.num_identity_frames == 0 and np.isnan(metrics.identity_recall)


def test_without_all_tracks_only_switches(threedpw_root: Path) -> None:
    sequence = load_sequence(threedpw_root, "test", "seq_b")
    prediction = Prediction3DPW(sequence.joints_cam_m, np.array([[1, 1, 2, 2, 2, 2, 2, 2]]))
    tracking = evaluate_sequence(prediction, sequence).tracking
    assert tracking.id_switches == 1 and tracking.identity_recall is None


def test_tracking_config_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="max_normalized_distance must be > 0"):
        TrackingConfig(0.0)
