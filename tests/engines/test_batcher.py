"""Dynamic batcher: flush rules, deadlines, routing, failures, split/pad, shutdown, cancellation.

Each test drives the batcher with ``asyncio.run`` and a fake ``run_batch`` that records the
batches it saw. Timings are loose (shared CPUs): they check orders of magnitude, not ms.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pytest

from posecast.engines.batcher import BatcherConfig, DynamicBatcher, RejectReason, stacking_run_batch
from posecast.engines.runtimes import Runtime
from posecast.errors import DeadlineExceededError, InvalidInputError, ModelError, QueueFullError


class RecordingModel:
    """``run_batch`` fake: results f(item) = item * 10 + 1, after ``sleep_s``; records batches.

    ``gate`` (a threading.Event), when given, blocks each run until it is set.
    """

    def __init__(self, sleep_s: float = 0.0, gate: threading.Event | None = None) -> None:
        self.sleep_s = sleep_s
        self.gate = gate
        self.batches: list[list[Any]] = []
        self.started = threading.Event()
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def __call__(self, items: list[Any]) -> list[Any]:
        with self._lock:
            self.batches.append(list(items))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.started.set()
        try:
            if self.gate is not None:
                assert self.gate.wait(timeout=5.0), "test gate never opened"
            time.sleep(self.sleep_s)
            return [f(item) for item in items]
        finally:
            with self._lock:
                self.running -= 1

    @property
    def seen_items(self) -> list[Any]:
        return [item for batch in self.batches for item in batch]


class RecordingObserver:
    def __init__(self) -> None:
        self.batches: list[tuple[str, int, list[float], float]] = []
        self.rejects: list[tuple[str, RejectReason]] = []

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float) -> None:
        self.batches.append((name, batch_size, queue_wait_s, run_s))

    def on_reject(self, name: str, reason: RejectReason) -> None:
        self.rejects.append((name, reason))


def f(item: Any) -> Any:
    return item * 10 + 1


def run(coroutine_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine_fn(), timeout=10.0))


async def wait_until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline_s = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline_s, "condition never became true"
        await asyncio.sleep(0.002)


def config(**overrides: Any) -> BatcherConfig:
    values: dict[str, Any] = {"max_batch_size": 4, "max_delay_s": 0.02, "max_queue_size": 64}
    values.update(overrides)
    return BatcherConfig(**values)


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_batch_size": 0},  # no batch at all
        {"max_delay_s": -0.001},  # negative delay
        {"max_delay_s": float("inf")},  # a partial batch would never flush
        {"max_queue_size": 2},  # smaller than one batch (4)
        {"default_timeout_s": 0.0},  # every item would expire at once
        {"allowed_batch_sizes": ()},  # no size allowed
        {"allowed_batch_sizes": (0, 4)},  # size 0
        {"num_workers": 0},
    ],
)
def test_config_rejects_bad_knobs(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        config(**overrides)


@pytest.mark.parametrize(
    "max_batch_size, allowed, padded, run_sizes",
    [
        # no allowed sizes: every chunk runs as is
        (4, None, {1: 1, 3: 3, 4: 4}, (1, 2, 3, 4)),
        # fixed sizes: pad up to the next allowed one
        (8, (8, 2, 4), {1: 2, 3: 4, 5: 8, 8: 8}, (2, 4, 8)),
        # collected batches of 16 are split into chunks of at most 4
        (16, (1, 4), {1: 1, 2: 4, 4: 4}, (1, 4)),
        # max_batch_size below the largest allowed size: 16 is never used
        (6, (1, 8, 16), {5: 8, 6: 8}, (1, 8)),
    ],
)
def test_config_padding_table(
    max_batch_size: int,
    allowed: tuple[int, ...] | None,
    padded: dict[int, int],
    run_sizes: tuple[int, ...],
) -> None:
    cfg = config(max_batch_size=max_batch_size, max_queue_size=64, allowed_batch_sizes=allowed)
    assert {n: cfg.padded_size(n) for n in padded} == padded
    assert cfg.run_batch_sizes == run_sizes


# -- flush rules -----------------------------------------------------------------------------


def test_full_batch_flushes_without_waiting_for_the_delay() -> None:
    async def main() -> tuple[list[Any], float]:
        model = RecordingModel()
        async with DynamicBatcher(model, config(max_delay_s=2.0), name="m") as batcher:
            start_s = time.monotonic()
            results = await asyncio.gather(*(batcher.submit(i) for i in range(4)))
            elapsed_s = time.monotonic() - start_s
        assert model.batches == [[0, 1, 2, 3]]
        return results, elapsed_s

    results, elapsed_s = run(main)
    assert results == [1, 11, 21, 31]
    assert elapsed_s < 1.0  # far below the 2 s delay


def test_lone_item_flushes_after_about_max_delay() -> None:
    async def main() -> float:
        model = RecordingModel()
        async with DynamicBatcher(model, config(max_delay_s=0.15)) as batcher:
            start_s = time.monotonic()
            assert await batcher.submit(7) == 71
            return time.monotonic() - start_s

    elapsed_s = run(main)
    assert 0.14 <= elapsed_s < 0.6


def test_items_arriving_within_the_delay_share_a_batch() -> None:
    async def main() -> list[list[Any]]:
        model = RecordingModel()
        async with DynamicBatcher(model, config(max_batch_size=8, max_delay_s=0.2)) as batcher:
            first = asyncio.create_task(batcher.submit(1))
            await asyncio.sleep(0.05)  # well within the oldest item's 0.2 s
            second = asyncio.create_task(batcher.submit(2))
            assert await asyncio.gather(first, second) == [11, 21]
        return model.batches

    assert run(main) == [[1, 2]]


# -- deadlines -------------------------------------------------------------------------------


def test_item_whose_deadline_passes_behind_a_slow_batch_is_rejected_not_run() -> None:
    async def main() -> None:
        model = RecordingModel(sleep_s=0.4)
        observer = RecordingObserver()
        cfg = config(max_batch_size=1, max_delay_s=0.0)
        async with DynamicBatcher(model, cfg, name="pose", observer=observer) as batcher:
            slow = asyncio.create_task(batcher.submit(1))
            await wait_until(model.started.is_set)
            start_s = time.monotonic()
            with pytest.raises(DeadlineExceededError, match="deadline passed"):
                await batcher.submit(2, deadline_s=time.monotonic() + 0.05)
            rejected_after_s = time.monotonic() - start_s
            assert await slow == 11
            assert await batcher.submit(3) == 31  # still serving
        assert model.seen_items == [1, 3]  # item 2 never ran
        assert rejected_after_s < 0.3  # at its deadline, not when the slow batch ended
        assert observer.rejects == [("pose", "deadline")]

    run(main)


def test_deadline_already_passed_at_submit_and_default_timeout() -> None:
    async def main() -> None:
        model = RecordingModel(gate=threading.Event())
        cfg = config(max_batch_size=1, max_delay_s=0.0, default_timeout_s=0.05)
        async with DynamicBatcher(model, cfg) as batcher:
            with pytest.raises(DeadlineExceededError):
                await batcher.submit(1, deadline_s=time.monotonic() - 0.001)
            blocker = asyncio.create_task(batcher.submit(2, deadline_s=time.monotonic() + 5))
            await wait_until(model.started.is_set)
            with pytest.raises(DeadlineExceededError):  # default 0.05 s while 2 blocks
                await batcher.submit(3)
            assert model.gate is not None
            model.gate.set()
            assert await blocker == 21
        assert model.seen_items == [2]

    run(main)


def test_deadline_is_checked_before_each_chunk_of_a_split_batch() -> None:
    async def main() -> None:
        # one collected batch of 2 runs as two chunks of 1; the second's deadline passes
        # while the first runs (timers are off by the wait in the first chunk anyway)
        model = RecordingModel(sleep_s=0.3)
        cfg = config(max_batch_size=2, max_delay_s=0.5, allowed_batch_sizes=(1,))
        async with DynamicBatcher(model, cfg) as batcher:
            now_s = time.monotonic()
            first = batcher.submit(1, deadline_s=now_s + 5)
            second = batcher.submit(2, deadline_s=now_s + 0.15)
            results = await asyncio.gather(first, second, return_exceptions=True)
        assert results[0] == 11
        assert isinstance(results[1], DeadlineExceededError)
        assert model.batches == [[1]]

    run(main)


# -- routing ---------------------------------------------------------------------------------


def test_many_concurrent_submits_each_get_their_own_result() -> None:
    async def main() -> None:
        model = RecordingModel(sleep_s=0.002)
        rng = random.Random(0)
        cfg = config(max_batch_size=16, max_delay_s=0.003, max_queue_size=256)
        async with DynamicBatcher(model, cfg) as batcher:

            async def client(item: int) -> tuple[int, int]:
                await asyncio.sleep(rng.uniform(0, 0.05))
                return item, await batcher.submit(item)

            pairs = await asyncio.gather(*(client(i) for i in range(200)))
        assert all(result == f(item) for item, result in pairs)
        assert sorted(model.seen_items) == list(range(200))  # each item ran exactly once
        assert len(model.batches) < 100  # batches formed (200 items, far fewer runs)
        assert max(len(batch) for batch in model.batches) <= 16

    run(main)


def test_equal_items_in_one_batch_each_get_their_result() -> None:
    # equal items in one batch (two streams sending the same crop) still get one result each
    async def main() -> list[Any]:
        async with DynamicBatcher(RecordingModel(), config()) as batcher:
            return await asyncio.gather(*(batcher.submit(x) for x in (5, 5, 6, 5)))

    assert run(main) == [51, 51, 61, 51]


# -- failures --------------------------------------------------------------------------------


def test_engine_exception_fails_only_that_batch() -> None:
    class EngineError(Exception):
        pass

    def run_batch(items: list[int]) -> list[int]:
        if -1 in items:
            raise EngineError("bad crop")
        return [f(item) for item in items]

    async def main() -> None:
        observer = RecordingObserver()
        cfg = config(max_batch_size=2, max_delay_s=1.0)
        async with DynamicBatcher(run_batch, cfg, observer=observer) as batcher:
            failed = await asyncio.gather(
                batcher.submit(1), batcher.submit(-1), return_exceptions=True
            )
            assert all(isinstance(result, EngineError) for result in failed)
            assert await asyncio.gather(batcher.submit(3), batcher.submit(4)) == [31, 41]
        assert [reason for _, reason in observer.rejects] == ["error", "error"]
        assert [size for _, size, _, _ in observer.batches] == [2]  # only the good batch

    run(main)


@pytest.mark.parametrize("returned", [[1], [1, 2, 3]])  # too few, too many
def test_wrong_result_count_is_a_clear_error(returned: list[int]) -> None:
    async def main() -> list[Any]:
        cfg = config(max_batch_size=2, max_delay_s=1.0)
        async with DynamicBatcher(lambda items: returned, cfg, name="pose") as batcher:
            return await asyncio.gather(
                *(batcher.submit(i) for i in (1, 2)), return_exceptions=True
            )

    results = run(main)
    assert all(isinstance(result, ModelError) for result in results)
    assert f"returned {len(returned)} results for 2 items" in str(results[0])


def test_observer_that_raises_does_not_break_the_batcher() -> None:
    class BrokenObserver(RecordingObserver):
        def on_batch(self, *args: Any) -> None:
            raise RuntimeError("prometheus down")

    async def main() -> list[Any]:
        cfg = config(max_batch_size=1, max_delay_s=0.0)
        async with DynamicBatcher(RecordingModel(), cfg, observer=BrokenObserver()) as batcher:
            return [await batcher.submit(1), await batcher.submit(2)]

    assert run(main) == [11, 21]


# -- queue bound -----------------------------------------------------------------------------


def test_full_queue_raises_at_once_and_queued_items_still_run() -> None:
    async def main() -> None:
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        observer = RecordingObserver()
        cfg = config(max_batch_size=1, max_delay_s=0.0, max_queue_size=2)
        async with DynamicBatcher(model, cfg, observer=observer) as batcher:
            running = asyncio.create_task(batcher.submit(1))
            await wait_until(model.started.is_set)  # taken: no longer counts as queued
            queued = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
            await wait_until(lambda: batcher.queue_size == 2)
            start_s = time.monotonic()
            with pytest.raises(QueueFullError, match="queue full"):
                await batcher.submit(4)
            assert time.monotonic() - start_s < 0.1  # refused, never blocked
            gate.set()
            assert await asyncio.gather(running, *queued) == [11, 21, 31]
        assert 4 not in model.seen_items
        assert observer.rejects == [("batcher", "queue_full")]

    run(main)


# -- split and pad ---------------------------------------------------------------------------


def test_oversize_batch_is_split_and_chunks_padded_to_allowed_sizes() -> None:
    async def main() -> None:
        model = RecordingModel()
        observer = RecordingObserver()
        cfg = config(max_batch_size=7, max_delay_s=1.0, allowed_batch_sizes=(1, 2, 4))
        async with DynamicBatcher(model, cfg, observer=observer) as batcher:
            results = await asyncio.gather(*(batcher.submit(i) for i in range(7)))
        assert results == [f(i) for i in range(7)]
        # 7 collected -> chunks of 4 and 3; the 3 is padded to 4 with its last item
        assert model.batches == [[0, 1, 2, 3], [4, 5, 6, 6]]
        assert [(size, len(waits)) for _, size, waits, _ in observer.batches] == [(4, 4), (4, 3)]

    run(main)


def test_lone_item_is_padded_and_gets_only_its_own_result() -> None:
    async def main() -> None:
        model = RecordingModel()
        cfg = config(max_batch_size=8, max_delay_s=0.0, allowed_batch_sizes=(4, 8))
        async with DynamicBatcher(model, cfg) as batcher:
            assert await batcher.submit(3) == 31
            assert await asyncio.gather(*(batcher.submit(i) for i in range(5))) == [
                f(i) for i in range(5)
            ]
        assert all(len(batch) in (4, 8) for batch in model.batches)
        assert model.batches[0] == [3, 3, 3, 3]

    run(main)


# -- shutdown --------------------------------------------------------------------------------


def test_stop_drains_queued_items_then_refuses_new_ones() -> None:
    async def main() -> None:
        model = RecordingModel(sleep_s=0.02)
        batcher = DynamicBatcher(model, config(max_batch_size=2, max_delay_s=5.0))
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit(i)) for i in range(5)]
        await asyncio.sleep(0)  # let them queue
        start_s = time.monotonic()
        await batcher.stop(drain_timeout_s=2.0)
        # the partial last batch (1 item) did not wait for the 5 s delay
        assert time.monotonic() - start_s < 1.0
        assert [task.result() for task in tasks] == [f(i) for i in range(5)]
        with pytest.raises(QueueFullError, match="shutting down"):
            await batcher.submit(9)
        await batcher.stop()  # idempotent

    run(main)


def test_stop_fails_what_is_left_after_the_drain_timeout() -> None:
    async def main() -> None:
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        batcher = DynamicBatcher(model, config(max_batch_size=1, max_delay_s=0.0), name="pose")
        batcher.start()
        running = asyncio.create_task(batcher.submit(1))
        await wait_until(model.started.is_set)
        queued = asyncio.create_task(batcher.submit(2))
        await asyncio.sleep(0.01)
        start_s = time.monotonic()
        await batcher.stop(drain_timeout_s=0.1)
        assert time.monotonic() - start_s < 1.0
        for task in (running, queued):
            with pytest.raises(QueueFullError, match="stopped before this item finished"):
                await task
        gate.set()  # the abandoned run finishes in the background; nobody waits for it
        assert model.seen_items == [1]

    run(main)


def test_lifecycle_errors() -> None:
    async def main() -> None:
        batcher = DynamicBatcher(RecordingModel(), config())
        with pytest.raises(RuntimeError, match="not started"):
            await batcher.submit(1)
        batcher.start()
        with pytest.raises(RuntimeError, match="expected created"):
            batcher.start()
        await batcher.stop()

    run(main)
    with pytest.raises(RuntimeError):  # no running event loop
        DynamicBatcher(RecordingModel(), config()).start()


# -- cancellation ----------------------------------------------------------------------------


def test_cancelled_waiting_caller_is_skipped_and_others_are_served() -> None:
    async def main() -> None:
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        cfg = config(max_batch_size=4, max_delay_s=0.0)
        async with DynamicBatcher(model, cfg) as batcher:
            first = asyncio.create_task(batcher.submit(1))
            await wait_until(model.started.is_set)
            waiting = [asyncio.create_task(batcher.submit(i)) for i in (2, 3, 4)]
            await wait_until(lambda: batcher.queue_size == 3)
            waiting[1].cancel()  # item 3
            await wait_until(lambda: batcher.queue_size == 2)  # removed from the queue
            gate.set()
            assert await first == 11
            assert await waiting[0] == 21 and await waiting[2] == 41
            assert waiting[1].cancelled()
        assert model.batches == [[1], [2, 4]]

    run(main)


def test_cancelled_running_caller_does_not_break_its_batch() -> None:
    async def main() -> None:
        gate = threading.Event()
        model = RecordingModel(gate=gate)
        async with DynamicBatcher(model, config(max_batch_size=2, max_delay_s=0.1)) as batcher:
            tasks = [asyncio.create_task(batcher.submit(i)) for i in (1, 2)]
            await wait_until(model.started.is_set)
            tasks[0].cancel()
            await asyncio.sleep(0.01)
            gate.set()
            assert await tasks[1] == 21
            assert tasks[0].cancelled()
            assert await batcher.submit(3, deadline_s=time.monotonic() + 2) == 31

    run(main)


# -- concurrency -----------------------------------------------------------------------------


def test_event_loop_stays_responsive_while_a_batch_runs() -> None:
    async def main() -> int:
        model = RecordingModel(sleep_s=0.3)
        async with DynamicBatcher(model, config(max_batch_size=1, max_delay_s=0.0)) as batcher:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticking = asyncio.create_task(ticker())
            await batcher.submit(1)
            ticking.cancel()
            return ticks

    assert run(main) >= 10  # ~30 expected; a blocked loop gives 0


@pytest.mark.parametrize("num_workers, expected_max_running", [(1, 1), (2, 2)])
def test_num_workers_bounds_concurrent_batches(num_workers: int, expected_max_running: int) -> None:
    async def main() -> RecordingModel:
        model = RecordingModel(sleep_s=0.1)
        cfg = config(max_batch_size=1, max_delay_s=0.0, num_workers=num_workers)
        async with DynamicBatcher(model, cfg) as batcher:
            results = await asyncio.gather(*(batcher.submit(i) for i in range(4)))
        assert results == [f(i) for i in range(4)]
        return model

    assert run(main).max_running == expected_max_running


# -- with a runtime --------------------------------------------------------------------------


class DoublingRuntime:
    """Fake runtime: output "y" (N, 2) = 2 * input "x" (N, 2); records feed shapes."""

    def __init__(self) -> None:
        self.batch_shapes: list[tuple[int, ...]] = []

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.batch_shapes.append(feeds["x"].shape)
        return {"y": 2 * feeds["x"], "sum": feeds["x"].sum(axis=1)}


def test_stacking_run_batch_splits_outputs_per_item() -> None:
    runtime = DoublingRuntime()
    run_batch = stacking_run_batch(runtime)  # type: ignore[arg-type]
    results = run_batch([{"x": np.array([1.0, 2.0])}, {"x": np.array([3.0, 4.0])}])
    assert runtime.batch_shapes == [(2, 2)]
    np.testing.assert_array_equal(results[1]["y"], [6.0, 8.0])
    assert results[0]["sum"] == 3.0
    with pytest.raises(InvalidInputError, match="cannot stack"):
        run_batch([{"x": np.zeros(2)}, {"x": np.zeros(3)}])


def test_real_pose_model_batched_and_padded_matches_single_runs(pose_runtime_full: Runtime) -> None:
    # the batch a crop lands in, and the padding next to it, must not change its result
    (spec,) = pose_runtime_full.inputs
    rng = np.random.default_rng(0)
    crops = [rng.random(spec.shape[1:], dtype=np.float32) for _ in range(3)]
    singles = [pose_runtime_full.infer({spec.name: crop[None]}) for crop in crops]

    async def main() -> list[dict[str, np.ndarray]]:
        cfg = config(max_batch_size=4, max_delay_s=0.2, allowed_batch_sizes=(4,))
        async with DynamicBatcher(stacking_run_batch(pose_runtime_full), cfg) as batcher:
            return await asyncio.gather(*(batcher.submit({spec.name: crop}) for crop in crops))

    for batched, single in zip(run(main), singles, strict=True):
        for name, value in single.items():
            np.testing.assert_allclose(batched[name], value[0], rtol=1e-4, atol=1e-4)
