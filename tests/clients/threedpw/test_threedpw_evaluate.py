"""Evaluating prediction directories against a synthetic 3DPW root."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from posecast.clients.threedpw.evaluate import evaluate_split, evaluated_frames
from posecast.clients.threedpw.layout import load_sequence
from posecast.clients.threedpw.prediction import Prediction3DPW, write_prediction
from posecast.errors import InvalidInputError


def _write_predictions(root: Path, out: Path, offsets_m: dict[str, float]) -> None:
    """Ground truth with every non-root joint moved by the given offset along x, and
    garbage (finite) in the person-frames that are not evaluated."""
    for name, offset_m in offsets_m.items():
        sequence = load_sequence(root, "test", name)
        joints = sequence.joints_cam_m.copy()
        joints[:, :, 1:, 0] += offset_m
        joints[~evaluated_frames(sequence)] = 1e3
        write_prediction(out, name, Prediction3DPW(joints))


def test_evaluated_frames(threedpw_root: Path) -> None:
    mask = evaluated_frames(load_sequence(threedpw_root, "test", "seq_a"))
    expected = np.ones((2, 12), bool)
    expected[0, 2] = False  # campose_valid False
    expected[1, 5:7] = False  # 2D pose all zeros
    np.testing.assert_array_equal(mask, expected)


def test_perfect_predictions(threedpw_root: Path, tmp_path: Path) -> None:
    _write_predictions(threedpw_root, tmp_path / "test", {"seq_a": 0.0, "seq_b": 0.0})
    result = evaluate_split(tmp_path, threedpw_root, "test")
    assert [sequence.name for sequence in result.sequences] == ["seq_a", "seq_b"]
    assert [sequence.pose.num_person_frames for sequence in result.sequences] == [21, 8]
    overall = result.overall
    assert (overall.mpjpe_mm, overall.pck_percent, overall.auc) == (0.0, 100.0, 1.0)
    assert overall.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert overall.num_person_frames == 29
    assert result.overall_tracking is None


def test_overall_weights_person_frames(threedpw_root: Path, tmp_path: Path) -> None:
    # as the official script: the mean over all evaluated person-frames, not of sequences
    _write_predictions(threedpw_root, tmp_path, {"seq_a": 0.02, "seq_b": 0.08})
    result = evaluate_split(tmp_path, threedpw_root, "test")
    seq_a, seq_b = (sequence.pose.mpjpe_mm for sequence in result.sequences)
    assert seq_a == pytest.approx(20.0 * 23 / 24) and seq_b == pytest.approx(80.0 * 23 / 24)
    assert result.overall.mpjpe_mm == pytest.approx((21 * seq_a + 8 * seq_b) / 29)
    assert result.overall.pck_percent == pytest.approx(100.0 * 21 / 29)


def test_flat_and_split_prediction_layouts(threedpw_root: Path, tmp_path: Path) -> None:
    _write_predictions(threedpw_root, tmp_path / "flat", {"seq_a": 0.0, "seq_b": 0.0})
    _write_predictions(threedpw_root, tmp_path / "nested" / "test", {"seq_a": 0.0, "seq_b": 0.0})
    for directory in ("flat", "nested"):
        assert evaluate_split(tmp_path / directory, threedpw_root).overall.mpjpe_mm == 0.0


def test_missing_sequences_are_named(threedpw_root: Path, tmp_path: Path) -> None:
    _write_predictions(threedpw_root, tmp_path, {"seq_a": 0.0})
    with pytest.raises(InvalidInputError, match="for 1 of 2 sequences of split test: seq_b"):
        evaluate_split(tmp_path, threedpw_root, "test")


def test_subset_of_sequences(threedpw_root: Path, tmp_path: Path) -> None:
    _write_predictions(threedpw_root, tmp_path, {"seq_b": 0.0})
    result = evaluate_split(tmp_path, threedpw_root, "test", sequence_names=["seq_b"])
    assert [sequence.name for sequence in result.sequences] == ["seq_b"]
    with pytest.raises(InvalidInputError, match=r"has no sequences \['seq_x'\]"):
        evaluate_split(tmp_path, threedpw_root, "test", sequence_names=["seq_x"])


def test_mismatched_prediction_names_the_sequence(threedpw_root: Path, tmp_path: Path) -> None:
    _write_predictions(threedpw_root, tmp_path, {"seq_a": 0.0})
    sequence_b = load_sequence(threedpw_root, "test", "seq_b")
    write_prediction(tmp_path, "seq_b", Prediction3DPW(sequence_b.joints_cam_m[:, :7]))
    with pytest.raises(
        InvalidInputError, match=r"sequence seq_b .*has 7 frames, the ground truth has 8"
    ):
        evaluate_split(tmp_path, threedpw_root, "test")


def test_non_finite_ground_truth_only_matters_where_scored(
    threedpw_root: Path, tmp_path: Path
) -> None:
    _write_predictions(threedpw_root, tmp_path, {"seq_a": 0.0, "seq_b": 0.0})
    path = threedpw_root / "sequenceFiles" / "test" / "seq_a.pkl"
    with path.open("rb") as file:
        data = pickle.load(file, encoding="latin1")
    data["jointPositions"][0][2] = np.nan  # person 0, frame 2: not scored (camera invalid)
    with path.open("wb") as file:
        pickle.dump(data, file, protocol=2)
    assert evaluate_split(tmp_path, threedpw_root).overall.mpjpe_mm == 0.0
    data["jointPositions"][0][3] = np.nan  # person 0, frame 3: scored
    with path.open("wb") as file:
        pickle.dump(data, file, protocol=2)
    with pytest.raises(InvalidInputError, match=r"sequence seq_a: .* not finite in 1 scored"):
        evaluate_split(tmp_path, threedpw_root)


@pytest.mark.parametrize(
    ("pred", "gt", "message"),
    [
        ("missing", "3DPW", "prediction directory .* is not a directory"),
        ("pred", "nowhere", "3DPW root .* is not a directory"),
    ],
)
def test_missing_directories(
    threedpw_root: Path, tmp_path: Path, pred: str, gt: str, message: str
) -> None:
    (tmp_path / "pred").mkdir()
    with pytest.raises(InvalidInputError, match=message):
        evaluate_split(tmp_path / pred, threedpw_root.parent / gt, "test")
