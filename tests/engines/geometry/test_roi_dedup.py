"""Deduplication of followed ROIs."""

from __future__ import annotations

import numpy as np

from engines.geometry.crops import Roi, deduplicate_rois


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
