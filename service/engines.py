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
        sizes = self._batching.run_batch_sizes
        if isinstance(direct, MetrabsEstimator):
            self.estimator = await self._start_metrabs(direct, sizes)
            return
        # The detector batches frames of different sizes at their common canvas (its own
        # run_batch pads them); the crop models stack same-size crops.
        await asyncio.to_thread(direct.detector.warm_up, sizes)
        detector = self._batched("detector", direct.detector.runtime, direct.detector.run_batch)
        pose_runtime = direct.pose_model.runtime
        await asyncio.to_thread(warm_up, pose_runtime, sizes)
        pose = self._batched("pose", pose_runtime, stacking_run_batch(pose_runtime))
        aligner = None
        if direct.aligner is not None:
            aligner_runtime = direct.aligner.runtime
            await asyncio.to_thread(warm_up, aligner_runtime, sizes)
            aligner = PoseAlignmentDetector(
                self._batched("alignment", aligner_runtime, stacking_run_batch(aligner_runtime)),
                direct.aligner.config,
            )
        self.estimator = PoseEstimator(
            direct.detector.with_runtime(detector),
            BlazePoseLandmarkModel(pose, direct.pose_model.config),
            direct.config,
            aligner,
        )

    async def _start_metrabs(
        self, direct: MetrabsEstimator, sizes: tuple[int, ...]
    ) -> MetrabsEstimator:
        """The detector and the MeTRAbs crop model behind batchers: the crops of every
        person of every stream's frames share crop model runs."""
        await asyncio.to_thread(direct.detector.warm_up, sizes)
        detector = self._batched("detector", direct.detector.runtime, direct.detector.run_batch)
        crop_runtime = direct.crop_model.runtime
        await asyncio.to_thread(warm_up, crop_runtime, sizes)
        crops = self._batched("metrabs", crop_runtime, stacking_run_batch(crop_runtime))
        return direct.with_runtimes(
            direct.detector.with_runtime(detector), direct.crop_model.with_runtime(crops)
        )

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
