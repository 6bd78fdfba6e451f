"""Person boxes: conversions, IoU, and boxes drawn from landmarks with padding.

MOTChallenge and most image sets box the whole person, hidden parts and the top of the head
included, while BlazePose's landmarks stop at the eyes and ears above and at the heels and
toes below. A box drawn from landmarks therefore needs padding before its IoU with a labelled
box means anything; :data:`DEFAULT_PADDING` is the padding measured on the development data
(``bench_detection_real.py`` re-measures it and prints the fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BoxPadding:
    """Padding of a landmark box, each edge as a fraction of the landmark box's height.

    The height is the reference for the sides too: the width of a landmark box changes with
    the pose (arms out, legs apart) much more than the height of a standing person does.

    Attributes:
        top: added above (the head top is above the eyes and ears).
        bottom: added below (labelled boxes end a little below the soles).
        side: added left and right each.
    """

    top: float
    bottom: float
    side: float

    def __post_init__(self) -> None:
        for name in ("top", "bottom", "side"):
            if not -0.5 < getattr(self, name) < 1.0:
                raise ValueError(f"BoxPadding.{name}: expected in (-0.5, 1), got {self}")


NO_PADDING = BoxPadding(0.0, 0.0, 0.0)
DEFAULT_PADDING = BoxPadding(top=0.09, bottom=0.04, side=0.05)
"""The padding with the best mean IoU between posecast's landmark boxes and the labelled boxes
of MOT17 (visible persons) and PETS09, pairs matched at IoU >= 0.3: 0.727 over 1328 pairs
(0.634 unpadded) with ``bench_detection_real.py`` at commit d60c5a3, 2026-12-03 (the same
padding came out of the pipeline before it, at 351605f). The per-edge medians are close
(0.087, 0.037, 0.033) but pad the sides less than IoU wants. Person recall at IoU 0.5 with
it: PETS09 0.807, MOT17 0.295 (unpadded 0.710, 0.263; median edges 0.800, 0.284)."""


def xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    """(N, 4) ``x, y, width, height`` boxes -> (N, 4) ``x1, y1, x2, y2`` (same units)."""
    boxes_xywh = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]], axis=1)


def landmark_boxes_xyxy(joints2d_px: np.ndarray) -> np.ndarray:
    """(N, J, 2) joints in pixels -> (N, 4) tightest boxes around all of each person's joints."""
    joints2d_px = np.asarray(joints2d_px, dtype=np.float64)
    if joints2d_px.shape[0] == 0:
        return np.zeros((0, 4))
    return np.concatenate([joints2d_px.min(axis=1), joints2d_px.max(axis=1)], axis=1)


def pad_boxes_xyxy(boxes_xyxy: np.ndarray, padding: BoxPadding) -> np.ndarray:
    """(N, 4) landmark boxes -> (N, 4) boxes grown by ``padding`` (fractions of each height)."""
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    heights = (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])[:, None]
    # (N, 4): minus/plus per edge, in units of the box height
    grow = np.array([-padding.side, -padding.top, padding.side, padding.bottom])
    return boxes_xyxy + heights * grow


