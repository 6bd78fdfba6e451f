"""Axis-aligned boxes: IoU of every pair."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.boxes import box_iou


@pytest.mark.parametrize(
    ("boxes_a", "boxes_b", "expected"),
    [
        (np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 0))),  # both empty
        (np.zeros((0, 4)), [[0, 0, 1, 1], [2, 2, 3, 3]], np.zeros((0, 2))),  # no first boxes
        ([[0, 0, 1, 1]], np.zeros((0, 4)), np.zeros((1, 0))),  # no second boxes
        ([[0, 0, 10, 10]], [[20, 20, 30, 30]], [[0.0]]),  # disjoint
        ([[0, 0, 10, 10]], [[10, 0, 20, 10]], [[0.0]]),  # touching edges: no area shared
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], [[1.0]]),  # identical
        ([[0, 0, 10, 10]], [[2, 2, 7, 7]], [[0.25]]),  # nested: inner area / outer area
        ([[2, 2, 7, 7]], [[0, 0, 10, 10]], [[0.25]]),  # nested, the other way round
        ([[0, 0, 10, 10]], [[5, 0, 15, 10]], [[1 / 3]]),  # half overlap: 50 / 150
        ([[5, 5, 5, 5]], [[5, 5, 5, 5]], [[0.0]]),  # zero-area boxes: union 0, IoU 0
        (
            [[0, 0, 10, 10], [100, 100, 110, 110]],
            [[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 110]],
            [[1.0, 1 / 3, 0.0], [0.0, 0.0, 1.0]],
        ),  # every pair, (N, M)
    ],
)
def test_box_iou(
    boxes_a: np.ndarray | list, boxes_b: np.ndarray | list, expected: np.ndarray | list
) -> None:
    iou = box_iou(np.asarray(boxes_a, float), np.asarray(boxes_b, float))
    assert iou.shape == np.shape(expected)
    np.testing.assert_allclose(iou, expected, atol=1e-12)
