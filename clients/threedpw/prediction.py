"""posecast's 3DPW prediction pickles: writing them, reading them, checking them strictly.

One pickle per sequence, ``{name}.pkl`` (pickle protocol 2, loadable by Python 2 and by
``pickle.load(f, encoding="latin1")`` as the official evaluation does), a dict with:

- ``jointPositions``: float (P, N, 24, 3), SMPL joints in the camera frame, metres; persons in
  the order of the ground truth, every frame present (finite), the only key the official
  challenge evaluation reads.
- ``trackIds`` (optional): int64 (P, N), the posecast track that supplied each person's pose
  in each frame, -1 where no track did and the pose was filled in (e.g. repeated from the
  last frame).
- ``filledFrames`` (optional): int64 (P,), per person the number of frames with trackIds -1.
- ``allTracks`` (optional): dict track id -> float (N, 24, 3), the camera-frame joints of every
  track posecast produced, NaN in frames where that track is absent; used to measure
  identity recall (see ``clients.threedpw.tracking``).

For an official submission, write predictions without the optional keys.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.clients.threedpw.layout import SMPL_JOINT_COUNT, Sequence3DPW, load_pickle
from posecast.errors import InvalidInputError

PICKLE_PROTOCOL = 2
"""Protocol 2 keeps prediction files loadable by the official (Python 2 era) tooling."""


@dataclass(frozen=True)
class Prediction3DPW:
    """posecast's prediction for one 3DPW sequence.

    Attributes:
        joints_cam_m: (P, N, 24, 3) SMPL joints per ground-truth person and frame, camera
            frame, metres, all finite.
        track_ids: (P, N) int64 track id behind each pose, -1 where filled in; or None.
        all_tracks: track id -> (N, 24, 3) camera-frame joints, metres, NaN where the track is
            absent; or None.
    """

    joints_cam_m: np.ndarray
    track_ids: np.ndarray | None = None
    all_tracks: Mapping[int, np.ndarray] | None = None

    def __post_init__(self) -> None:
        _check_fields(self.joints_cam_m, self.track_ids, self.all_tracks, "prediction")

    @property
    def num_persons(self) -> int:
        return int(self.joints_cam_m.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.joints_cam_m.shape[1])

    def to_pickle_dict(self) -> dict[str, Any]:
        """The on-disk dict (keys as in the module docstring)."""
        data: dict[str, Any] = {"jointPositions": np.asarray(self.joints_cam_m)}
        if self.track_ids is not None:
            data["trackIds"] = self.track_ids.astype(np.int64)
            data["filledFrames"] = np.sum(self.track_ids == -1, axis=1).astype(np.int64)
        if self.all_tracks is not None:
            data["allTracks"] = {
                int(key): np.asarray(value) for key, value in self.all_tracks.items()
            }
        return data


def write_prediction(directory: Path, name: str, prediction: Prediction3DPW) -> Path:
    """Write ``directory/{name}.pkl`` (creating the directory) and return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pkl"
    with path.open("wb") as file:
        pickle.dump(prediction.to_pickle_dict(), file, protocol=PICKLE_PROTOCOL)
    return path


def read_prediction(path: Path, sequence: Sequence3DPW) -> Prediction3DPW:
    """Load a prediction pickle and check it strictly against its ground-truth sequence.

    Raises:
        InvalidInputError: unreadable file or any violation `check_prediction` reports.
    """
    return check_prediction(load_pickle(Path(path)), sequence, source=str(path))


