"""Axis-aligned boxes: non-maximum suppression (OpenCV's), shared by every deduplication."""

from __future__ import annotations

import cv2
import numpy as np


def non_max_suppression(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    max_iou: float,
    min_score: float = 0.0,
    max_count: int = 0,
) -> np.ndarray:
    """Indices of the boxes to keep, best score first.

    Args:
        boxes_xyxy: (N, 4) boxes, pixels.
        scores: (N,) scores; of two boxes overlapping by more than ``max_iou`` the lower goes.
        max_iou: overlap (intersection over union) above which a box is a duplicate.
        min_score: boxes scoring below it are dropped first.
        max_count: keep at most this many (0: no limit).
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxes(
        xywh.tolist(), np.asarray(scores, float).tolist(), min_score, max_iou, top_k=max_count
    )
    return np.asarray(kept, dtype=np.int64).reshape(-1)
