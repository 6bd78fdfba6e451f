"""Multi-object tracking scores (MOTA, IDF1, ID switches, ...) with py-motmetrics.

Boxes match at IoU >= 0.5 (MOTChallenge). Don't-care boxes (MOT17 classes 2, 7, 8, 12,
PETS09 ``consider == 0``) are handled as TrackEval's MOTChallenge preprocessing does, except
that the targets have the first claim: per frame, hypotheses are assigned to the targets
(Hungarian on IoU); those left over that overlap a don't-care box are removed before scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from realdata.boxes import box_iou, padded_landmark_boxes_xyxy
from realdata.mot import MotSequence

MOTA_IOU = 0.5


def _motmetrics() -> ModuleType:
    """py-motmetrics 1.4.0 calls ``np.asfarray``, which numpy 2 removed: restore it first."""
    if not hasattr(np, "asfarray"):
        np.asfarray = lambda a, dtype=float: np.asarray(a, dtype)  # type: ignore[attr-defined]
    import motmetrics

    return motmetrics


@dataclass(frozen=True)
class TrackingFrame:
    """One frame's labels and tracker output.

    Attributes:
        target_ids: (G,) int ids of the targets.
        target_xyxy: (G, 4) their boxes, pixels.
        hypothesis_ids: (H,) int track ids.
        hypothesis_xyxy: (H, 4) track boxes, pixels.
        dont_care_xyxy: (D, 4) boxes whose unclaimed hypotheses are neither right nor wrong.
    """

    target_ids: np.ndarray
    target_xyxy: np.ndarray
    hypothesis_ids: np.ndarray
    hypothesis_xyxy: np.ndarray
    dont_care_xyxy: np.ndarray


def unclaimed_in_dont_care(
    hypothesis_xyxy: np.ndarray,
    target_xyxy: np.ndarray,
    dont_care_xyxy: np.ndarray,
    iou_threshold: float = MOTA_IOU,
) -> np.ndarray:
    """(H,) bool: hypotheses that no target claims (Hungarian on IoU, pairs below the
    threshold dropped) and that overlap a don't-care box by at least the threshold."""
    iou = box_iou(hypothesis_xyxy, target_xyxy)  # (H, G)
    claimed = np.zeros(len(iou), bool)
    if iou.size:
        rows, cols = linear_sum_assignment(iou, maximize=True)
        claimed[rows[iou[rows, cols] >= iou_threshold]] = True
    overlaps = (box_iou(hypothesis_xyxy, dont_care_xyxy) >= iou_threshold).any(axis=1)
    return ~claimed & overlaps


@dataclass(frozen=True)
class TrackingScores:
    """CLEAR MOT and identity figures (py-motmetrics' definitions).

    Attributes:
        mota: 1 - (misses + false positives + ID switches) / targets.
        idf1: identity F1 (global one-to-one track/target assignment).
        num_switches: ID switches. num_fragmentations: a target's coverage interrupted.
        recall, precision: of the per-frame matches.
        num_targets, num_misses, num_false_positives: counts over all frames.
        num_unique_targets, mostly_tracked: targets, and those covered >= 80 % of their life.
        num_dropped: hypotheses removed as don't-care.
    """

    mota: float
    idf1: float
    num_switches: int
    num_fragmentations: int
    recall: float
    precision: float
    num_targets: int
    num_misses: int
    num_false_positives: int
    num_unique_targets: int
    mostly_tracked: int
    num_dropped: int


_METRICS = {
    "mota": "mota",
    "idf1": "idf1",
    "num_switches": "num_switches",
    "num_fragmentations": "num_fragmentations",
    "recall": "recall",
    "precision": "precision",
    "num_targets": "num_objects",
    "num_misses": "num_misses",
    "num_false_positives": "num_false_positives",
    "num_unique_targets": "num_unique_objects",
    "mostly_tracked": "mostly_tracked",
}


def _accumulate(frames: Iterable[TrackingFrame], iou_threshold: float) -> tuple[Any, int]:
    """A py-motmetrics accumulator of the frames, and the number of dropped hypotheses."""
    mm = _motmetrics()
    accumulator = mm.MOTAccumulator(auto_id=True)
    dropped = 0
    for frame in frames:
        target_xyxy = np.asarray(frame.target_xyxy, np.float64).reshape(-1, 4)
        hypothesis_xyxy = np.asarray(frame.hypothesis_xyxy, np.float64).reshape(-1, 4)
        drop = unclaimed_in_dont_care(
            hypothesis_xyxy, target_xyxy, frame.dont_care_xyxy, iou_threshold
        )
        dropped += int(drop.sum())
        keep = ~drop
        iou = box_iou(target_xyxy, hypothesis_xyxy[keep])
        distances = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)  # (G, H): NaN = no match
        accumulator.update(
            [int(i) for i in frame.target_ids],
            [int(i) for i in np.asarray(frame.hypothesis_ids)[keep]],
            distances,
        )
    return accumulator, dropped


OVERALL = "OVERALL"


def score_sequences(
    sequences: Mapping[str, Iterable[TrackingFrame]], iou_threshold: float = MOTA_IOU
) -> dict[str, TrackingScores]:
    """Score each sequence (frames in order) and, with more than one, all of them together
    under :data:`OVERALL` (py-motmetrics' overall: counts summed, IDF1 over all)."""
    mm = _motmetrics()
    accumulated = {name: _accumulate(frames, iou_threshold) for name, frames in sequences.items()}
    names = list(accumulated)
    summary = mm.metrics.create().compute_many(
        [accumulated[name][0] for name in names],
        metrics=list(_METRICS.values()),
        names=names,
        generate_overall=len(names) > 1,
    )
    dropped = {name: accumulated[name][1] for name in names}
    dropped[OVERALL] = sum(dropped.values())
    return {str(name): _scores(row, dropped[str(name)]) for name, row in summary.iterrows()}


def score_tracking(
    frames: Iterable[TrackingFrame], iou_threshold: float = MOTA_IOU
) -> TrackingScores:
    """Score one sequence of frames, in order."""
    return score_sequences({"sequence": frames}, iou_threshold)["sequence"]


def _scores(row: Any, dropped: int) -> TrackingScores:
    values = {field: row[metric] for field, metric in _METRICS.items()}
    counts = {
        name: int(value) for name, value in values.items() if name.startswith(("num_", "most"))
    }
    rates = {name: float(value) for name, value in values.items() if name not in counts}
    return TrackingScores(**rates, **counts, num_dropped=dropped)


def tracking_frames(
    sequence: MotSequence, tracked: Sequence[FramePoses], states: tuple[str, ...]
) -> list[TrackingFrame]:
    """The sequence's labels with the tracked rows in ``states`` as hypotheses."""
    frames = []
    for frame, poses in zip(sequence.frames, tracked, strict=True):
        truth = sequence.truth[frame]
        keep = (poses.track_ids != UNTRACKED_ID) & np.isin(poses.track_states, states)
        frames.append(
            TrackingFrame(
                truth.target_ids,
                truth.target_xyxy,
                poses.track_ids[keep],
                padded_landmark_boxes_xyxy(poses.joints2d_px[keep]),
                truth.dont_care_xyxy,
            )
        )
    return frames