def padded_landmark_boxes_xyxy(
    joints2d_px: np.ndarray, padding: BoxPadding = DEFAULT_PADDING
) -> np.ndarray:
    """(N, J, 2) landmarks in pixels -> (N, 4) person boxes comparable with labelled boxes."""
    return pad_boxes_xyxy(landmark_boxes_xyxy(joints2d_px), padding)


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of (A, 4) and (B, 4) boxes; 0 where a union is empty."""
    a_xyxy = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b_xyxy = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    low = np.maximum(a_xyxy[:, None, :2], b_xyxy[None, :, :2])
    high = np.minimum(a_xyxy[:, None, 2:], b_xyxy[None, :, 2:])
    intersection = np.clip(high - low, 0, None).prod(axis=-1)  # (A, B)
    area_a = np.clip(a_xyxy[:, 2:] - a_xyxy[:, :2], 0, None).prod(axis=-1)
    area_b = np.clip(b_xyxy[:, 2:] - b_xyxy[:, :2], 0, None).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)


def edge_offsets(landmark_xyxy: np.ndarray, truth_xyxy: np.ndarray) -> np.ndarray:
    """How far each labelled box reaches beyond its landmark box, per edge.

    Args:
        landmark_xyxy: (N, 4) landmark boxes (unpadded), pixels.
        truth_xyxy: (N, 4) the labelled boxes of the same persons, pixels.

    Returns:
        (N, 4) offsets ``top, bottom, left, right`` in units of the landmark box's height,
        positive where the labelled box is larger (the padding that would make that edge match).
    """
    landmark_xyxy = np.asarray(landmark_xyxy, dtype=np.float64).reshape(-1, 4)
    truth_xyxy = np.asarray(truth_xyxy, dtype=np.float64).reshape(-1, 4)
    heights = landmark_xyxy[:, 3] - landmark_xyxy[:, 1]
    offsets = np.stack(
        [
            landmark_xyxy[:, 1] - truth_xyxy[:, 1],
            truth_xyxy[:, 3] - landmark_xyxy[:, 3],
            landmark_xyxy[:, 0] - truth_xyxy[:, 0],
            truth_xyxy[:, 2] - landmark_xyxy[:, 2],
        ],
        axis=1,
    )
    return offsets / np.maximum(heights, 1e-9)[:, None]


def paired_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(...,) IoU of each box of (..., 4) ``a_xyxy`` with the matching one of ``b_xyxy``
    (shapes broadcast)."""
    a_xyxy = np.asarray(a_xyxy, dtype=np.float64)
    b_xyxy = np.asarray(b_xyxy, dtype=np.float64)
    low = np.maximum(a_xyxy[..., :2], b_xyxy[..., :2])
    high = np.minimum(a_xyxy[..., 2:], b_xyxy[..., 2:])
    intersection = np.clip(high - low, 0, None).prod(axis=-1)
    area_a = np.clip(a_xyxy[..., 2:] - a_xyxy[..., :2], 0, None).prod(axis=-1)
    area_b = np.clip(b_xyxy[..., 2:] - b_xyxy[..., :2], 0, None).prod(axis=-1)
    union = area_a + area_b - intersection
    return np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)


PADDING_GRID = np.round(np.arange(-0.05, 0.2001, 0.01), 2)
"""Candidate values of each padding edge searched by :func:`best_iou_padding`."""


def best_iou_padding(
    landmark_xyxy: np.ndarray,
    truth_xyxy: np.ndarray,
    grid: np.ndarray = PADDING_GRID,
    max_sweeps: int = 10,
) -> BoxPadding:
    """The padding, each edge from ``grid``, with the highest mean IoU over matched
    (landmark box, labelled box) pairs, each (N, 4), N >= 1 (coordinate ascent: one edge at
    a time over the whole grid, until a sweep changes nothing).

    Mean IoU rather than per-edge medians (:func:`fit_padding`): IoU punishes a box too
    small more than one too large by the same margin, so the best IoU pads more than the
    median edges do.
    """
    if len(landmark_xyxy) == 0:
        raise ValueError("best_iou_padding needs at least one matched pair")

    def mean_iou(values: dict[str, float]) -> float:
        padded = pad_boxes_xyxy(landmark_xyxy, BoxPadding(**values))
        return float(paired_iou(padded, truth_xyxy).mean())

    values = {"top": 0.0, "bottom": 0.0, "side": 0.0}
    for _ in range(max_sweeps):
        before = dict(values)
        for edge in values:
            scores = [mean_iou({**values, edge: float(v)}) for v in grid]
            values[edge] = float(grid[int(np.argmax(scores))])
        if values == before:
            break
    return BoxPadding(**values)


def fit_padding(landmark_xyxy: np.ndarray, truth_xyxy: np.ndarray) -> BoxPadding:
    """The padding whose edges sit at the median labelled edge (the least-absolute-error fit
    per edge) over matched (landmark box, labelled box) pairs, each (N, 4), N >= 1."""
    offsets = edge_offsets(landmark_xyxy, truth_xyxy)
    if len(offsets) == 0:
        raise ValueError("fit_padding needs at least one matched pair")
    return BoxPadding(
        top=float(np.median(offsets[:, 0])),
        bottom=float(np.median(offsets[:, 1])),
        side=float(np.median(offsets[:, 2:])),
    )
