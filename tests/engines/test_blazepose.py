"""BlazePose decoding: heatmap refinement on hand-built heatmaps, presence filtering."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.blazepose import (
    BlazePoseConfig,
    BlazePoseLandmarkModel,
    BlazePoses,
    refine_from_heatmap,
)
from posecast.engines.geometry.rois import Roi
from testdata import read_rgb

COLD = -100.0  # sigmoid ~ 0


def _heatmap(peaks: dict[tuple[int, int], float]) -> np.ndarray:
    """(1, 64, 64, 1) logits, cold except at the given (row, col) cells."""
    heatmap = np.full((1, 64, 64, 1), COLD, np.float32)
    for (row, col), logit in peaks.items():
        heatmap[0, row, col, 0] = logit
    return heatmap


@pytest.mark.parametrize(
    "landmark_px, peaks, expected_px",
    [
        # one confident peak at row 10, col 20 of the 64 x 64 map: moved to 20 / 64 * 256
        ((82.0, 43.0), {(10, 20): 10.0}, (80.0, 40.0)),
        # two equal peaks: their mean
        ((82.0, 43.0), {(10, 20): 10.0, (10, 22): 10.0}, (84.0, 40.0)),
        # a peak below 0.5 confidence (sigmoid(-1) = 0.27): unchanged
        ((82.0, 43.0), {(10, 20): -1.0}, (82.0, 43.0)),
        # a confident peak outside the 7 x 7 window around the landmark's cell: no refinement
        ((82.0, 43.0), {(30, 40): 10.0}, (82.0, 43.0)),
        # landmark outside the crop: unchanged
        ((-5.0, 43.0), {(10, 0): 10.0}, (-5.0, 43.0)),
        # window clipped at the border: the peak at cell (0, 0) still counts
        ((1.0, 1.0), {(0, 0): 10.0, (0, 1): 10.0}, (2.0, 0.0)),
    ],
)
def test_heatmap_refinement(landmark_px, peaks, expected_px) -> None:
    landmarks = np.array([[[*landmark_px, 0.5]]])
    refined = refine_from_heatmap(landmarks, _heatmap(peaks), 7, 0.5)
    np.testing.assert_allclose(refined[0, 0, :2], expected_px, atol=1e-3)
    assert refined[0, 0, 2] == 0.5  # z is never touched


def test_refinement_off_returns_a_copy() -> None:
    landmarks = np.array([[[82.0, 43.0, 0.0]]])
    refined = refine_from_heatmap(landmarks, _heatmap({(10, 20): 10.0}), 0, 0.5)
    assert refined is not landmarks
    np.testing.assert_array_equal(refined, landmarks)


def test_a_roi_without_a_person_is_dropped_by_presence(pose_model) -> None:
    image = read_rgb("vtest_frame450.jpg")
    grass = Roi(np.array([[100.0, 500.0]]), np.array([80.0]), np.zeros(1))  # empty lawn
    assert len(pose_model.run(image, grass)) == 0
    assert (
        len(
            pose_model.postprocess(
                pose_model.runtime.infer({"image": pose_model.preprocess(image, grass)}), grass
            )
        )
        == 1
    )  # decoded, but below the presence threshold


def test_predict_keeps_every_roi_and_refine_says_which_stay(pose_model) -> None:
    image = read_rgb("basketball1_left.jpg")
    person = Roi(np.array([[165.0, 260.0]]), np.array([460.0]), np.zeros(1))
    grass = Roi(np.array([[40.0, 460.0]]), np.array([40.0]), np.zeros(1))  # the floor
    poses = pose_model.predict(image, Roi.concatenate([grass, person]))
    assert len(poses) == 2
    assert pose_model.is_present(poses).tolist() == [False, True]
    both = BlazePoses.concatenate([poses, poses.select([1])])
    assert len(both) == 3 and both.pose_presence[2] == poses.pose_presence[1]
    refiner = BlazePoseLandmarkModel(pose_model.runtime, BlazePoseConfig(refinement_passes=1))
    refined, kept = refiner.refine(image, both)
    assert kept.tolist() == [1, 2] and len(refined) == 2  # the floor's pose does not stay
