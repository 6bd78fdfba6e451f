"""Dynamic batching inside PoseEngines: same skeletons as unbatched, shared across streams."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from posecast.engines.batched_runtime import BatchedRuntime
from posecast.engines.batcher import BatcherConfig
from posecast.engines.detectors.base import PersonBoxes
from posecast.engines.geometry.boxes import box_iou
from posecast.pipeline.stream import FrameEstimator, StreamPipeline, TrackedFrame
from posecast.service.engines import PoseEngines
from testdata import read_clip_frames

CLEAR_MARGIN = 0.1
"""Score above the detector's threshold that padding to a larger canvas never crosses."""


class RecordingObserver:
    """Collects the batch sizes each model ran."""

    def __init__(self) -> None:
        self.batch_sizes: dict[str, list[int]] = {}

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float):
        self.batch_sizes.setdefault(name, []).append(batch_size)

    def on_reject(self, name: str, reason: str) -> None:
        raise AssertionError(f"{name} rejected an item: {reason}")


def _track(estimator: FrameEstimator, frames: list[np.ndarray]) -> list[TrackedFrame]:
    pipeline = StreamPipeline(estimator)
    return [pipeline.process(frame, index / 10) for index, frame in enumerate(frames)]


async def _two_streams(engines: PoseEngines, first, second):
    async with engines:
        return await asyncio.gather(
            asyncio.to_thread(_track, engines.estimator, first),
            asyncio.to_thread(_track, engines.estimator, second),
        )


def test_batched_streams_give_the_unbatched_skeletons(estimator) -> None:
    first, second = read_clip_frames(4, 0), read_clip_frames(4, 60)
    expected = [_track(estimator, frames) for frames in (first, second)]
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
    assert batched.estimator is estimator  # stopped: back to the direct models


def test_batched_runtime_refuses_to_block_the_event_loop(estimator) -> None:
    async def call_on_loop() -> None:
        async with PoseEngines(estimator, BatcherConfig()) as engines:
            runtime = engines.estimator.pose_model.runtime
            assert isinstance(runtime, BatchedRuntime)
            runtime.infer({"image": np.zeros((1, 256, 256, 3), np.float32)})

    with pytest.raises(RuntimeError, match="worker thread"):
        asyncio.run(call_on_loop())


def test_frames_of_different_sizes_share_detector_batches(estimator) -> None:
    """A 768 x 576 stream and a 576 x 432 one: their detector inputs (different canvases) run
    in one batch at their common canvas. Padding moves scores by a few hundredths, so the
    people found with a clear margin are found in both."""
    frames = read_clip_frames(4, 0)
    crops = [np.ascontiguousarray(frame[72:504, 96:672]) for frame in read_clip_frames(4, 60)]
    observer = RecordingObserver()
    engines = PoseEngines(estimator, BatcherConfig(max_batch_size=4, max_delay_s=0.05), observer)

    async def detect_both() -> list[list[PersonBoxes]]:
        async with engines:
            detector = engines.estimator.detector
            return await asyncio.gather(
                *(asyncio.to_thread(lambda f=f: detector.detect([f])[0]) for f in frames),
                *(asyncio.to_thread(lambda f=f: detector.detect([f])[0]) for f in crops),
            )

    batched = asyncio.run(detect_both())
    assert max(observer.batch_sizes["detector"]) > 1
    for image, got in zip(frames + crops, batched, strict=True):
        (alone,) = estimator.detector.detect([image])
        clear_score = estimator.detector.config.score_threshold + CLEAR_MARGIN
        clear = alone.boxes_xyxy[alone.scores >= clear_score]
        if len(clear):
            assert len(got) and box_iou(clear, got.boxes_xyxy).max(axis=1).min() > 0.7
