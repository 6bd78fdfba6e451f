"""A stream's scene: self-calibration from the people it sees, placement, the world frame,
and what the messages say; with a fake estimator that reports synthetic people."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera, world_to_camera
from posecast.engines.geometry.ground import GroundPlane, heights_above_ground_m
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.scene import Scene, SceneState
from posecast.engines.geometry.scene_config import CalibrationConfig
from posecast.pipeline.scene import (
    StreamScene,
    placements_after_tracking,
    scene_of_camera,
    with_world_joints,
)
from posecast.pipeline.stream import StreamConfig, StreamPipeline
from posecast.pipeline.wire import frame_message
from posecast.wire.messages import FrameMessage
from synthetic.ground_scenes import GroundScene, GroundSceneConfig, generate_ground_scene

SCENE = GroundSceneConfig(seed=11, num_people=10, frames_per_person=40, noise_fraction=0.01)
SIZE_BIAS = 0.92
"""The fake pose model's skeletons are this much too small (so this much too near)."""


class SyntheticEstimator:
    """Reports the people of a synthetic scene, frame by frame, as a pose model would: noisy
    2D landmarks and skeletons placed monocularly, ``SIZE_BIAS`` too small."""

    def __init__(self, scene: GroundScene) -> None:
        self.scene = scene
        self.frame = 0
        self.cameras: list[Camera] = []

    def estimate(self, image_rgb, camera=None, followed_rois=None, detect=True) -> FrameEstimate:
        self.cameras.append(camera)
        rows = np.flatnonzero(self.scene.frame_indices == self.frame)
        self.frame += 1
        joints2d = self.scene.joints2d_px[rows]
        poses = FramePoses(
            skeleton="blazepose_33",
            boxes_xyxy=np.concatenate([joints2d.min(axis=1), joints2d.max(axis=1)], axis=1),
            scores=np.full(len(rows), 0.9),
            joints2d_px=joints2d,
            joints_cam_m=self.scene.joints_cam_m[rows] * SIZE_BIAS,
            joint_scores=self.scene.joint_scores[rows],
        )
        return FrameEstimate(poses, {"total": 0.0}, {}, Roi.empty())


def run_stream(config: StreamConfig, scene: GroundScene, frames: int):
    estimator = SyntheticEstimator(scene)
    pipeline = StreamPipeline(estimator, config)
    width, height = SCENE.image_size_wh
    image = np.zeros((height, width, 3), np.uint8)
    tracked = [pipeline.process(image, index * SCENE.frame_interval_s) for index in range(frames)]
    return pipeline, estimator, tracked


@pytest.fixture(scope="module")
def scene() -> GroundScene:
    return generate_ground_scene(SCENE)


def test_a_stream_calibrates_itself_and_places_people_on_the_ground(scene: GroundScene) -> None:
    frames = int(scene.frame_indices.max()) + 1
    config = StreamConfig(calibration=CalibrationConfig(refit_every_frames=40))
    _, estimator, tracked = run_stream(config, scene, frames)
    states = [frame.scene.state for frame in tracked]
    assert states[0] is SceneState.CALIBRATING
    assert states[-1] is SceneState.CALIBRATED
    first = states.index(SceneState.CALIBRATED)
    # The estimated focal length goes to the estimator once calibrated.
    assert estimator.cameras[first + 1].K[0, 0] != estimator.cameras[0].K[0, 0]
    assert abs(estimator.cameras[-1].K[0, 0] / scene.K[0, 0] - 1) < 0.1
    # Before: everyone monocular; after: (almost) everyone on the ground, within ~5 % of
    # the true range despite the skeletons' 8 % size bias.
    before = np.concatenate([frame.placements for frame in tracked[:first]])
    assert set(before) <= {"monocular", ""}
    after = [frame for frame in tracked[first + 1 :] if len(frame.poses)]
    labels = np.concatenate([frame.placements[frame.poses.scores > 0] for frame in after])
    assert np.mean(labels == "ground") > 0.9
    errors = []
    for frame in after:
        index = round(frame.timestamp_s / SCENE.frame_interval_s)
        truth = scene.joints_cam_m[scene.frame_indices == index]
        placed = frame.poses.joints_cam_m[frame.poses.scores > 0]
        for person in placed:
            nearest = np.linalg.norm(truth.mean(axis=1) - person.mean(axis=0), axis=1).min()
            errors.append(nearest / np.linalg.norm(person.mean(axis=0)))
    assert np.median(errors) < 0.06
    # The world frame: z up, feet on the ground.
    last = after[-1].poses[after[-1].poses.scores > 0]
    assert last.joints_world_m is not None
    assert np.abs(last.joints_world_m[:, 29:33, 2].min(axis=1)).max() < 0.25
    # The message says so.
    message = frame_message(after[-1], "cam")
    assert message.scene.state == "calibrated" and message.scene.camera_height_m > 0
    assert {p.placement for p in message.persons} <= {"ground", "monocular", None}
    assert FrameMessage.model_validate_json(message.model_dump_json()) == message


