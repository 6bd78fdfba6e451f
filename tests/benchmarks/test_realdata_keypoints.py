"""2D keypoints: the joint mapping, person sizes and PCK."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.keypoints import (
    COCO_17_NAMES,
    KEYPOINT_COMBINATIONS,
    LIMB_KEYPOINTS,
    head_size_px,
    map_joints,
    mapping_matrix,
    match_keypoints,
    score_pck,
    torso_size_px,
)


def test_every_combination_is_affine() -> None:
    for name, weights in KEYPOINT_COMBINATIONS.items():
        assert sum(weights.values()) == pytest.approx(1.0), name
        assert set(weights) <= set(COCO_17_NAMES), name


def test_mapping_matrix() -> None:
    names = ("right_shoulder", "neck", "head_top", "left_finger")
    matrix, is_mapped = mapping_matrix(names)
    assert matrix.shape == (4, 17)
    assert is_mapped.tolist() == [True, True, True, False]  # no finger in COCO-17
    joints = np.zeros((1, 17, 2))
    joints[0, COCO_17_NAMES.index("left_shoulder")] = [0, 10]
    joints[0, COCO_17_NAMES.index("right_shoulder")] = [4, 10]
    joints[0, COCO_17_NAMES.index("left_ear")] = [1, 0]
    joints[0, COCO_17_NAMES.index("right_ear")] = [3, 0]
    mapped = map_joints(joints, matrix)
    np.testing.assert_allclose(mapped[0, 0], [4, 10])  # right shoulder itself
    np.testing.assert_allclose(mapped[0, 1], [2, 10])  # neck: shoulder midpoint
    np.testing.assert_allclose(mapped[0, 2], [2, -6])  # head top: 0.6 x (ears - shoulders) up
    np.testing.assert_allclose(mapped[0, 3], [0, 0])  # unmapped row


def test_person_sizes() -> None:
    names = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "head_top", "upper_neck")
    points = np.array([[[0, 0], [4, 0], [0, 3], [4, 3], [2, -5], [2, -1]]], float)
    labelled = np.ones((1, 6), bool)
    # Pairs: same side 3, 3; across 5, 5.
    assert torso_size_px(points, labelled, names)[0] == pytest.approx(4.0)
    assert head_size_px(points, labelled, names)[0] == pytest.approx(4.0)
    labelled[0, 2:4] = False  # no hip: no torso size
    assert np.isnan(torso_size_px(points, labelled, names)[0])


def test_pck_pairs_persons_by_most_correct_keypoints() -> None:
    truth = np.array([[[0, 0], [10, 0]], [[100, 0], [110, 0]]], float)  # (G=2, K=2, 2)
    predictions = np.array(
        [
            [[101, 0], [150, 0]],  # person 1, one keypoint right
            [[0, 1], [10, 1]],  # person 0, both right
            [[400, 0], [400, 0]],  # nobody
        ],
        float,
    )
    match = match_keypoints(predictions, truth, np.ones((2, 2), bool), np.array([10.0, 10.0]))
    assert match.is_found.tolist() == [True, True]
    assert match.is_correct.tolist() == [[True, True], [True, False]]
    np.testing.assert_allclose(match.normalized_error[0], [0.1, 0.1])


def test_pck_scores() -> None:
    names = ("left_shoulder", "head_top")
    truth = np.array([[[0, 0], [0, -10]], [[100, 0], [100, -10]]], float)
    found = match_keypoints(
        np.array([[[0, 0], [0, 50]]], float), truth, np.ones((2, 2), bool), np.array([10.0, 10.0])
    )
    unsized = match_keypoints(
        np.zeros((0, 2, 2)), truth[:1], np.ones((1, 2), bool), np.array([np.nan])
    )
    scores = score_pck([found, unsized], [names, names])
    assert (scores.num_persons, scores.num_found, scores.num_keypoints) == (2, 1, 4)
    assert scores.pck_found == pytest.approx(0.5)
    assert scores.pck_limbs_found == pytest.approx(1.0)  # the shoulder
    assert scores.pck_all == pytest.approx(1 / 4)
    assert "left_shoulder" in LIMB_KEYPOINTS


def test_no_predictions() -> None:
    truth = np.zeros((1, 3, 2))
    match = match_keypoints(np.zeros((0, 3, 2)), truth, np.ones((1, 3), bool), np.array([5.0]))
    assert not match.is_found.any()
    assert score_pck([match], [("a", "b", "c")]).pck_all == 0.0
