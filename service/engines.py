"""The models every stream shares, each behind one dynamic batcher.

``start()`` warms up every batch size a batcher can send, then puts one ``DynamicBatcher``
in front of each model (detector, alignment detector, landmark model): the frames and crops
of concurrent streams share model runs. ``estimator`` is then a ``PoseEstimator`` over the
batched runtimes; sessions call it on worker threads (``posecast.pipeline``), where a model
call waits for its batch without blocking the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import numpy as np

from posecast.engines.batched_runtime import BatchedRuntime
from posecast.engines.batcher import (
    BatcherConfig,
    BatcherObserver,
    DynamicBatcher,
    stacking_run_batch,
)
from posecast.engines.blazepose import BlazePoseLandmarkModel
from posecast.engines.detectors.base import PersonDetector
from posecast.engines.estimator import PoseEstimator
from posecast.engines.metrabs.estimator import MetrabsEstimator
from posecast.engines.pose_alignment import PoseAlignmentDetector
from posecast.engines.runtimes import Runtime, warm_up
from posecast.pipeline.stream import FrameEstimator

RunBatch = Callable[[list[Mapping[str, np.ndarray]]], list[dict[str, np.ndarray]]]
"""A model's batch function: per-item named inputs -> per-item named outputs."""


class PoseEngines:
    """Shared models behind dynamic batchers; ``estimator`` is the one sessions use."""

    def __init__(
        self,
        estimator: PoseEstimator | MetrabsEstimator,
        batching: BatcherConfig,
        observer: BatcherObserver | None = None,
    ) -> None:
        self._direct_estimator = estimator
        self._batching = batching
        self._observer = observer
        self._batchers: list[DynamicBatcher] = []
        self.estimator: FrameEstimator = estimator

    async def start(self) -> None:
        """Warm up every batch size the models will see and start the batchers; call on the
        serving loop."""
        if self._batchers:
            return
        direct = self._direct_estimator
        if isinstance(direct, MetrabsEstimator):
            self.estimator = await self._start_metrabs(direct)
            return
        detector = await self._batched_detector(direct.detector)
        pose = await self._batched_crops("pose", direct.pose_model.runtime)
        aligner = None
        if direct.aligner is not None:
            aligner = PoseAlignmentDetector(
                await self._batched_crops("alignment", direct.aligner.runtime),
                direct.aligner.config,
            )
        self.estimator = PoseEstimator(
            direct.detector.with_runtime(detector),
            BlazePoseLandmarkModel(pose, direct.pose_model.config),
            direct.config,
            aligner,
        )

    async def _start_metrabs(self, direct: MetrabsEstimator) -> MetrabsEstimator:
        """The detector and the MeTRAbs crop model behind batchers: the crops of every
        person of every stream's frames share crop model runs."""
        detector = await self._batched_detector(direct.detector)
        crops = await self._batched_crops("metrabs", direct.crop_model.runtime)
        return direct.with_runtimes(
            direct.detector.with_runtime(detector), direct.crop_model.with_runtime(crops)
        )

    async def _batched_detector(self, detector: PersonDetector) -> BatchedRuntime:
        """The detector warmed up and behind a batcher: it batches frames of different sizes
        at their common canvas (its own ``run_batch`` pads them)."""
        await asyncio.to_thread(detector.warm_up, self._batching.run_batch_sizes)
        return self._batched("detector", detector.runtime, detector.run_batch)

    async def _batched_crops(self, name: str, runtime: Runtime) -> BatchedRuntime:
        """A crop model warmed up and behind a batcher that stacks same-size crops."""
        await asyncio.to_thread(warm_up, runtime, self._batching.run_batch_sizes)
        return self._batched(name, runtime, stacking_run_batch(runtime))

    def _batched(self, name: str, runtime: Runtime, run_batch: RunBatch) -> BatchedRuntime:
        batcher = DynamicBatcher(run_batch, self._batching, name=name, observer=self._observer)
        batcher.start()
        self._batchers.append(batcher)
        return BatchedRuntime(runtime, batcher, asyncio.get_running_loop())

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Finish queued model runs (up to the timeout) and stop the batchers."""
        batchers, self._batchers = self._batchers, []
        for batcher in batchers:
            await batcher.stop(drain_timeout_s)
        self.estimator = self._direct_estimator

    async def __aenter__(self) -> PoseEngines:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