def check_prediction(
    data: Mapping[str, Any], sequence: Sequence3DPW, *, source: str | None = None
) -> Prediction3DPW:
    """Check a prediction dict against its sequence; return it typed.

    Checks: ``jointPositions`` present, a floating-point array of shape (P, N, 24, 3) with P
    and N those of the ground truth, every value finite; the optional keys as documented
    in the module docstring.

    Raises:
        InvalidInputError: naming the sequence (and ``source``) and what is wrong.
    """
    where = f"prediction for sequence {sequence.name}" + (f" ({source})" if source else "")
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where}: expected a dict, got {type(data).__name__}")
    if "jointPositions" not in data:
        raise InvalidInputError(f"{where}: missing key 'jointPositions'")
    joints = np.asarray(data["jointPositions"])
    expected = (sequence.num_persons, sequence.num_frames, SMPL_JOINT_COUNT, 3)
    if joints.ndim == 4 and joints.shape[0] != expected[0]:
        raise InvalidInputError(
            f"{where}: 'jointPositions' has {joints.shape[0]} persons, the ground truth has "
            f"{expected[0]}"
        )
    if joints.ndim == 4 and joints.shape[1] != expected[1]:
        raise InvalidInputError(
            f"{where}: 'jointPositions' has {joints.shape[1]} frames, the ground truth has "
            f"{expected[1]} (every frame must be present)"
        )
    if joints.shape != expected:
        raise InvalidInputError(
            f"{where}: 'jointPositions' expected shape {expected} (P, N, 24, 3), got {joints.shape}"
        )
    track_ids = _optional_track_ids(data, where)
    all_tracks = _optional_all_tracks(data, where)
    _check_fields(joints, track_ids, all_tracks, where)
    if "filledFrames" in data and track_ids is not None:
        filled = np.asarray(data["filledFrames"])
        if filled.shape != (expected[0],) or np.any(filled != np.sum(track_ids == -1, axis=1)):
            raise InvalidInputError(f"{where}: 'filledFrames' disagrees with 'trackIds'")
    return Prediction3DPW(joints_cam_m=joints, track_ids=track_ids, all_tracks=all_tracks)


def _optional_track_ids(data: Mapping[str, Any], where: str) -> np.ndarray | None:
    if "trackIds" not in data:
        return None
    track_ids = np.asarray(data["trackIds"])
    if not np.issubdtype(track_ids.dtype, np.integer):
        raise InvalidInputError(f"{where}: 'trackIds' must be integers, got {track_ids.dtype}")
    return track_ids.astype(np.int64)


def _optional_all_tracks(data: Mapping[str, Any], where: str) -> dict[int, np.ndarray] | None:
    if "allTracks" not in data:
        return None
    tracks = data["allTracks"]
    if not isinstance(tracks, Mapping):
        raise InvalidInputError(f"{where}: 'allTracks' must be a dict, got {type(tracks).__name__}")
    if not all(isinstance(key, (int, np.integer)) for key in tracks):
        raise InvalidInputError(f"{where}: 'allTracks' keys must be integer track ids")
    return {int(key): np.asarray(value) for key, value in tracks.items()}


def _check_fields(
    joints: np.ndarray,
    track_ids: np.ndarray | None,
    all_tracks: Mapping[int, np.ndarray] | None,
    where: str,
) -> None:
    """Checks that need no ground truth: dtypes, shapes consistent with ``joints``, values."""
    if joints.ndim != 4 or joints.shape[2:] != (SMPL_JOINT_COUNT, 3):
        raise InvalidInputError(f"{where}: joints expected shape (P, N, 24, 3), got {joints.shape}")
    if not np.issubdtype(joints.dtype, np.floating):
        raise InvalidInputError(f"{where}: joints must be floating point, got {joints.dtype}")
    if not np.all(np.isfinite(joints)):
        persons, frames = np.nonzero(~np.all(np.isfinite(joints), axis=(2, 3)))
        raise InvalidInputError(
            f"{where}: joints are not finite for {len(persons)} person-frames, first: person "
            f"{persons[0]} frame {frames[0]} (every frame must be filled in)"
        )
    persons, frames = joints.shape[:2]
    if track_ids is not None:
        if track_ids.shape != (persons, frames):
            raise InvalidInputError(
                f"{where}: track ids expected shape {(persons, frames)}, got {track_ids.shape}"
            )
        if np.any(track_ids < -1):
            raise InvalidInputError(f"{where}: track ids must be >= 0, or -1 for filled-in poses")
    if all_tracks is not None:
        for track_id, track_joints in all_tracks.items():
            _check_track(track_id, np.asarray(track_joints), frames, where)


def _check_track(track_id: int, track_joints: np.ndarray, frames: int, where: str) -> None:
    if track_joints.shape != (frames, SMPL_JOINT_COUNT, 3):
        raise InvalidInputError(
            f"{where}: track {track_id} expected shape {(frames, SMPL_JOINT_COUNT, 3)}, "
            f"got {track_joints.shape}"
        )
    if not np.issubdtype(track_joints.dtype, np.floating):
        raise InvalidInputError(f"{where}: track {track_id} must be floating point")
    finite = np.isfinite(track_joints).all(axis=(1, 2))
    absent = np.isnan(track_joints).all(axis=(1, 2))
    if not np.all(finite | absent):
        raise InvalidInputError(
            f"{where}: track {track_id} must be all finite or all NaN in each frame"
        )
