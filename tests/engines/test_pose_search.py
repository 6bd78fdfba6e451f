"""The landmark stage's search for a new person's pose: first ROIs, box agreement, retries."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.blazepose import NUM_LANDMARKS, NUM_MODEL_LANDMARKS, BlazePoses
from posecast.engines.geometry.rois import Roi, roi_from_box
from posecast.engines.pose_search import (
    POSE_BOX_PADDING,
    PoseSearch,
    PoseSearchConfig,
    box_coverage,
    choose_first_rois,
    pose_boxes_xyxy,
)

IMAGE = np.zeros((400, 600, 3), np.uint8)
BOX = np.array([[100.0, 100.0, 180.0, 300.0]])  # a standing person, 200 px tall
HALF_BOX = np.array([100.0, 200.0, 140.0, 300.0])  # a pose on part of them


def test_pose_boxes_pad_the_landmark_extent() -> None:
    landmarks = np.array([[[10.0, 100.0], [30.0, 300.0]]])  # extent 20 x 200
    top, bottom, side = POSE_BOX_PADDING
    expected = [10 - 200 * side, 100 - 200 * top, 30 + 200 * side, 300 + 200 * bottom]
    np.testing.assert_allclose(pose_boxes_xyxy(landmarks)[0], expected)
    assert pose_boxes_xyxy(np.zeros((0, 33, 2))).shape == (0, 4)


@pytest.mark.parametrize(
    "roi, coverage",
    [
        (Roi([[140, 200]], [250], [0.0]), 1.0),  # the box ROI covers its box
        (Roi([[140, 310]], [200], [0.0]), 0.45),  # a ROI on the legs: the lowest 45 %
        (Roi([[900, 900]], [100], [0.0]), 0.0),  # elsewhere
        (Roi([[140, 200]], [160], [np.pi / 4]), 0.91),  # turned 45 degrees: corners cut off
    ],
)
def test_box_coverage(roi: Roi, coverage: float) -> None:
    assert box_coverage(BOX, roi)[0] == pytest.approx(coverage, abs=0.05)


def test_first_roi_is_the_alignment_roi_only_where_it_covers_the_box() -> None:
    boxes = np.concatenate([BOX, BOX, BOX, BOX])
    alignment = Roi(
        [[140, 200], [140, 300], [140, 300], [140, 300]], [250, 200, 200, 200], np.zeros(4)
    )
    rois, is_box = choose_first_rois(
        boxes,
        alignment,
        has_alignment=np.array([True, True, False, True]),
        has_person_box=np.array([True, True, True, False]),
        min_alignment_coverage=0.9,
    )
    # covering alignment; alignment on the legs only; no alignment; a pose-detector proposal
    assert is_box.tolist() == [False, True, True, False]
    box_roi = roi_from_box(BOX)
    np.testing.assert_allclose(rois.sides_px, [250, box_roi.sides_px[0], box_roi.sides_px[0], 200])


def _poses(rois: Roi, presence: list[float], boxes: list[np.ndarray]) -> BlazePoses:
    """Poses whose 33 landmarks span ``boxes`` (N, 4), with the given presence."""
    count = len(rois)
    landmarks = np.zeros((count, NUM_LANDMARKS, 2))
    for row, box in enumerate(boxes):
        landmarks[row, :, 0] = np.linspace(box[0], box[2], NUM_LANDMARKS)
        landmarks[row, :, 1] = np.linspace(box[1], box[3], NUM_LANDMARKS)
    crop = np.zeros((count, NUM_MODEL_LANDMARKS, 3))
    crop[:, 33, :2] = [128, 128]  # auxiliary landmarks: centre and scale point of the next ROI
    crop[:, 34, :2] = [128, 48]
    return BlazePoses(
        rois=rois,
        landmarks_px=landmarks,
        landmarks_crop_px=crop,
        world_landmarks_crop_m=np.zeros((count, NUM_LANDMARKS, 3)),
        visibility=np.ones((count, NUM_LANDMARKS)),
        presence=np.ones((count, NUM_LANDMARKS)),
        pose_presence=np.asarray(presence, float),
    )


class ScriptedModel:
    """A landmark model answering each call from a script: (presences, landmark boxes)."""

    def __init__(self, script: list[tuple[list[float], list[np.ndarray]]]) -> None:
        self.script = list(script)
        self.calls: list[Roi] = []

    def predict(self, image_rgb: np.ndarray, rois: Roi) -> BlazePoses:
        self.calls.append(rois)
        presence, boxes = self.script.pop(0)
        assert len(presence) == len(rois), "the search asked for other ROIs than scripted"
        return _poses(rois, presence, boxes)

    def is_present(self, poses: BlazePoses) -> np.ndarray:
        return poses.pose_presence >= 0.5


def _search(model: ScriptedModel, config: PoseSearchConfig | None = None, has_box: bool = True):
    first = Roi([[140, 200]], [250], [0.3])  # an alignment ROI
    return PoseSearch(model, config).search(  # type: ignore[arg-type]
        IMAGE, BOX, np.array([has_box]), first, np.array([False])
    )


@pytest.mark.parametrize(
    "case, script, chosen, attempts",
    [
        ("first pose agrees", [([0.9], [BOX[0]])], "first", 1),
        ("absent, the box ROI finds them", [([0.1], [BOX[0]]), ([0.9], [BOX[0]])], "box", 2),
        (
            "on part of them, then absent, then refined",
            [([0.9], [HALF_BOX]), ([0.2], [BOX[0]]), ([0.9], [BOX[0]])],
            "refined",
            3,
        ),
        (
            "nothing better: the first pose stays",
            [([0.9], [HALF_BOX]), ([0.2], [BOX[0]]), ([0.3], [BOX[0]])],
            "first",
            3,
        ),
    ],
)
def test_retries_until_a_pose_agrees_with_its_box(case, script, chosen, attempts) -> None:
    model = ScriptedModel(script)
    result = _search(model)
    assert result.chosen.tolist() == [chosen], case
    assert result.attempts.tolist() == [attempts], case
    assert not model.script, "every scripted call was made"
    if len(model.calls) > 1:  # the box retry uses the box ROI
        np.testing.assert_allclose(model.calls[1].sides_px, roi_from_box(BOX).sides_px)
    agrees = result.box_agreement[0] >= 0.6
    assert agrees == (chosen != "first" or case == "first pose agrees")


def test_no_retries_is_one_roi_per_person() -> None:
    model = ScriptedModel([([0.1], [BOX[0]])])
    result = _search(model, PoseSearchConfig(retries=()))
    assert result.attempts.tolist() == [1] and result.chosen.tolist() == ["first"]


def test_without_a_person_box_presence_is_enough_and_the_box_retry_is_skipped() -> None:
    accepted = _search(ScriptedModel([([0.9], [HALF_BOX])]), has_box=False)
    assert accepted.attempts.tolist() == [1] and np.isnan(accepted.box_agreement[0])
    model = ScriptedModel([([0.1], [HALF_BOX]), ([0.8], [HALF_BOX])])
    refined = _search(model, has_box=False)
    assert refined.chosen.tolist() == ["refined"] and refined.attempts.tolist() == [2]


def test_no_proposals_no_model_runs_beyond_the_empty_first() -> None:
    model = ScriptedModel([([], [])])
    result = PoseSearch(model).search(  # type: ignore[arg-type]
        IMAGE, np.zeros((0, 4)), np.zeros(0, bool), Roi.empty(), np.zeros(0, bool)
    )
    assert len(result.poses) == 0 and result.attempts.shape == (0,)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"min_alignment_coverage": 1.5}, "min_alignment_coverage"),
        ({"min_box_agreement": -0.1}, "min_box_agreement"),
        ({"retries": ("box", "box")}, "retries"),
        ({"retries": ("tiles",)}, "retries"),
    ],
)
def test_config_validation(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        PoseSearchConfig(**changes)
