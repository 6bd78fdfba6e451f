"""posecast prediction pickles: writer output passes the strict check; violations fail it."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from posecast.clients.threedpw.layout import load_sequence
from posecast.clients.threedpw.prediction import (
    Prediction3DPW,
    check_prediction,
    read_prediction,
    write_prediction,
)
from posecast.errors import InvalidInputError


@pytest.fixture
def sequence(threedpw_root: Path):
    return load_sequence(threedpw_root, "test", "seq_a")


def _valid_dict(sequence) -> dict:
    track_ids = np.tile(np.array([3, 4]), (12, 1)).T.copy()
    track_ids[0, 5] = -1
    all_tracks = {3: sequence.joints_cam_m[0].copy(), 4: sequence.joints_cam_m[1].copy()}
    all_tracks[3][5] = np.nan
    return Prediction3DPW(sequence.joints_cam_m, track_ids, all_tracks).to_pickle_dict()


def test_written_prediction_passes_the_check(tmp_path: Path, sequence) -> None:
    path = write_prediction(
        tmp_path / "out", "seq_a", check_prediction(_valid_dict(sequence), sequence)
    )
    assert path == tmp_path / "out" / "seq_a.pkl"
    with path.open("rb") as file:
        raw = pickle.load(file, encoding="latin1")  # as the official evaluation loads it
    assert set(raw) == {"jointPositions", "trackIds", "filledFrames", "allTracks"}
    assert raw["jointPositions"].shape == (2, 12, 24, 3)
    np.testing.assert_array_equal(raw["filledFrames"], [1, 0])
    prediction = read_prediction(path, sequence)
    np.testing.assert_array_equal(prediction.joints_cam_m, sequence.joints_cam_m)
    assert prediction.track_ids[0, 5] == -1 and sorted(prediction.all_tracks) == [3, 4]


def test_minimal_prediction_has_only_joint_positions(tmp_path: Path, sequence) -> None:
    path = write_prediction(
        tmp_path, "seq_a", Prediction3DPW(sequence.joints_cam_m.astype(np.float32))
    )
    with path.open("rb") as file:
        assert set(pickle.load(file)) == {"jointPositions"}
    assert read_prediction(path, sequence).track_ids is None


def _set(key, value_of):
    def change(data, sequence):
        data[key] = value_of(data, sequence)

    return change


def _nan_at(person, frame):
    def change(data, sequence):
        data["jointPositions"] = data["jointPositions"].copy()
        data["jointPositions"][person, frame, 3, 1] = np.nan

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # the required key is absent
        (lambda data, seq: data.pop("jointPositions"), "missing key 'jointPositions'"),
        # one person missing
        (
            _set("jointPositions", lambda d, s: d["jointPositions"][:1]),
            "has 1 persons, the ground truth has 2",
        ),
        # last frame missing
        (
            _set("jointPositions", lambda d, s: d["jointPositions"][:, :-1]),
            "has 11 frames, the ground truth has 12",
        ),
        # 17 joints instead of SMPL's 24
        (
            _set("jointPositions", lambda d, s: d["jointPositions"][:, :, :17]),
            r"expected shape \(2, 12, 24, 3\)",
        ),
        # flattened (N, 72) as in the ground-truth files
        (
            _set("jointPositions", lambda d, s: d["jointPositions"].reshape(2, 12, 72)),
            r"got \(2, 12, 72\)",
        ),
        # integers
        (
            _set("jointPositions", lambda d, s: np.zeros((2, 12, 24, 3), int)),
            "must be floating point",
        ),
        # a NaN (a frame not filled in)
        (_nan_at(1, 7), "not finite for 1 person-frames, first: person 1 frame 7"),
        # track ids of the wrong shape
        (
            _set("trackIds", lambda d, s: d["trackIds"][:, :5]),
            r"track ids expected shape \(2, 12\)",
        ),
        # track ids below -1
        (_set("trackIds", lambda d, s: d["trackIds"] - 5), "track ids must be >= 0, or -1"),
        # float track ids
        (_set("trackIds", lambda d, s: d["trackIds"].astype(float)), "'trackIds' must be integers"),
        # filled count disagreeing with the track ids
        (_set("filledFrames", lambda d, s: np.array([0, 0])), "'filledFrames' disagrees"),
        # a track with a partly missing pose
        (
            _set(
                "allTracks",
                lambda d, s: {
                    3: np.where(np.arange(24)[None, :, None] < 3, np.nan, 0.0)
                    + np.zeros((12, 1, 3))
                },
            ),
            "track 3 must be all finite or all NaN in each frame",
        ),
        # a track of the wrong length
        (
            _set("allTracks", lambda d, s: {3: np.zeros((11, 24, 3))}),
            r"track 3 expected shape \(12, 24, 3\)",
        ),
        # allTracks not a dict
        (_set("allTracks", lambda d, s: [np.zeros((12, 24, 3))]), "'allTracks' must be a dict"),
    ],
    ids=[
        "no-joint-positions",
        "person-missing",
        "frame-missing",
        "17-joints",
        "flattened",
        "integers",
        "nan",
        "track-ids-shape",
        "track-ids-below-minus-one",
        "float-track-ids",
        "filled-frames-disagree",
        "partial-track-pose",
        "track-length",
        "all-tracks-not-dict",
    ],
)
def test_violations_fail_the_check(sequence, change, message: str) -> None:
    data = _valid_dict(sequence)
    change(data, sequence)
    with pytest.raises(InvalidInputError, match=message) as error:
        check_prediction(data, sequence, source="out/seq_a.pkl")
    assert "prediction for sequence seq_a (out/seq_a.pkl)" in str(error.value)


def test_not_a_dict(sequence) -> None:
    with pytest.raises(InvalidInputError, match="expected a dict, got list"):
        check_prediction([1, 2], sequence)
