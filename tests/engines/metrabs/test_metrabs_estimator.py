"""The MeTRAbs engine end to end on the stand-in model: detect, crop, batch, decode,
reconstruct, select skeletons; and in the stream pipeline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.rois import roi_from_box
from posecast.engines.geometry.skeletons import conversion_matrix, get_skeleton
from posecast.engines.metrabs.estimator import MetrabsConfig, MetrabsEstimator
from posecast.errors import InvalidInputError
from posecast.pipeline.stream import StreamConfig, StreamPipeline
from testdata import read_clip_frames, read_rgb


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return read_rgb("vtest_frame300.jpg")


def test_estimate_finds_the_people_in_the_native_set(standin_estimator, frame) -> None:
    estimate = standin_estimator.estimate(frame)
    poses = estimate.poses
    assert poses.skeleton == "metrabs_42" and len(poses) >= 5
    assert np.isfinite(poses.joints_cam_m).all() and np.all(poses.joints_cam_m[..., 2] > 0)
    camera = Camera.from_fov(frame.shape[1], frame.shape[0])
    # 2D joints are the 3D joints' projections (MeTRAbs reports them so)
    np.testing.assert_allclose(poses.joints2d_px, camera.project(poses.joints_cam_m), atol=1e-3)
    assert set(estimate.timing_ms) == {"detect", "pose", "geometry", "total"}
    assert 0 < len(estimate.next_rois) <= len(poses)  # overlapping ones merged


def test_every_offered_skeleton_is_a_selection(standin_estimator, frame) -> None:
    poses = standin_estimator.estimate(frame).poses
    assert standin_estimator.default_skeleton == "smpl_24"
    for name in standin_estimator.output_skeletons:
        converted = poses.to_skeleton(name)
        assert converted.num_joints == get_skeleton(name).num_joints
        rows = np.argmax(conversion_matrix("metrabs_42", name), axis=1)
        np.testing.assert_array_equal(converted.joints_cam_m, poses.joints_cam_m[:, rows])
    with pytest.raises(InvalidInputError, match="no conversion"):
        poses.to_skeleton("blazepose_33")


@pytest.mark.parametrize("num_aug", [1, 5])
def test_a_person_does_not_depend_on_who_else_is_posed(standin_estimator, frame, num_aug) -> None:
    estimator = MetrabsEstimator(
        standin_estimator.detector,
        standin_estimator.crop_model,
        MetrabsConfig(num_augmentations=num_aug),
    )
    camera = Camera.from_fov(frame.shape[1], frame.shape[0])
    (found,) = estimator.detector.detect([frame])
    boxes, scores = found.boxes_xyxy.astype(np.float64), found.scores.astype(np.float64)
    everyone, _ = estimator._pose(frame, camera, boxes, scores)
    for index in (0, len(boxes) - 1):
        alone, _ = estimator._pose(
            frame, camera, boxes[index : index + 1], scores[index : index + 1]
        )
        np.testing.assert_array_equal(alone.joints_cam_m[0], everyone.joints_cam_m[index])


def test_speed_mode_follows_people_without_the_detector(standin_estimator, frame) -> None:
    first = standin_estimator.estimate(frame)
    followed = standin_estimator.estimate(frame, followed_rois=first.next_rois, detect=False)
    assert len(followed.poses) == len(first.next_rois)
    assert followed.timing_ms["detect"] < 1.0


def test_detected_boxes_of_followed_people_are_not_posed_twice(standin_estimator, frame) -> None:
    (found,) = standin_estimator.detector.detect([frame])
    followed = roi_from_box(found.boxes_xyxy[:3])  # followed persons' ROIs around their boxes
    both = standin_estimator.estimate(frame, followed_rois=followed, detect=True)
    assert len(both.poses) == len(found)


def test_no_people_is_an_empty_frame(standin_estimator) -> None:
    estimate = standin_estimator.estimate(np.zeros((240, 320, 3), np.uint8))
    assert len(estimate.poses) == 0 and estimate.poses.num_joints == 42


def test_distortion_and_extrinsics_are_taken_into_account(standin_estimator, frame) -> None:
    height, width = frame.shape[:2]
    plain = Camera.from_fov(width, height)
    camera = Camera(K=plain.K, distortion=np.array([-0.05, 0.01, 0.0, 0.0, 0.0]))
    poses = standin_estimator.estimate(frame, camera).poses
    assert len(poses)
    np.testing.assert_allclose(poses.joints2d_px, camera.project(poses.joints_cam_m), atol=1e-3)


def test_with_min_person_height_shares_the_models(standin_estimator) -> None:
    other = standin_estimator.with_min_person_height(40.0)
    assert other.crop_model is standin_estimator.crop_model
    assert other.detector.config.min_person_height_px == 40.0


def test_config_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="num_augmentations"):
        MetrabsConfig(num_augmentations=0)
    with pytest.raises(InvalidInputError, match="box_margin"):
        MetrabsConfig(box_margin=10.0)


def test_the_stream_pipeline_tracks_metrabs_poses(standin_estimator) -> None:
    pipeline = StreamPipeline(standin_estimator, StreamConfig(skeleton="metrabs_coco_19"))
    for index, image in enumerate(read_clip_frames(3)):
        tracked = pipeline.process(image, index / 10.0)
    assert tracked.poses.skeleton == "metrabs_coco_19" and tracked.poses.num_joints == 19
    assert (tracked.poses.track_ids >= 0).any()
    assert set(tracked.placements) == {"monocular"}  # ground contact reads BlazePose's feet
    assert tracked.poses.appearance is None or len(tracked.poses.appearance) == len(tracked.poses)


def test_the_stream_config_refuses_formats_the_engine_does_not_offer(standin_estimator) -> None:
    config = replace(StreamConfig(), skeleton="blazepose_33")
    pipeline = StreamPipeline(standin_estimator, config)
    with pytest.raises(InvalidInputError, match="no conversion"):
        pipeline.process(read_clip_frames(1)[0], 0.0)
