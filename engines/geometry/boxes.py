"""Axis-aligned boxes: validation, overlap (IoU) and non-maximum suppression (OpenCV's)."""

from __future__ import annotations

import cv2
import numpy as np

from posecast.errors import InvalidInputError


def validate_boxes_xyxy(boxes_xyxy: np.ndarray) -> np.ndarray:
    """Check (N, 4) xyxy boxes and return them as a new float64 array.

    Raises:
        InvalidInputError: wrong shape, non-finite values, or a box without positive width
            and height.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InvalidInputError(f"boxes_xyxy: expected shape (N, 4), got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise InvalidInputError("boxes_xyxy: contains non-finite values")
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise InvalidInputError("boxes_xyxy: every box needs x2 > x1 and y2 > y1")
    return boxes


def box_iou(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes.

    Args:
        boxes_a_xyxy: (N, 4) boxes.
        boxes_b_xyxy: (M, 4) boxes, same units.

    Returns:
        (N, M) IoU in [0, 1]; 0 for pairs that do not intersect and for pairs of empty
        (zero-area) boxes, whose union is 0.
    """
    boxes_a = np.asarray(boxes_a_xyxy).reshape(-1, 4)[:, None]  # (N, 1, 4)
    boxes_b = np.asarray(boxes_b_xyxy).reshape(-1, 4)[None]  # (1, M, 4)
    inter_wh = np.clip(
        np.minimum(boxes_a[..., 2:], boxes_b[..., 2:])
        - np.maximum(boxes_a[..., :2], boxes_b[..., :2]),
        0.0,
        None,
    )
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    areas_a = np.prod(boxes_a[..., 2:] - boxes_a[..., :2], axis=-1)
    areas_b = np.prod(boxes_b[..., 2:] - boxes_b[..., :2], axis=-1)
    union = areas_a + areas_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def non_max_suppression(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    max_iou: float,
    min_score: float = 0.0,
    max_count: int = 0,
) -> np.ndarray:
    """Indices of the boxes to keep, best score first.

    OpenCV's ``NMSBoxes``, not a loop over :func:`box_iou`: that would change which boxes
    are kept at the edges, since OpenCV keeps scores strictly above ``min_score`` and computes
    the overlap as one minus the Jaccard distance. ``max_count`` cuts after suppressing (not
    OpenCV's ``top_k``, which cuts the candidates first: a dense detector head gives every
    person several candidates, and a crowded frame would keep only its most confident few).

    Args:
        boxes_xyxy: (N, 4) boxes, pixels.
        scores: (N,) scores; of two boxes overlapping by more than ``max_iou`` the lower goes.
        max_iou: overlap (intersection over union) above which a box is a duplicate.
        min_score: boxes scoring below it are dropped first.
        max_count: keep at most this many, the best after suppression (0: no limit).
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), np.asarray(scores, float).tolist(), min_score, max_iou)
    kept = np.asarray(kept, dtype=np.int64).reshape(-1)
    return kept[:max_count] if max_count > 0 else kept
