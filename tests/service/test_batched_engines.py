"""Dynamic batching inside PoseEngines: same skeletons as unbatched, shared across streams."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from posecast.engines.batched_runtime import BatchedRuntime
from posecast.engines.batcher import BatcherConfig
from posecast.service.session import PoseEngines, StreamConfig, StreamSession
from testdata import SAMPLE_CLIP


class RecordingObserver:
    """Collects the batch sizes each model ran."""

    def __init__(self) -> None:
        self.batch_sizes: dict[str, list[int]] = {}

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float):
        self.batch_sizes.setdefault(name, []).append(batch_size)

    def on_reject(self, name: str, reason: str) -> None:
        raise AssertionError(f"{name} rejected an item: {reason}")


def _frames(count: int, start: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(count)]
    capture.release()
    return frames


async def _track(engines: PoseEngines, frames: list[np.ndarray]):
    session = StreamSession(engines, StreamConfig())
    return [await session.process(frame, index / 10) for index, frame in enumerate(frames)]


async def _two_streams(engines: PoseEngines, first, second):
    async with engines:
        return await asyncio.gather(_track(engines, first), _track(engines, second))


def test_batched_streams_give_the_unbatched_skeletons(estimator) -> None:
    first, second = _frames(4, 0), _frames(4, 60)
    direct = PoseEngines(estimator)
    expected = [asyncio.run(_track(direct, frames)) for frames in (first, second)]
    observer = RecordingObserver()
    batched = PoseEngines(estimator, BatcherConfig(max_batch_size=8, max_delay_s=0.005), observer)
    results = asyncio.run(_two_streams(batched, first, second))
    for stream_expected, stream_results in zip(expected, results, strict=True):
        for want, got in zip(stream_expected, stream_results, strict=True):
            np.testing.assert_array_equal(got.poses.track_ids, want.poses.track_ids)
            np.testing.assert_allclose(got.poses.joints_cam_m, want.poses.joints_cam_m, atol=1e-3)
            np.testing.assert_allclose(got.poses.joints2d_px, want.poses.joints2d_px, atol=1e-2)
    # the crops of both streams' frames were batched together
    assert max(observer.batch_sizes["pose"]) > 1
    assert set(observer.batch_sizes) == {"detector", "pose", "alignment"}


def test_engines_without_batching_call_the_models_directly(estimator) -> None:
    engines = PoseEngines(estimator)
    asyncio.run(engines.start())
    assert engines.estimator is estimator


def test_batched_runtime_refuses_to_block_the_event_loop(estimator) -> None:
    async def call_on_loop() -> None:
        async with PoseEngines(estimator, BatcherConfig()) as engines:
            runtime = engines.estimator.pose_model.runtime
            assert isinstance(runtime, BatchedRuntime)
            runtime.infer({"image": np.zeros((1, 256, 256, 3), np.float32)})

    with pytest.raises(RuntimeError, match="worker thread"):
        asyncio.run(call_on_loop())
