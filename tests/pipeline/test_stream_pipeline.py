"""The per-frame pipeline of one stream, run synchronously with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.camera import Camera
from posecast.errors import InvalidInputError
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame
from testdata import read_clip_frames


def _run(pipeline: StreamPipeline, frames: list[np.ndarray]) -> list[TrackedFrame]:
    return [pipeline.process(frame, index / 10) for index, frame in enumerate(frames)]


def test_speed_mode_detects_every_kth_frame_and_follows_the_same_people(estimator) -> None:
    frames = read_clip_frames(7)
    every = _run(StreamPipeline(estimator, StreamConfig()), frames)
    fast = _run(StreamPipeline(estimator, StreamConfig(detect_every=3)), frames)
    assert all(frame.was_detected for frame in every)
    detected = [frame.was_detected for frame in fast]
    # Detections come at least every 3rd frame; one comes earlier only when someone followed
    # was lost (a forced detection), so there are fewer than with detection on every frame.
    assert detected[0] and sum(detected) < len(frames)
    since = 0
    for is_detected in detected:
        since = 0 if is_detected else since + 1
        assert since < 3
    for slow_frame, fast_frame in zip(every, fast, strict=True):
        seen = slow_frame.poses[slow_frame.poses.track_states != "searching"]
        followed = fast_frame.poses[fast_frame.poses.track_states != "searching"]
        # a detection frame finds the people the detector finds (give or take one); a followed
        # frame only the people already known (newcomers wait for the next detection)
        if fast_frame.was_detected:
            assert abs(len(followed) - len(seen)) <= 1
        else:
            assert len(followed) <= len(seen) + 1
        offsets, heights = [], []
        for joints in followed.joints2d_px:
            distances = np.linalg.norm(seen.joints2d_px - joints, axis=-1).mean(axis=1)
            nearest = distances.argmin()
            offsets.append(distances[nearest])
            heights.append(np.ptp(seen.joints2d_px[nearest, :, 1]))
        if offsets:
            # the same person, posed from another ROI: typically 1 px on 50-90 px people
            assert np.median(offsets) < 3.0
            assert np.all(np.array(offsets) < 0.2 * np.array(heights))


def test_extrinsics_put_every_person_in_the_world_frame(estimator) -> None:
    (frame,) = read_clip_frames(1)
    height, width = frame.shape[:2]
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # camera looks along world y
    world_from_camera[:3, 3] = [1.0, 2.0, 3.0]
    camera = Camera.from_fov(width, height)
    camera = Camera(K=camera.K, world_from_camera=world_from_camera)
    config = StreamConfig(skeleton="smpl_24", camera=camera, is_tracking_enabled=False)
    tracked = StreamPipeline(estimator, config).process(frame, 0.0)
    poses = tracked.poses
    assert len(poses) > 0 and poses.joints_world_m is not None
    expected = poses.joints_cam_m @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]
    np.testing.assert_allclose(poses.joints_world_m, expected, atol=1e-4)
    without = StreamPipeline(estimator, StreamConfig(is_tracking_enabled=False)).process(frame, 0)
    assert without.poses.joints_world_m is None


def test_timestamps_must_increase(estimator) -> None:
    (frame,) = read_clip_frames(1)
    pipeline = StreamPipeline(estimator)
    pipeline.process(frame, 1.0)
    with pytest.raises(InvalidInputError, match="increase"):
        pipeline.process(frame, 1.0)


@pytest.mark.parametrize("detect_every", [0, 1001])
def test_detect_every_out_of_range_is_refused(detect_every: int) -> None:
    with pytest.raises(InvalidInputError, match="detect_every"):
        StreamConfig(detect_every=detect_every)


def test_a_stream_may_ask_for_its_own_smallest_person(estimator) -> None:
    """The stream's detector shares the models but sizes its input for its own smallest
    person: twice the height, half the input side (at most), and no more people found."""
    (frame,) = read_clip_frames(1)
    default = StreamPipeline(estimator, StreamConfig(is_tracking_enabled=False))
    coarse = StreamPipeline(
        estimator, StreamConfig(is_tracking_enabled=False, min_person_height_px=400.0)
    )
    assert coarse.estimator.detector.runtime is estimator.detector.runtime
    size_wh = (frame.shape[1], frame.shape[0])
    default_side = max(default.estimator.detector.input_letterbox(size_wh).canvas_size_wh)
    coarse_side = max(coarse.estimator.detector.input_letterbox(size_wh).canvas_size_wh)
    assert coarse_side < default_side
    assert len(coarse.process(frame, 0.0).poses) <= len(default.process(frame, 0.0).poses)