def test_a_given_ground_is_used_and_never_estimated(scene: GroundScene) -> None:
    given = Scene(camera=Camera(K=scene.K), ground=scene.plane, state=SceneState.GIVEN)
    frames = int(scene.frame_indices.max()) + 1
    pipeline, estimator, tracked = run_stream(StreamConfig(scene=given), scene, frames)
    assert all(frame.scene.state is SceneState.GIVEN for frame in tracked)
    assert pipeline.scene.estimate is None and not pipeline.scene.is_estimating
    assert all(camera.K is given.camera.K for camera in estimator.cameras)
    placed = np.concatenate([f.placements[f.poses.scores > 0] for f in tracked])
    assert np.mean(placed == "ground") > 0.9


def test_a_given_intrinsics_is_kept_while_the_ground_is_estimated(scene: GroundScene) -> None:
    config = StreamConfig(
        camera=Camera(K=scene.K), calibration=CalibrationConfig(refit_every_frames=40)
    )
    pipeline, estimator, tracked = run_stream(config, scene, int(scene.frame_indices.max()) + 1)
    assert tracked[-1].scene.state is SceneState.CALIBRATED
    np.testing.assert_array_equal(estimator.cameras[-1].K, scene.K)
    assert pipeline.scene.estimate.focal_px_sd == 0.0
    height = pipeline.scene.estimate.ground.camera_height_m
    assert abs(height / SCENE.camera_height_m - 1) < 0.06


def test_without_self_calibration_the_scene_stays_uncalibrated(scene: GroundScene) -> None:
    config = StreamConfig(calibration=CalibrationConfig(is_enabled=False))
    _, _, tracked = run_stream(config, scene, 60)
    assert all(frame.scene.state is SceneState.UNCALIBRATED for frame in tracked)
    assert all(set(frame.placements) <= {"monocular", ""} for frame in tracked)
    assert all(frame.poses.joints_world_m is None for frame in tracked)


def test_one_person_is_not_enough_and_the_message_says_why() -> None:
    lonely = generate_ground_scene(GroundSceneConfig(seed=12, num_people=1, frames_per_person=60))
    config = StreamConfig(calibration=CalibrationConfig(refit_every_frames=10))
    _, _, tracked = run_stream(config, lonely, int(lonely.frame_indices.max()) + 1)
    assert tracked[-1].scene.state is SceneState.CALIBRATING
    assert "not enough evidence" in tracked[-1].scene.detail
    assert "distinct people" in tracked[-1].scene.detail
    assert frame_message(tracked[-1], "cam").scene.detail == tracked[-1].scene.detail


def test_placements_follow_the_tracker_rows() -> None:
    def poses(offsets: list[float]) -> FramePoses:
        n = len(offsets)
        joints = (
            np.arange(33 * 2, dtype=np.float32).reshape(1, 33, 2) + np.array(offsets)[:, None, None]
        )
        return FramePoses(
            "blazepose_33",
            np.concatenate([joints.min(axis=1), joints.max(axis=1)], axis=1),
            np.ones(n, np.float32),
            joints,
            np.ones((n, 33, 3), np.float32),
            np.ones((n, 33), np.float32),
        )

    detections = poses([0.0, 100.0])
    tracked = FramePoses.concatenate([detections[[1, 0]], poses([500.0])])
    labels = placements_after_tracking(detections, np.array(["ground", "monocular"]), tracked)
    assert list(labels) == ["monocular", "ground", ""]


def test_world_joints_round_trip() -> None:
    plane = GroundPlane.from_angles(math.radians(20), math.radians(3), 5.0)
    scene = Scene(camera=Camera.from_fov(640, 480), ground=plane, state=SceneState.GIVEN)
    joints = np.random.default_rng(0).normal(size=(2, 33, 3)) + np.array([0.0, 0.0, 8.0])
    poses = FramePoses(
        "blazepose_33",
        np.zeros((2, 4)),
        np.ones(2),
        np.zeros((2, 33, 2)),
        joints.astype(np.float32),
        np.ones((2, 33)),
    )
    world = with_world_joints(poses, scene).joints_world_m
    back = world_to_camera(world.astype(np.float64), scene.world_from_camera)
    np.testing.assert_allclose(back, joints, atol=1e-4)
    np.testing.assert_allclose(world[..., 2], heights_above_ground_m(joints, plane), atol=1e-4)


def test_scene_of_a_camera() -> None:
    camera = Camera.from_fov(640, 480)
    assert scene_of_camera(camera).state is SceneState.UNCALIBRATED
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    world_from_camera[:3, 3] = [0.0, 0.0, -2.0]  # below z = 0: extrinsics without a ground
    scene = scene_of_camera(Camera(K=camera.K, world_from_camera=world_from_camera))
    assert scene.state is SceneState.GIVEN and scene.ground is None
    stream = StreamScene(scene, 55.0)
    assert not stream.is_estimating and stream.current(640, 480).state is SceneState.GIVEN
