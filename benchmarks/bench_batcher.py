"""The dynamic batcher alone, on a synthetic model whose batch of n costs a + b * n seconds.

Closed-loop clients (each submits its next item as soon as its last result is back) at several
concurrencies; for each, the batcher with the given config, the same with ``max_delay_s = 0``,
and no batching (``max_batch_size = 1``), run back to back so that the ratios are fair on a
noisy machine. Then open-loop cameras (the real-time case): each camera sends a frame every
1/fps s whatever the latency, and a frame that cannot start within one frame period is
rejected. The model sleeps in the worker thread (which releases the GIL), so the figures
measure the batcher's own overhead and policy, not a model.

Ideal, for a config with max batch B at concurrency c: full batches of n = min(c, B), so
throughput n / (a + b n) and, by Little's law, latency c / throughput (= a + b n when c <= B).

    python benchmarks/bench_batcher.py                     # (6 + 2) levels x 3 configs x 2 s
    python benchmarks/bench_batcher.py --duration-s 0.5    # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from posecast.engines.batcher import BatcherConfig, DynamicBatcher, RejectReason
from posecast.errors import PosecastError


@dataclass(frozen=True)
class SyntheticModel:
    """``run_batch`` that sleeps a + b * n seconds and returns the items."""

    fixed_cost_s: float
    per_item_cost_s: float

    def __call__(self, items: list[int]) -> list[int]:
        time.sleep(self.fixed_cost_s + self.per_item_cost_s * len(items))
        return items

    def ideal(self, concurrency: int, max_batch_size: int) -> tuple[float, float]:
        """Ideal (items/s, latency s) with full batches of min(concurrency, max_batch_size)."""
        batch_size = min(concurrency, max_batch_size)
        throughput = batch_size / (self.fixed_cost_s + self.per_item_cost_s * batch_size)
        return throughput, concurrency / throughput


class BatchSizes:
    """Observer that keeps the size of every batch run and counts rejects."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.rejects = 0

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float) -> None:
        self.sizes.append(batch_size)

    def on_reject(self, name: str, reason: RejectReason) -> None:
        self.rejects += 1


@dataclass(frozen=True)
class LevelResult:
    throughput: float
    p50_ms: float
    p99_ms: float
    mean_batch_size: float
    rejected: int = 0


def summarise(latencies_s: list[float], elapsed_s: float, observer: BatchSizes) -> LevelResult:
    latencies_ms = 1000 * np.asarray(latencies_s or [np.nan])
    return LevelResult(
        throughput=len(latencies_s) / elapsed_s,
        p50_ms=float(np.percentile(latencies_ms, 50)),
        p99_ms=float(np.percentile(latencies_ms, 99)),
        mean_batch_size=statistics.fmean(observer.sizes) if observer.sizes else 0.0,
        rejected=observer.rejects,
    )


async def run_level(
    model: SyntheticModel, config: BatcherConfig, concurrency: int, duration_s: float
) -> LevelResult:
    observer = BatchSizes()
    latencies_s: list[float] = []
    async with DynamicBatcher(model, config, name="synthetic", observer=observer) as batcher:
        end_s = time.monotonic() + duration_s

        async def client(client_id: int) -> None:
            while time.monotonic() < end_s:
                start_s = time.monotonic()
                assert await batcher.submit(client_id) == client_id
                latencies_s.append(time.monotonic() - start_s)

        start_s = time.monotonic()
        await asyncio.gather(*(client(index) for index in range(concurrency)))
        elapsed_s = time.monotonic() - start_s
    assert observer.rejects == 0
    return summarise(latencies_s, elapsed_s, observer)


