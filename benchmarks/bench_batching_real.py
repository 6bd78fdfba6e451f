"""Real models with and without dynamic batching, for 1, 4 and 8 concurrent streams.

Each stream tracks its own stretch of the pedestrian clip through a ``StreamPipeline`` on its
own worker thread (as in the service); the streams share one estimator, either calling the
models directly or through one dynamic batcher per model (``PoseEngines``). Crops/s counts
the landmark-model items actually run. All rows come from one run.

    python benchmarks/bench_batching_real.py [--frames N] [--threads T]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from clip import read_frames

from posecast.engines.batcher import BatcherConfig
from posecast.engines.estimator import PoseEstimator
from posecast.engines.runtimes import Runtime, RuntimeOptions, warm_up
from posecast.pipeline.stream import FrameEstimator, StreamPipeline
from posecast.service.engines import PoseEngines

CLIP = Path(__file__).parent.parent / "samples" / "vtest_excerpt.mp4"


class CountingRuntime:
    """Counts the items that go through a runtime (the landmark model's crops)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.inputs, self.outputs = runtime, runtime.inputs, runtime.outputs
        self.items = 0

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.items += len(next(iter(feeds.values())))
        return self.runtime.infer(feeds)

    def close(self) -> None:
        self.runtime.close()


def one_stream(estimator: FrameEstimator, frames: list[np.ndarray]) -> list[float]:
    """Latency of every frame of one stream."""
    pipeline, latencies = StreamPipeline(estimator), []
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        pipeline.process(frame, index / 10)
        latencies.append(time.perf_counter() - start)
    return latencies


async def run_streams(
    estimator: PoseEstimator,
    batching: BatcherConfig | None,
    streams: list[list[np.ndarray]],
    counter: CountingRuntime,
) -> tuple[list[float], float, int]:
    """Frame latencies, elapsed seconds and crops run, after warming up (not timed)."""
    engines = PoseEngines(estimator, batching) if batching is not None else None
    if engines is not None:
        await engines.start()
    shared = estimator if engines is None else engines.estimator
    try:
        counter.items = 0
        start = time.perf_counter()
        per_stream = await asyncio.gather(
            *(asyncio.to_thread(one_stream, shared, frames) for frames in streams)
        )
        elapsed_s = time.perf_counter() - start
    finally:
        if engines is not None:
            await engines.stop()
    return [latency for latencies in per_stream for latency in latencies], elapsed_s, counter.items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per stream")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-delay-ms", type=float, default=2.0)
    args = parser.parse_args()
    clip = read_frames(str(CLIP), 150)
    estimator = PoseEstimator.from_config(
        runtime_options=RuntimeOptions(intra_op_threads=args.threads)
    )
    counter = CountingRuntime(estimator.pose_model.runtime)
    estimator.pose_model.runtime = counter
    warm_up(counter.runtime, range(1, 9))
    batching = BatcherConfig(max_batch_size=args.max_batch, max_delay_s=args.max_delay_ms / 1e3)
    print(
        f"{args.frames} frames per stream, {args.threads} threads per model run, "
        f"batcher max {args.max_batch}, delay {args.max_delay_ms} ms"
    )
    print(
        "| streams | batching | frames/s | crops/s | p50 / p90 frame latency (ms) | "
        "crops/s vs direct |"
    )
    print("|---|---|---|---|---|---|")
    for num_streams in (1, 4, 8):
        offsets = np.linspace(0, len(clip) - args.frames, num_streams).astype(int)
        streams = [clip[offset : offset + args.frames] for offset in offsets]
        direct_rate = None
        for label, config in (("direct", None), ("dynamic", batching)):
            run = run_streams(estimator, config, streams, counter)
            latencies, elapsed, crops = asyncio.run(run)
            crops_per_s = crops / elapsed
            direct_rate = direct_rate or crops_per_s
            p50 = statistics.median(latencies) * 1e3
            p90 = float(np.percentile(latencies, 90)) * 1e3
            print(
                f"| {num_streams} | {label} | {len(latencies) / elapsed:.1f} | "
                f"{crops_per_s:.0f} | {p50:.0f} / {p90:.0f} | {crops_per_s / direct_rate:.2f} |"
            )


if __name__ == "__main__":
    main()
