"""A Runtime whose batches go through a shared dynamic batcher.

Model wrappers call ``runtime.infer`` synchronously on worker threads (one per stream's
frame). Giving them a ``BatchedRuntime`` instead of the real runtime sends every item of
their batch to one ``DynamicBatcher`` on the event loop, so the crops of many streams and
frames share model runs while the wrappers stay unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import numpy as np

from posecast.engines.batcher import DynamicBatcher
from posecast.engines.runtimes import Runtime
from posecast.engines.runtimes.base import ClosingContext

BatchItem = Mapping[str, np.ndarray]


class BatchedRuntime(ClosingContext):
    """``Runtime`` over a ``DynamicBatcher`` running on ``loop``; call ``infer`` off the loop."""

    def __init__(
        self,
        runtime: Runtime,
        batcher: DynamicBatcher[BatchItem, dict[str, np.ndarray]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.inputs = runtime.inputs
        self.outputs = runtime.outputs
        self._batcher = batcher
        self._loop = loop

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Submit each item of the batch and wait for all; outputs in item order."""
        if _running_loop() is self._loop:
            raise RuntimeError("BatchedRuntime.infer blocks: call it from a worker thread")
        for spec in self.inputs:
            spec.check(feeds[spec.name])
        count = len(feeds[self.inputs[0].name])
        futures = [
            asyncio.run_coroutine_threadsafe(
                self._batcher.submit({name: value[index] for name, value in feeds.items()}),
                self._loop,
            )
            for index in range(count)
        ]
        results = [future.result() for future in futures]
        return {
            spec.name: np.stack([result[spec.name] for result in results])
            if results
            else np.zeros((0, *(dim or 0 for dim in spec.shape[1:])), spec.dtype)
            for spec in self.outputs
        }

    def close(self) -> None:
        """The batcher and the real runtime belong to whoever made them."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
