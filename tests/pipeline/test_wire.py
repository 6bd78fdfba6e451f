"""Between the pipeline's records and the wire schema."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.frames import FramePoses
from posecast.engines.geometry.scene import SceneState
from posecast.errors import InvalidInputError
from posecast.pipeline.wire import (
    persons_from_poses,
    poses_from_message,
    single_image_message,
    stream_config_from_message,
)
from posecast.tracker.config import AssociationMode
from posecast.wire.messages import FrameMessage
from posecast.wire.protocol import ConfigMessage, parse_control


def test_config_message_builds_the_stream_config() -> None:
    control = parse_control(
        '{"type": "config", "stream": "c", "skeleton": "smpl_24", "fov_deg": 70,'
        ' "tracker": {"confirm_hits": 2}, "smoothing": {"is_enabled": false},'
        ' "references": [{"id": 4, "joints2d": [[1, 2], [3, 4]], "confidence": [1, 0.5]}]}'
    )
    assert isinstance(control, ConfigMessage)
    config = stream_config_from_message(control, "blazepose_33")
    assert config.skeleton == "smpl_24" and config.fov_deg == 70
    assert config.tracker.confirm_hits == 2 and not config.tracker.smoothing.is_enabled
    assert config.tracker.association is AssociationMode.UNKNOWN  # implied by references
    assert config.references is not None and config.references[0].ids.tolist() == [4]


def test_poses_survive_the_wire_world_joints_included() -> None:
    rng = np.random.default_rng(0)
    poses = FramePoses(
        skeleton="coco_17",
        boxes_xyxy=np.array([[1, 2, 30, 40]], np.float32),
        scores=np.array([0.9], np.float32),
        joints2d_px=rng.uniform(0, 100, (1, 17, 2)).astype(np.float32),
        joints_cam_m=rng.uniform(1, 5, (1, 17, 3)).astype(np.float32),
        joint_scores=np.full((1, 17), 0.8, np.float32),
        joints_world_m=rng.uniform(-5, 5, (1, 17, 3)).astype(np.float32),
    )
    message = single_image_message(poses, 64, 48, {"total": 1.0})
    back = poses_from_message(FrameMessage.model_validate_json(message.model_dump_json()))
    np.testing.assert_allclose(back.joints_cam_m, poses.joints_cam_m, atol=1e-4)
    np.testing.assert_allclose(back.joints_world_m, poses.joints_world_m, atol=1e-4)
    np.testing.assert_allclose(back.joints2d_px, poses.joints2d_px, atol=1e-2)
    assert persons_from_poses(poses[[]]) == []


def test_config_message_gives_a_scene_and_the_scene_settings() -> None:
    control = parse_control(
        '{"type": "config", "intrinsics": {"K": [[800, 0, 320], [0, 800, 240], [0, 0, 1]],'
        ' "image_size": [640, 480], "ground": {"camera_height_m": 3, "pitch_deg": 20,'
        ' "roll_deg": 0}}, "calibration": {"stature_prior_m": 1.6},'
        ' "placement": {"monocular_scale": 1.1, "is_enabled": false}}'
    )
    config = stream_config_from_message(control, "blazepose_33")
    assert config.scene.state is SceneState.GIVEN and config.scene.image_size_wh == (640, 480)
    assert config.scene.ground.camera_height_m == 3
    assert config.calibration.stature_prior_m == 1.6
    assert config.placement.monocular_scale == 1.1 and not config.placement.is_enabled


@pytest.mark.parametrize(
    ("intrinsics", "message"),
    [
        ('{"K": [[800, 0, 320], [0, 800, 240], [0, 0, 1]], "ground": {"pitch_deg": 3}}', "ground"),
        ('{"K": [[800, 0, 320], [0, 800, 240], [0, 0, 1]], "floor": 1}', "unknown keys"),
    ],
)
def test_a_bad_scene_in_the_config_is_a_clear_error(intrinsics: str, message: str) -> None:
    control = parse_control(f'{{"type": "config", "intrinsics": {intrinsics}}}')
    with pytest.raises(InvalidInputError, match=message):
        stream_config_from_message(control, "blazepose_33")


def test_old_lines_without_placement_or_scene_still_parse() -> None:
    line = (
        '{"type": "frame", "stream": "s", "frame": 3, "timestamp": 0.3, "width": 64,'
        ' "height": 48, "skeleton": "coco_17", "persons": [{"track_id": 1, "state":'
        ' "confirmed", "score": 0.9, "box": [1, 2, 3, 4], "joints3d": [[0, 0, 1]],'
        ' "joints2d": [[1, 1]], "confidence": [1]}]}'
    )
    message = FrameMessage.model_validate_json(line)
    assert message.scene is None and message.persons[0].placement is None
    assert len(poses_from_message(message)) == 1


def test_placements_go_on_the_wire() -> None:
    rng = np.random.default_rng(1)
    poses = FramePoses(
        skeleton="coco_17",
        boxes_xyxy=np.array([[1, 2, 30, 40]] * 2, np.float32),
        scores=np.array([0.9, 0.8], np.float32),
        joints2d_px=rng.uniform(0, 100, (2, 17, 2)).astype(np.float32),
        joints_cam_m=rng.uniform(1, 5, (2, 17, 3)).astype(np.float32),
        joint_scores=np.full((2, 17), 0.8, np.float32),
    )
    persons = persons_from_poses(poses, np.array(["ground", ""]))
    assert [p.placement for p in persons] == ["ground", None]


@pytest.mark.parametrize(
    ("config", "include_predicted"),
    [
        ('{"type": "config"}', False),  # default: the people seen in each frame
        ('{"type": "config", "include_predicted": true}', True),
    ],
)
def test_config_message_sets_the_output_policy(config: str, include_predicted: bool) -> None:
    control = parse_control(config)
    assert isinstance(control, ConfigMessage)
    assert (
        stream_config_from_message(control, "blazepose_33").include_predicted is include_predicted
    )


def test_predicted_rows_are_marked_on_the_wire() -> None:
    rng = np.random.default_rng(2)
    poses = FramePoses(
        skeleton="coco_17",
        boxes_xyxy=np.array([[1, 2, 30, 40]] * 3, np.float32),
        scores=np.array([0.9, 0.0, 0.0], np.float32),
        joints2d_px=rng.uniform(0, 100, (3, 17, 2)).astype(np.float32),
        joints_cam_m=rng.uniform(1, 5, (3, 17, 3)).astype(np.float32),
        joint_scores=np.full((3, 17), 0.8, np.float32),
        track_ids=np.array([1, 2, 3]),
        track_states=np.array(["confirmed", "searching", "terminated"]),
    )
    persons = persons_from_poses(poses)
    assert [p.predicted for p in persons] == [False, True, True]
    message = FrameMessage.model_validate_json(
        FrameMessage(
            frame=0, timestamp=0.0, width=9, height=9, skeleton="coco_17", persons=persons
        ).model_dump_json()
    )
    assert [p.predicted for p in message.persons] == [False, True, True]
