"""The detector behind the shared dynamic batcher, as the service runs it: frames of different
sizes from concurrent callers share one model run at their common canvas."""

from __future__ import annotations

import asyncio

import numpy as np

from posecast.engines.batched_runtime import BatchedRuntime
from posecast.engines.batcher import BatcherConfig, DynamicBatcher
from posecast.engines.geometry.boxes import box_iou
from testdata import read_rgb


def test_frames_of_different_sizes_share_batches_and_keep_their_boxes(detector) -> None:
    images = [
        read_rgb("vtest_frame300.jpg"),  # 768 x 576 -> 384 x 288 input
        read_rgb("basketball1_left.jpg"),  # 330 x 480 -> 192 x 256
        read_rgb("messi5.jpg"),  # 548 x 342 -> 288 x 192
        read_rgb("vtest_frame000.jpg"),
    ]
    alone = [detector.detect([image])[0] for image in images]
    batch_sizes = []

    def run_batch(items):
        batch_sizes.append(len(items))
        return detector.run_batch(items)

    async def run() -> list:
        config = BatcherConfig(max_batch_size=4, max_delay_s=0.05)
        async with DynamicBatcher(run_batch, config, name="detector") as batcher:
            batched = detector.with_runtime(
                BatchedRuntime(detector.runtime, batcher, asyncio.get_running_loop())
            )
            # One frame per caller, as streams do, each on its worker thread.
            return await asyncio.gather(
                *(asyncio.to_thread(batched.detect, [image]) for image in images)
            )

    results = [boxes for (boxes,) in asyncio.run(run())]
    assert max(batch_sizes) > 1, "the frames were batched together"
    for expected, actual in zip(alone, results, strict=True):
        confident = expected.scores > 0.5
        iou = box_iou(expected.boxes_xyxy[confident], actual.boxes_xyxy)
        assert np.all(iou.max(axis=1, initial=0.0) > 0.9)
        assert abs(int(np.sum(actual.scores > 0.5)) - int(confident.sum())) <= 1


def test_warm_up_runs_the_input_of_a_frame_size(detector) -> None:
    seen = []

    class Recording:
        inputs = detector.runtime.inputs
        outputs = detector.runtime.outputs

        def infer(self, feeds):
            seen.append(feeds["image"].shape)
            return detector.runtime.infer(feeds)

    detector.with_runtime(Recording()).warm_up([1, 2], (1280, 720))  # type: ignore[arg-type]
    assert seen == [(1, 384, 640, 3), (2, 384, 640, 3)]
