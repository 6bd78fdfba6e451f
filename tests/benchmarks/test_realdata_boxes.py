"""Boxes: conversions, IoU, landmark boxes and their padding."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.boxes import (
    NO_PADDING,
    BoxPadding,
    best_iou_padding,
    box_iou,
    edge_offsets,
    fit_padding,
    landmark_boxes_xyxy,
    pad_boxes_xyxy,
    paired_iou,
    xywh_to_xyxy,
)


def test_xywh_to_xyxy() -> None:
    np.testing.assert_allclose(xywh_to_xyxy([[10, 20, 5, 8]]), [[10, 20, 15, 28]])
    assert xywh_to_xyxy(np.zeros((0, 4))).shape == (0, 4)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),  # identical
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),  # half overlap
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),  # disjoint
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes: no division by zero
    ],
)
def test_box_iou(a: list[float], b: list[float], expected: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)
    assert paired_iou(np.array([a]), np.array([b]))[0] == pytest.approx(expected)


def test_box_iou_shapes_with_empty_inputs() -> None:
    assert box_iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert box_iou(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_landmark_boxes_are_the_joint_extents() -> None:
    joints = np.array([[[1, 5], [3, 2], [2, 9]]], float)
    np.testing.assert_allclose(landmark_boxes_xyxy(joints), [[1, 2, 3, 9]])
    assert landmark_boxes_xyxy(np.zeros((0, 33, 2))).shape == (0, 4)


def test_padding_is_a_fraction_of_the_height_on_each_edge() -> None:
    box = np.array([[100, 100, 140, 200]], float)  # height 100
    padded = pad_boxes_xyxy(box, BoxPadding(top=0.1, bottom=0.05, side=0.2))
    np.testing.assert_allclose(padded, [[80, 90, 160, 205]])
    np.testing.assert_allclose(pad_boxes_xyxy(box, NO_PADDING), box)


def test_padding_rejects_absurd_values() -> None:
    with pytest.raises(ValueError, match="top"):
        BoxPadding(top=2.0, bottom=0.0, side=0.0)


def test_fitted_paddings_recover_a_known_padding() -> None:
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 500, (50, 2))
    sizes = rng.uniform([20, 60], [60, 200], (50, 2))
    landmark = np.concatenate([corners, corners + sizes], axis=1)
    truth = pad_boxes_xyxy(landmark, BoxPadding(top=0.1, bottom=0.03, side=0.05))
    np.testing.assert_allclose(edge_offsets(landmark, truth)[0], [0.1, 0.03, 0.05, 0.05])
    median = fit_padding(landmark, truth)
    assert (median.top, median.bottom, median.side) == pytest.approx((0.1, 0.03, 0.05))
    best = best_iou_padding(landmark, truth)
    assert (best.top, best.bottom, best.side) == pytest.approx((0.1, 0.03, 0.05))


def test_fits_need_pairs() -> None:
    with pytest.raises(ValueError, match="at least one"):
        fit_padding(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="at least one"):
        best_iou_padding(np.zeros((0, 4)), np.zeros((0, 4)))
