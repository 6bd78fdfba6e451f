"""Speed mode of a stream session: detect every k-th frame, follow people in between."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from posecast.service.session import PoseEngines, StreamConfig, StreamSession
from testdata import SAMPLE_CLIP


def _clip_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(count)]
    capture.release()
    return frames


async def _run(session: StreamSession, frames: list[np.ndarray]):
    return [await session.process(frame, index / 10) for index, frame in enumerate(frames)]


@pytest.fixture(scope="module")
def engines(estimator) -> PoseEngines:
    return PoseEngines(estimator)


def test_detects_every_kth_frame_and_follows_the_same_people(engines) -> None:
    frames = _clip_frames(7)
    every = asyncio.run(_run(StreamSession(engines, StreamConfig()), frames))
    fast = asyncio.run(_run(StreamSession(engines, StreamConfig(detect_every=3)), frames))
    assert all(frame.was_detected for frame in every)
    assert [frame.was_detected for frame in fast][:4] == [True, False, False, True]
    for slow_frame, fast_frame in zip(every, fast, strict=True):
        seen = slow_frame.poses[slow_frame.poses.track_states != "searching"]
        followed = fast_frame.poses[fast_frame.poses.track_states != "searching"]
        # a followed frame finds the people the detector found (give or take one)
        assert abs(len(followed) - len(seen)) <= 1
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


def test_invalid_detect_every_is_rejected() -> None:
    with pytest.raises(ValueError, match="detect_every"):
        StreamConfig(detect_every=0)
