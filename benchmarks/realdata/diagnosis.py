"""Where the pipeline loses each labelled person: a breakdown from the estimator's traces.

Every counted target of a frame gets one stage (``STAGES``), decided in this order:

- ``found``: one of the output poses matches it (padded landmark box, IoU >= 0.5, greedy by
  score: ``realdata.detection.match_frame``, exactly as the detection table scores them);
- ``not proposed``: nothing was about it: no detector box overlaps it by IoU >= 0.5, and no
  pose-detector proposal or followed ROI produced a pose whose box does;
- otherwise the row about it (``EstimateTrace`` rows; of several, the one that got furthest:
  kept, then dropped by the 3D reconstruction, as a duplicate, for presence; then the best
  IoU) says why:

  - ``no presence``: its pose's presence stayed below the threshold (every ROI tried);
  - ``duplicate``: its pose was dropped because it overlapped a more present pose (the two
    ROIs converged on one person, usually the neighbour);
  - ``3D invalid``: the reconstruction dropped it (behind the camera, degenerate solve);
  - ``pose box off``: a pose was kept, but its padded landmark box overlaps the target by
    IoU < 0.5 (a pose on part of the person, or drifted);
  - ``taken``: a kept pose overlaps it by IoU >= 0.5, but the matching gave that pose to an
    overlapping target.

Found targets are also counted by how their pose was found: after a retry (the first ROI's
pose was not accepted, ``posecast.engines.pose_search``) or from a pose-detector proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posecast.engines.estimator import DUPLICATE, INVALID, KEPT, NO_PRESENCE, EstimateTrace
from posecast.engines.proposals import DETECTOR, POSE_DETECTOR
from realdata.boxes import BoxPadding, box_iou, padded_landmark_boxes_xyxy
from realdata.detection import FrameMatch

FOUND, NOT_PROPOSED, NO_PRESENCE_STAGE, DUPLICATE_STAGE = (
    "found",
    "not proposed",
    "no presence",
    "duplicate",
)
INVALID_STAGE, POSE_BOX_OFF, TAKEN = "3D invalid", "pose box off", "taken"
STAGES = (
    FOUND,
    NOT_PROPOSED,
    NO_PRESENCE_STAGE,
    DUPLICATE_STAGE,
    POSE_BOX_OFF,
    TAKEN,
    INVALID_STAGE,
)
_OUTCOME_STAGE = {
    NO_PRESENCE: NO_PRESENCE_STAGE,
    DUPLICATE: DUPLICATE_STAGE,
    INVALID: INVALID_STAGE,
}
_OUTCOME_RANK = {KEPT: 3, INVALID: 2, DUPLICATE: 1, NO_PRESENCE: 0}
IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class FrameDiagnosis:
    """One frame's targets and where each was lost.

    Attributes:
        stages: (G,) one of ``STAGES`` per target.
        is_visible: (G,) the targets' visibility flags (all False where unlabelled).
        is_retried: (G,) found targets whose pose came from a retry ROI.
        is_from_pose_detector: (G,) found targets whose pose came from a pose-detector
            proposal.
    """

    stages: np.ndarray
    is_visible: np.ndarray
    is_retried: np.ndarray
    is_from_pose_detector: np.ndarray


def diagnose_frame(
    trace: EstimateTrace,
    match: FrameMatch,
    target_xyxy: np.ndarray,
    padding: BoxPadding,
) -> FrameDiagnosis:
    """The stage of every target of one frame (module docstring).

    Args:
        trace: the estimator's trace of the frame.
        match: the output poses matched with the targets (``match_frame``).
        target_xyxy: (G, 4) the targets' boxes.
        padding: the landmark box padding the detection scores use.
    """
    targets = np.asarray(target_xyxy, np.float64).reshape(-1, 4)
    pose_boxes = padded_landmark_boxes_xyxy(trace.landmarks_px, padding)
    pose_iou = box_iou(pose_boxes, targets)  # (R, G)
    proposal_iou = box_iou(np.nan_to_num(trace.proposal_xyxy, nan=-1.0), targets)
    is_detector_row = (trace.sources == DETECTOR)[:, None]
    is_about = np.where(is_detector_row, proposal_iou, pose_iou) >= IOU_THRESHOLD  # (R, G)
    rank = np.array([_OUTCOME_RANK[outcome] for outcome in trace.outcomes], np.float64)
    stages = np.full(len(targets), NOT_PROPOSED, dtype=object)
    is_retried = np.zeros(len(targets), bool)
    is_from_pose_detector = np.zeros(len(targets), bool)
    for target in range(len(targets)):
        rows = np.flatnonzero(is_about[:, target])
        if match.is_found[target]:
            stages[target] = FOUND
            kept = np.flatnonzero((trace.outcomes == KEPT) & (pose_iou[:, target] >= IOU_THRESHOLD))
            if len(kept):
                best = kept[np.argmax(pose_iou[kept, target])]
                is_retried[target] = trace.chosen[best] != "first"
                is_from_pose_detector[target] = trace.sources[best] == POSE_DETECTOR
            continue
        if len(rows) == 0:
            continue
        iou = np.maximum(proposal_iou[rows, target], pose_iou[rows, target])
        best = rows[np.lexsort((iou, rank[rows]))[-1]]
        outcome = trace.outcomes[best]
        if outcome != KEPT:
            stages[target] = _OUTCOME_STAGE[outcome]
        elif pose_iou[best, target] >= IOU_THRESHOLD:
            stages[target] = TAKEN
        else:
            stages[target] = POSE_BOX_OFF
    return FrameDiagnosis(stages.astype(str), match.is_visible, is_retried, is_from_pose_detector)


@dataclass(frozen=True)
class Breakdown:
    """Targets per stage, pooled over frames (``counts`` in ``STAGES`` order), plus the found
    ones found after a retry and from pose-detector proposals."""

    counts: dict[str, int]
    num_targets: int
    num_retried: int
    num_from_pose_detector: int


def breakdown(diagnoses: Sequence[FrameDiagnosis], visible_only: bool = False) -> Breakdown:
    """Pool frames' diagnoses (only the visible targets where ``visible_only``)."""
    stages, retried, from_pose_detector = [], [], []
    for diagnosis in diagnoses:
        keep = diagnosis.is_visible if visible_only else np.ones(len(diagnosis.stages), bool)
        stages.append(diagnosis.stages[keep])
        retried.append(diagnosis.is_retried[keep])
        from_pose_detector.append(diagnosis.is_from_pose_detector[keep])
    pooled = np.concatenate(stages or [np.zeros(0, str)])
    return Breakdown(
        counts={stage: int((pooled == stage).sum()) for stage in STAGES},
        num_targets=len(pooled),
        num_retried=int(np.concatenate(retried or [np.zeros(0, bool)]).sum()),
        num_from_pose_detector=int(np.concatenate(from_pose_detector or [np.zeros(0, bool)]).sum()),
    )
