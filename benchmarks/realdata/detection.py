"""Person detection scores at an IoU threshold, with don't-care regions.

Per frame, predictions are matched greedily in order of decreasing score (the PASCAL VOC and
COCO rule): each takes the unmatched target it overlaps most, if that IoU reaches the
threshold (true positive). A prediction left without a target but overlapping a don't-care
box (MOT17 classes 2, 7, 8, 12; PETS09 ``consider == 0``; COCO crowds) by at least the
threshold, or flagged by the caller (e.g. inside an ignore polygon), is neither right nor
wrong: it is dropped. Everything else is a false positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realdata.boxes import box_iou

TRUE_POSITIVE, FALSE_POSITIVE, IGNORED = 1, 0, -1


@dataclass(frozen=True)
class FrameMatch:
    """Outcome of matching one frame's predictions with its targets.

    Attributes:
        labels: (P,) per prediction ``TRUE_POSITIVE``, ``FALSE_POSITIVE`` or ``IGNORED``.
        scores: (P,) the predictions' scores.
        is_found: (G,) per target, whether a prediction matched it.
        is_visible: (G,) per target, whether it counts as visible (all False where the data
            labels no visibility, which makes the visible recall NaN).
    """

    labels: np.ndarray
    scores: np.ndarray
    is_found: np.ndarray
    is_visible: np.ndarray


def match_frame(
    pred_xyxy: np.ndarray,
    pred_scores: np.ndarray,
    target_xyxy: np.ndarray,
    dont_care_xyxy: np.ndarray | None = None,
    target_is_visible: np.ndarray | None = None,
    pred_is_ignored: np.ndarray | None = None,
    iou_threshold: float = 0.5,
) -> FrameMatch:
    """Match one frame (see the module docstring for the rule).

    Args:
        pred_xyxy: (P, 4) predicted boxes, pixels.
        pred_scores: (P,) their scores (higher: matched first).
        target_xyxy: (G, 4) labelled boxes that count.
        dont_care_xyxy: (D, 4) labelled boxes to ignore, or None.
        target_is_visible: (G,) bool, or None (visibility not labelled).
        pred_is_ignored: (P,) bool, predictions to ignore unless they match a target, or None.
        iou_threshold: minimum IoU of a match.
    """
    pred_xyxy = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    pred_scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    target_xyxy = np.asarray(target_xyxy, dtype=np.float64).reshape(-1, 4)
    if len(pred_scores) != len(pred_xyxy):
        raise ValueError(f"pred_scores: expected ({len(pred_xyxy)},), got {pred_scores.shape}")
    dont_care = np.zeros((0, 4)) if dont_care_xyxy is None else dont_care_xyxy
    visible = (
        np.zeros(len(target_xyxy), bool)
        if target_is_visible is None
        else np.asarray(target_is_visible, bool)
    )
    ignored = (
        np.zeros(len(pred_xyxy), bool) if pred_is_ignored is None else np.asarray(pred_is_ignored)
    )
    iou = box_iou(pred_xyxy, target_xyxy)  # (P, G)
    in_dont_care = (box_iou(pred_xyxy, dont_care) >= iou_threshold).any(axis=1) | ignored
    labels = np.full(len(pred_xyxy), FALSE_POSITIVE, np.int8)
    is_found = np.zeros(len(target_xyxy), bool)
    for index in np.argsort(-pred_scores, kind="stable"):
        candidates = np.where(is_found, -1.0, iou[index])
        best = int(np.argmax(candidates)) if len(candidates) else -1
        if best >= 0 and candidates[best] >= iou_threshold:
            labels[index] = TRUE_POSITIVE
            is_found[best] = True
        elif in_dont_care[index]:
            labels[index] = IGNORED
    return FrameMatch(labels, pred_scores, is_found, visible)


def average_precision(labels: np.ndarray, scores: np.ndarray, num_targets: int) -> float:
    """Area under the precision-recall curve, all-point interpolated (PASCAL VOC 2010+).

    Args:
        labels: (P,) ``TRUE_POSITIVE`` or ``FALSE_POSITIVE`` (ignored ones already removed),
            pooled over frames.
        scores: (P,) their scores.
        num_targets: targets in those frames.

    Returns:
        AP in [0, 1]; NaN without targets.
    """
    if num_targets == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = np.asarray(labels)[order] == TRUE_POSITIVE
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    recall = true_positives / num_targets
    # The envelope: best precision at this recall or any higher one.
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(hits) else precision
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float((recall_steps * envelope).sum())


@dataclass(frozen=True)
class DetectionScores:
    """Detection figures pooled over frames.

    Attributes:
        recall: found targets / targets.
        recall_visible: found visible targets / visible targets (NaN if none is visible).
        precision: true positives / (true + false positives), ignored predictions left out.
        ap50: average precision at the matching IoU.
        num_targets, num_visible, num_true_positives, num_false_positives, num_ignored: counts.
    """

    recall: float
    recall_visible: float
    precision: float
    ap50: float
    num_targets: int
    num_visible: int
    num_true_positives: int
    num_false_positives: int
    num_ignored: int


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def score_detections(matches: Sequence[FrameMatch]) -> DetectionScores:
    """Pool the frames' matches into recall, precision and AP."""
    labels = np.concatenate([m.labels for m in matches] or [np.zeros(0, np.int8)])
    scores = np.concatenate([m.scores for m in matches] or [np.zeros(0)])
    found = np.concatenate([m.is_found for m in matches] or [np.zeros(0, bool)])
    visible = np.concatenate([m.is_visible for m in matches] or [np.zeros(0, bool)])
    counted = labels != IGNORED
    true_positives = int((labels == TRUE_POSITIVE).sum())
    false_positives = int((labels == FALSE_POSITIVE).sum())
    return DetectionScores(
        recall=_ratio(int(found.sum()), len(found)),
        recall_visible=_ratio(int((found & visible).sum()), int(visible.sum())),
        precision=_ratio(true_positives, true_positives + false_positives),
        ap50=average_precision(labels[counted], scores[counted], len(found)),
        num_targets=len(found),
        num_visible=int(visible.sum()),
        num_true_positives=true_positives,
        num_false_positives=false_positives,
        num_ignored=int((~counted).sum()),
    )
