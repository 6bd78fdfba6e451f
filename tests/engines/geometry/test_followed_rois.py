"""Deduplication of followed ROIs."""

from __future__ import annotations

import numpy as np

from posecast.engines.geometry.crops import Roi, boxes_covered_by_rois, deduplicate_rois


def _rois(centers, sides) -> Roi:
    centers = np.asarray(centers, float)
    return Roi(centers, np.asarray(sides, float), np.zeros(len(centers)))


def test_converged_rois_keep_the_better_one() -> None:
    rois = _rois([[100, 100], [104, 98], [300, 100]], [80, 84, 80])
    kept = deduplicate_rois(rois, np.array([0.7, 0.9, 0.8]))
    np.testing.assert_array_equal(kept.centers_px, [[104, 98], [300, 100]])


def test_separate_rois_are_all_kept_in_order() -> None:
    rois = _rois([[100, 100], [200, 100], [300, 100]], [80, 80, 80])
    kept = deduplicate_rois(rois, np.array([0.5, 0.9, 0.7]))
    np.testing.assert_array_equal(kept.centers_px, rois.centers_px)


def test_empty_and_single() -> None:
    assert len(deduplicate_rois(_rois(np.zeros((0, 2)), []), np.zeros(0))) == 0
    assert len(deduplicate_rois(_rois([[5, 5]], [4]), np.ones(1))) == 1


def test_each_followed_roi_covers_only_its_own_person() -> None:
    # one followed person, hips at (100, 100), ROI side 100 (body ~80 px)
    rois = _rois([[100, 100]], [100])
    boxes = np.array(
        [
            [85, 62, 115, 140],  # the followed person: centre on the hips, 78 px tall
            [110, 60, 140, 138],  # a neighbour inside the same ROI square
            [300, 60, 330, 140],  # someone far away
        ],
        float,
    )
    np.testing.assert_array_equal(boxes_covered_by_rois(boxes, rois), [True, False, False])


def test_a_box_of_another_size_is_not_covered() -> None:
    rois = _rois([[100, 100]], [100])
    tiny = np.array([[95, 95, 105, 110]], float)  # 15 px: a distant person behind
    np.testing.assert_array_equal(boxes_covered_by_rois(tiny, rois), [False])


def test_no_rois_or_no_boxes() -> None:
    assert boxes_covered_by_rois(np.zeros((0, 4)), _rois([[1, 1]], [2])).shape == (0,)
    boxes = np.array([[0, 0, 10, 20]], float)
    np.testing.assert_array_equal(
        boxes_covered_by_rois(boxes, _rois(np.zeros((0, 2)), [])), [False]
    )
