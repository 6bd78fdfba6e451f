"""The single-image pipeline on real images: counts, plausibility, camera-space placement."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from posecast.engines.estimator import PoseEstimator
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.skeletons import get_skeleton
from testdata import read_rgb


@pytest.mark.parametrize(
    "image_name, persons",
    [
        ("vtest_frame000.jpg", 3),  # hand-counted, tests/data/images/README.md
        ("vtest_frame300.jpg", 6),
        ("vtest_frame450.jpg", 3),  # the detector's traffic-cone box is dropped by presence
        # Messi and two blurred spectators in the stands (40-90 px tall): the detector's input
        # (half size by default, to find people of 80 px and more) finds them, BlazePose too.
        ("messi5.jpg", 3),
        ("basketball1_left.jpg", 1),
    ],
)
def test_every_clearly_visible_person_gets_one_pose(estimator, image_name, persons) -> None:
    result = estimator.estimate(read_rgb(image_name))
    assert len(result.poses) == persons
    assert result.poses.skeleton == "blazepose_33"


def _standing_height_m(joints: np.ndarray) -> np.ndarray:
    """Nose-to-ankle-midpoint distance plus ~10 cm to the top of the head."""
    ankles = (joints[:, 27] + joints[:, 28]) / 2
    return np.linalg.norm(joints[:, 0] - ankles, axis=1) + 0.1


def test_pedestrians_are_human_sized_and_in_front_of_the_camera(estimator) -> None:
    poses = estimator.estimate(read_rgb("vtest_frame300.jpg")).poses
    assert np.all(poses.joints_cam_m[:, :, 2] > 2.0), "people are metres away, in front"
    heights = _standing_height_m(poses.joints_cam_m)
    assert np.all((heights > 1.4) & (heights < 2.1)), heights


def test_joints_project_onto_their_2d_landmarks(estimator) -> None:
    image = read_rgb("vtest_frame000.jpg")
    camera = Camera.from_fov(image.shape[1], image.shape[0])
    poses = estimator.estimate(image, camera).poses
    projected = camera.project(poses.joints_cam_m.astype(np.float64))
    visible = poses.joint_scores > 0.8
    residual_px = np.linalg.norm(projected - poses.joints2d_px, axis=-1)[visible]
    # The 3D shape never explains the 2D landmarks exactly; a few pixels on 70 px people.
    assert np.median(residual_px) < 3.0


def test_longer_focal_length_puts_people_farther_away(estimator) -> None:
    image = read_rgb("vtest_frame000.jpg")
    height, width = image.shape[:2]
    wide = estimator.estimate(image, Camera.from_fov(width, height, 70.0)).poses
    narrow = estimator.estimate(image, Camera.from_fov(width, height, 40.0)).poses
    ratio = narrow.joints_cam_m[:, :, 2].mean(axis=1) / wide.joints_cam_m[:, :, 2].mean(axis=1)
    expected = np.tan(np.radians(35)) / np.tan(np.radians(20))
    np.testing.assert_allclose(ratio, expected, rtol=0.05)


@pytest.mark.parametrize("skeleton", ["smpl_24", "coco_17", "h36m_17"])
def test_converted_skeletons_have_plausible_bones(estimator, skeleton) -> None:
    poses = estimator.estimate(read_rgb("basketball1_left.jpg")).poses.to_skeleton(skeleton)
    fmt = get_skeleton(skeleton)
    assert poses.joints_cam_m.shape == (1, fmt.num_joints, 3)
    joints = poses.joints_cam_m[0]
    for start, end in fmt.edges:
        bone_m = np.linalg.norm(joints[start] - joints[end])
        assert 0.02 < bone_m < 0.65, (fmt.joint_names[start], fmt.joint_names[end], bone_m)


def test_blank_image_gives_an_empty_frame(estimator) -> None:
    result = estimator.estimate(np.zeros((240, 320, 3), np.uint8))
    assert len(result.poses) == 0
    assert result.poses.joints_cam_m.shape == (0, 33, 3)


def test_following_rois_finds_the_same_people_without_detecting(estimator) -> None:
    first = estimator.estimate(read_rgb("vtest_frame300.jpg"))
    followed = estimator.estimate(
        read_rgb("vtest_frame300.jpg"), followed_rois=first.next_rois, detect=False
    )
    assert len(first.next_rois) == len(first.poses) == 6
    assert len(followed.poses) == 6
    assert followed.timing_ms["detect"] < 1.0  # no detector run
    # same image: each followed person lies on one detected person
    for joints in followed.poses.joints2d_px:
        distance = np.linalg.norm(first.poses.joints2d_px - joints, axis=-1).mean(axis=1)
        assert distance.min() < 2.0


def test_detection_adds_only_people_no_followed_roi_covers(estimator) -> None:
    image = read_rgb("vtest_frame300.jpg")
    first = estimator.estimate(image)
    some = first.next_rois[[0, 1]]
    both = estimator.estimate(image, followed_rois=some, detect=True)
    # the two followed people are not found twice; the other four come from detection
    assert len(both.poses) == 6
    assert both.dropped["no_pose_presence"] == 0


def test_two_rois_on_one_person_give_one_pose(estimator) -> None:
    image = read_rgb("basketball1_left.jpg")
    first = estimator.estimate(image)
    twice = Roi.concatenate([first.next_rois, first.next_rois])
    result = estimator.estimate(image, followed_rois=twice, detect=False)
    assert len(result.poses) == 1
    assert result.dropped["duplicate"] == 1


@pytest.mark.parametrize("image_name", ["basketball1_left.jpg", "basketball2_left.jpg"])
def test_a_lying_person_the_detector_misses_is_found_by_the_pose_detector(
    estimator, image_name
) -> None:
    # The upright test photo turned a quarter: the person lies across the frame. The person
    # detector finds nobody; the pose detector over the whole frame (MediaPipe's first step)
    # does, and the pose covers the whole body (366 px tall upright).
    image = cv2.rotate(read_rgb(image_name), cv2.ROTATE_90_COUNTERCLOCKWISE)
    (boxes,) = estimator.detector.detect([image])
    assert len(boxes) == 0
    result = estimator.estimate(image, with_trace=True)
    assert len(result.poses) == 1
    assert np.ptp(result.poses.joints2d_px[0, :, 0]) > 300  # lying: long along x
    assert result.trace.sources.tolist() == ["pose_detector"]
    detector_only = PoseEstimator(
        estimator.detector,
        estimator.pose_model,
        replace(estimator.config, pose_detector_proposals="off"),
        estimator.aligner,
    )
    assert len(detector_only.estimate(image).poses) == 0


def test_the_trace_says_what_became_of_every_roi(estimator) -> None:
    image = read_rgb("vtest_frame450.jpg")  # 3 people and a traffic cone the detector boxes
    first = estimator.estimate(image)
    result = estimator.estimate(image, followed_rois=first.next_rois[[0]], with_trace=True)
    trace = result.trace
    assert trace.sources[0] == "followed" and np.isnan(trace.proposal_xyxy[0]).all()
    assert (trace.sources[1:] == "detector").all()
    assert len(trace.sources) == 1 + len(trace.detected_scores) - 1  # one box is followed
    assert sorted(trace.outcomes.tolist()) == ["kept"] * 3 + ["no_pose_presence"]
    kept = np.flatnonzero(trace.outcomes == "kept")
    assert sorted(trace.pose_index[kept].tolist()) == [0, 1, 2]
    assert (trace.pose_index[trace.outcomes != "kept"] == -1).all()
    for row in kept:
        np.testing.assert_allclose(
            trace.landmarks_px[row], result.poses.joints2d_px[trace.pose_index[row]], atol=1e-3
        )
    assert (trace.attempts >= 1).all() and (trace.attempts <= 3).all()
    assert estimator.estimate(image).trace is None  # only when asked for
