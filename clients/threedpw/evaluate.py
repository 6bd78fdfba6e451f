"""Evaluating a directory of posecast 3DPW predictions against the ground truth.

What the official challenge evaluation does, and so what this does:

- Ground truth: the 24 SMPL joints of each person moved into each frame's camera frame with
  ``cam_poses``. (The official script regresses the joints from the SMPL body model with
  ``poses``/``betas``/``trans``; posecast reads the ``jointPositions`` the sequence files
  already hold, so the SMPL model is not needed.)
- Evaluated person-frames: the person's 2D keypoints (``poses2d``) are not all zero (3DPW
  zeroes them where fewer than 6 joints were detected) AND its ``campose_valid`` is set.
  Other frames may hold anything finite; they are not scored.
- Aggregation: the official script concatenates the evaluated person-frames of every
  sequence and averages over them, so the overall figures weight sequences by their number
  of evaluated person-frames (they are not a mean of per-sequence means).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.clients.threedpw.layout import Sequence3DPW, list_sequences, load_sequence
from posecast.clients.threedpw.metrics import JointErrors, PoseMetrics, joint_errors, summarize
from posecast.clients.threedpw.prediction import Prediction3DPW, read_prediction
from posecast.clients.threedpw.tracking import (
    TrackingConfig,
    TrackingMetrics,
    tracking_metrics,
    true_track_ids,
)
from posecast.errors import InvalidInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequenceResult:
    """Figures of one sequence.

    Attributes:
        name: sequence name.
        pose: the challenge figures over its evaluated person-frames.
        tracking: identity figures, None if the prediction has no ``trackIds``.
        errors: the per-joint errors behind ``pose`` (kept for the overall figures).
    """

    name: str
    pose: PoseMetrics
    tracking: TrackingMetrics | None
    errors: JointErrors = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.pose.to_dict(),
            "tracking": None if self.tracking is None else self.tracking.to_dict(),
        }


@dataclass(frozen=True)
class EvaluationResult:
    """Figures of one split: per sequence (sorted by name) and overall."""

    split: str
    sequences: tuple[SequenceResult, ...]
    overall: PoseMetrics
    overall_tracking: TrackingMetrics | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "overall": {
                **self.overall.to_dict(),
                "tracking": (
                    None if self.overall_tracking is None else self.overall_tracking.to_dict()
                ),
            },
            "sequences": [result.to_dict() for result in self.sequences],
        }


def evaluated_frames(sequence: Sequence3DPW) -> np.ndarray:
    """(P, N) bool: person-frames the challenge scores (2D pose present and camera valid)."""
    has_pose2d = np.any(sequence.poses2d_px != 0, axis=(2, 3))
    return has_pose2d & sequence.campose_valid


def evaluate_sequence(
    prediction: Prediction3DPW,
    sequence: Sequence3DPW,
    tracking_config: TrackingConfig | None = None,
) -> SequenceResult:
    """Score one sequence's prediction (already checked against ``sequence``).

    Raises:
        InvalidInputError: the prediction's persons or frames do not match the sequence, or
            the ground truth is not finite in a scored person-frame.
    """
    expected = (sequence.num_persons, sequence.num_frames)
    if prediction.joints_cam_m.shape[:2] != expected:
        raise InvalidInputError(
            f"sequence {sequence.name}: prediction has (persons, frames) "
            f"{prediction.joints_cam_m.shape[:2]}, the ground truth {expected}"
        )
    mask = evaluated_frames(sequence)
    gt_joints_cam_m = sequence.joints_cam_m
    is_finite = np.isfinite(gt_joints_cam_m).all(axis=(2, 3))
    if not np.all(is_finite[mask]):
        raise InvalidInputError(
            f"sequence {sequence.name}: ground-truth joints or camera poses are not finite in "
            f"{np.count_nonzero(mask & ~is_finite)} scored person-frames"
        )
    errors = joint_errors(prediction.joints_cam_m[mask], gt_joints_cam_m[mask])
    tracking = None
    if prediction.track_ids is not None:
        true_ids = None
        if prediction.all_tracks is not None:
            true_ids = true_track_ids(
                gt_joints_cam_m,
                mask,
                prediction.all_tracks,
                sequence.intrinsics,
                tracking_config or TrackingConfig(),
            )
        tracking = tracking_metrics(prediction.track_ids, mask, true_ids=true_ids)
    return SequenceResult(
        name=sequence.name, pose=summarize(errors), tracking=tracking, errors=errors
    )


def prediction_path(prediction_root: Path, split: str, name: str) -> Path:
    """Where the prediction of a sequence lives.

    ``{root}/{split}/{name}.pkl`` (the official submission layout) if the split directory
    exists, else ``{root}/{name}.pkl``.
    """
    prediction_root = Path(prediction_root)
    split_dir = prediction_root / split
    return (split_dir if split_dir.is_dir() else prediction_root) / f"{name}.pkl"


def evaluate_split(
    prediction_root: Path,
    gt_root: Path,
    split: str = "test",
    *,
    sequence_names: Sequence[str] | None = None,
    tracking_config: TrackingConfig | None = None,
) -> EvaluationResult:
    """Evaluate every sequence of a split (or the named ones).

    Args:
        prediction_root: directory of prediction pickles (see `prediction_path`).
        gt_root: 3DPW root (``sequenceFiles/{split}/*.pkl``).
        split: ``train``, ``validation`` or ``test``.
        sequence_names: evaluate only these sequences; default all of the split.
        tracking_config: identity matching threshold for the tracking figures.

    Raises:
        InvalidInputError: missing root, split or sequences (the message lists the sequences
            without a prediction), malformed files, predictions not matching the ground truth.
    """
    prediction_root = Path(prediction_root)
    if not prediction_root.is_dir():
        raise InvalidInputError(f"prediction directory {prediction_root} is not a directory")
    available = list_sequences(gt_root, split)
    if sequence_names is None:
        names = available
    else:
        unknown = sorted(set(sequence_names) - set(available))
        if unknown:
            raise InvalidInputError(f"split {split} of {gt_root} has no sequences {unknown}")
        names = sorted(sequence_names)
    if not names:
        raise InvalidInputError(f"split {split} of {gt_root} has no sequences")
    missing = [
        name for name in names if not prediction_path(prediction_root, split, name).is_file()
    ]
    if missing:
        raise InvalidInputError(
            f"no prediction in {prediction_root} for {len(missing)} of {len(names)} sequences "
            f"of split {split}: {', '.join(missing)}"
        )
    results = []
    for name in names:
        sequence = load_sequence(gt_root, split, name)
        prediction = read_prediction(prediction_path(prediction_root, split, name), sequence)
        results.append(evaluate_sequence(prediction, sequence, tracking_config))
        logger.debug("evaluated %s: %s", name, results[-1].pose)
    tracking_parts = [result.tracking for result in results if result.tracking is not None]
    return EvaluationResult(
        split=split,
        sequences=tuple(results),
        overall=summarize(JointErrors.concatenate([result.errors for result in results])),
        overall_tracking=TrackingMetrics.combine(tracking_parts) if tracking_parts else None,
    )
