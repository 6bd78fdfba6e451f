"""Tracking-quality figures on 3DPW: ID switches and identity recall.

The challenge does not score identities, but a tracker's users need to know how often the
person they follow changes identity. Both figures are computed per ground-truth person over
its evaluated frames (those the pose metrics count), from the optional keys of posecast's
prediction pickles (``clients.threedpw.prediction``):

- **ID switches** (needs ``trackIds``): per person, walk its evaluated frames in order, skip
  frames whose track id is -1 (pose filled in, no track), and count the frames whose track id
  differs from the last track id seen. This is motmetrics' definition of a switch (a ground
  truth object matched to a different hypothesis than at its last match) with the assigned
  track as the match.
- **Identity recall** (needs ``trackIds`` and ``allTracks``): per evaluated frame, find the
  track that truly is each person: project the 24 joints of the ground truth and of every
  track present in that frame with the intrinsics, take the mean 2D joint distance divided
  by the size of the person's ground-truth 2D box (the larger side of the box around the
  projected ground-truth joints), match persons and tracks one to one with the Hungarian
  algorithm on that cost, and keep pairs whose cost is <= ``max_normalized_distance``.
  Identity recall is the fraction of person-frames with a true track whose assigned track
  (``trackIds``) is that true track. Person-frames with no true track (no track near the
  person: a detection miss, not an identity error) are left out and counted separately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from posecast.errors import InvalidInputError

NO_TRACK = -1


@dataclass(frozen=True)
class TrackingConfig:
    """How a track is judged to truly be a ground-truth person.

    Attributes:
        max_normalized_distance: largest mean 2D joint distance, as a fraction of the
            person's 2D box size, at which a track still counts as that person. Raising it
            accepts sloppier poses as the right person (and, in crowds, neighbours); lowering
            it leaves more person-frames without a true track.
    """

    max_normalized_distance: float = 0.5

    def __post_init__(self) -> None:
        if not self.max_normalized_distance > 0:
            raise InvalidInputError(
                f"max_normalized_distance must be > 0, got {self.max_normalized_distance}"
            )


@dataclass(frozen=True)
class TrackingMetrics:
    """Identity figures over a set of evaluated person-frames.

    Attributes:
        id_switches: changes of assigned track id, summed over persons.
        num_person_frames: evaluated person-frames.
        num_filled_frames: of those, frames with track id -1 (pose filled in).
        num_identity_frames: of those, frames where some track truly is the person (None
            without ``allTracks``).
        num_identity_correct: of those, frames whose assigned track is that track (None
            without ``allTracks``).
    """

    id_switches: int
    num_person_frames: int
    num_filled_frames: int
    num_identity_frames: int | None
    num_identity_correct: int | None

    @property
    def identity_recall(self) -> float | None:
        """Correct / identity frames; None without ``allTracks``, NaN with no identity frame."""
        if self.num_identity_frames is None or self.num_identity_correct is None:
            return None
        if self.num_identity_frames == 0:
            return math.nan
        return self.num_identity_correct / self.num_identity_frames

    def to_dict(self) -> dict[str, float | int | None]:
        recall = self.identity_recall
        return {
            "id_switches": self.id_switches,
            "identity_recall": None if recall is None or math.isnan(recall) else recall,
            "num_person_frames": self.num_person_frames,
            "num_filled_frames": self.num_filled_frames,
            "num_identity_frames": self.num_identity_frames,
            "num_identity_correct": self.num_identity_correct,
        }

    @staticmethod
    def combine(parts: Sequence[TrackingMetrics]) -> TrackingMetrics:
        """Sum over sequences; identity counts over the parts that have them."""
        with_identity = [part for part in parts if part.num_identity_frames is not None]
        return TrackingMetrics(
            id_switches=sum(part.id_switches for part in parts),
            num_person_frames=sum(part.num_person_frames for part in parts),
            num_filled_frames=sum(part.num_filled_frames for part in parts),
            num_identity_frames=(
                sum(part.num_identity_frames or 0 for part in with_identity)
                if with_identity
                else None
            ),
            num_identity_correct=(
                sum(part.num_identity_correct or 0 for part in with_identity)
                if with_identity
                else None
            ),
        )


def count_id_switches(track_ids: np.ndarray) -> int:
    """Changes of track id along one person's frames, ignoring -1 (no track).

    Args:
        track_ids: (F,) int track ids in frame order.
    """
    tracked = track_ids[track_ids != NO_TRACK]
    return int(np.count_nonzero(tracked[1:] != tracked[:-1]))


def project_to_image_px(points_cam_m: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection (..., 3) camera-frame metres -> (..., 2) pixels; NaN if z <= 0."""
    z = points_cam_m[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = np.where(z > 0, points_cam_m[..., :2] / z, np.nan)
    return normalized @ intrinsics[:2, :2].T + intrinsics[:2, 2]


def true_track_ids(
    gt_joints_cam_m: np.ndarray,
    evaluated: np.ndarray,
    all_tracks: Mapping[int, np.ndarray],
    intrinsics: np.ndarray,
    config: TrackingConfig,
) -> np.ndarray:
    """Which track truly is each ground-truth person in each evaluated frame.

    Args:
        gt_joints_cam_m: (P, N, J, 3) ground-truth joints, camera frame, metres.
        evaluated: (P, N) bool, the person-frames to decide.
        all_tracks: track id -> (N, J, 3) camera-frame joints, NaN where absent.
        intrinsics: (3, 3) K, pixels.
        config: the matching threshold.

    Returns:
        (P, N) int64 track ids; -1 where the frame is not evaluated or no track is near enough.
    """
    persons, frames = evaluated.shape
    result = np.full((persons, frames), NO_TRACK, dtype=np.int64)
    if not all_tracks:
        return result
    track_id_list = np.array(sorted(all_tracks), dtype=np.int64)
    tracks_px = project_to_image_px(
        np.stack([all_tracks[int(track_id)] for track_id in track_id_list]), intrinsics
    )  # (T, N, J, 2)
    gt_px = project_to_image_px(gt_joints_cam_m, intrinsics)  # (P, N, J, 2)
    # Larger side of the box around the projected ground truth; NaN if a joint is behind the camera.
    box_size_px = np.max(gt_px.max(axis=2) - gt_px.min(axis=2), axis=-1)  # (P, N)
    for frame in range(frames):
        person_indices = np.flatnonzero(evaluated[:, frame])
        if person_indices.size == 0:
            continue
        distances = np.linalg.norm(
            gt_px[person_indices, frame][:, None] - tracks_px[None, :, frame], axis=-1
        ).mean(axis=-1)  # (p, T); NaN for absent tracks or joints behind the camera
        with np.errstate(divide="ignore", invalid="ignore"):
            cost = distances / box_size_px[person_indices, frame][:, None]
        cost = np.where(np.isfinite(cost), cost, np.inf)
        gated = np.where(cost <= config.max_normalized_distance, cost, np.inf)
        if not np.any(np.isfinite(gated)):
            continue
        # Infeasible pairs get a cost above any feasible total, so they are used last.
        big = 1.0 + np.sum(np.where(np.isfinite(gated), gated, 0.0))
        rows, cols = linear_sum_assignment(np.where(np.isfinite(gated), gated, big))
        for row, col in zip(rows, cols, strict=True):
            if np.isfinite(gated[row, col]):
                result[person_indices[row], frame] = track_id_list[col]
    return result


def tracking_metrics(
    track_ids: np.ndarray,
    evaluated: np.ndarray,
    *,
    true_ids: np.ndarray | None = None,
) -> TrackingMetrics:
    """ID switches and identity recall of one sequence.

    Args:
        track_ids: (P, N) int assigned track per ground-truth person and frame, -1 if filled.
        evaluated: (P, N) bool evaluated person-frames.
        true_ids: (P, N) int from `true_track_ids`, or None when ``allTracks`` is unavailable.
    """
    switches = sum(
        count_id_switches(track_ids[person][evaluated[person]]) for person in range(len(track_ids))
    )
    assigned = track_ids[evaluated]
    identity_frames = identity_correct = None
    if true_ids is not None:
        truth = true_ids[evaluated]
        has_truth = truth != NO_TRACK
        identity_frames = int(np.count_nonzero(has_truth))
        identity_correct = int(np.count_nonzero(has_truth & (assigned == truth)))
    return TrackingMetrics(
        id_switches=int(switches),
        num_person_frames=int(assigned.size),
        num_filled_frames=int(np.count_nonzero(assigned == NO_TRACK)),
        num_identity_frames=identity_frames,
        num_identity_correct=identity_correct,
    )