async def run_streams(
    model: SyntheticModel, config: BatcherConfig, streams: int, fps: float, duration_s: float
) -> LevelResult:
    """Open loop: ``streams`` cameras at ``fps``, random phases, one item per frame, each
    with a deadline of one frame period to start (a late pose is useless to a live stream)."""
    observer = BatchSizes()
    latencies_s: list[float] = []
    rng = np.random.default_rng(0)
    period_s = 1.0 / fps

    async def frame(batcher: DynamicBatcher[int, int], stream: int) -> None:
        start_s = time.monotonic()
        try:
            await batcher.submit(stream, deadline_s=start_s + period_s)
        except PosecastError:
            return  # counted by the observer
        latencies_s.append(time.monotonic() - start_s)

    async with DynamicBatcher(model, config, name="synthetic", observer=observer) as batcher:
        start_s = time.monotonic()

        async def camera(stream: int) -> None:
            next_s = start_s + rng.uniform(0, period_s)
            pending = []
            while next_s < start_s + duration_s:
                await asyncio.sleep(max(0.0, next_s - time.monotonic()))
                pending.append(asyncio.create_task(frame(batcher, stream)))
                next_s += period_s
            await asyncio.gather(*pending)

        await asyncio.gather(*(camera(stream) for stream in range(streams)))
        elapsed_s = time.monotonic() - start_s
    return summarise(latencies_s, elapsed_s, observer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a-ms", type=float, default=8.0, help="fixed cost per batch")
    parser.add_argument("--b-ms", type=float, default=1.0, help="cost per item")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-delay-ms", type=float, default=2.0)
    parser.add_argument("--duration-s", type=float, default=2.0, help="per level and config")
    parser.add_argument("--concurrency", default="1,2,4,8,16,32")
    parser.add_argument("--streams", default="4,16", help="open-loop camera counts")
    parser.add_argument("--fps", type=float, default=30.0, help="frames/s of each camera")
    args = parser.parse_args()

    model = SyntheticModel(args.a_ms / 1000, args.b_ms / 1000)
    batched = BatcherConfig(
        max_batch_size=args.max_batch_size,
        max_delay_s=args.max_delay_ms / 1000,
        max_queue_size=max(256, 2 * args.max_batch_size),
    )
    configs = {
        f"batch<={batched.max_batch_size}, delay {args.max_delay_ms:g} ms": batched,
        f"batch<={batched.max_batch_size}, delay 0": replace(batched, max_delay_s=0.0),
        "no batching": replace(batched, max_batch_size=1, max_delay_s=0.0),
    }
    levels = [int(value) for value in args.concurrency.split(",")]

    print(f"command: python {' '.join(sys.argv)}")
    print(f"model: sleep a + b*n, a = {args.a_ms:g} ms, b = {args.b_ms:g} ms")
    print(f"config: {batched}; {args.duration_s:g} s per level and config, closed-loop clients")
    print()
    print(
        "| clients | config | items/s | ideal items/s | % of ideal | p50 ms | p99 ms "
        "| ideal latency ms | mean batch | vs no batching |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for concurrency in levels:
        results = {
            label: asyncio.run(run_level(model, config, concurrency, args.duration_s))
            for label, config in configs.items()
        }
        baseline = results["no batching"].throughput
        for label, result in results.items():
            ideal_throughput, ideal_latency_s = model.ideal(
                concurrency, configs[label].max_batch_size
            )
            print(
                f"| {concurrency} | {label} | {result.throughput:.0f} | {ideal_throughput:.0f} "
                f"| {100 * result.throughput / ideal_throughput:.0f} % | {result.p50_ms:.1f} "
                f"| {result.p99_ms:.1f} | {1000 * ideal_latency_s:.1f} "
                f"| {result.mean_batch_size:.1f} | {result.throughput / baseline:.2f}x |"
            )

    print()
    print(
        f"Open loop: cameras at {args.fps:g} frames/s, one item per frame, deadline one frame "
        f"period ({1000 / args.fps:.0f} ms) to start; rejected = deadline or queue full."
    )
    print()
    print(
        "| cameras | offered items/s | config | served items/s | rejected | p50 ms | p99 ms "
        "| mean batch |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for streams in [int(value) for value in args.streams.split(",")]:
        for label, config in configs.items():
            result = asyncio.run(run_streams(model, config, streams, args.fps, args.duration_s))
            print(
                f"| {streams} | {streams * args.fps:.0f} | {label} | {result.throughput:.0f} "
                f"| {result.rejected} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
                f"| {result.mean_batch_size:.1f} |"
            )


if __name__ == "__main__":
    main()
