"""Dynamic batcher: one per model, shared by all streams (Triton's dynamic batching rules).

Coroutines ``await batcher.submit(item)``; a worker collects queued items into one batch until
``max_batch_size`` items are waiting or the oldest has waited ``max_delay_s``, runs the model's
``run_batch(items) -> results`` on a worker thread (the event loop stays responsive), and hands
each caller the result at its own index. Shaped like Ray Serve's ``_BatchQueue``: each request
is a small dataclass carrying a future, the queue has ``next_batch(max_size, max_wait_s)``, and
one worker loop sets a result or an exception on every future.

Usage::

    config = BatcherConfig(max_batch_size=16, max_delay_s=0.002, max_queue_size=256)
    warm_up(runtime, config.run_batch_sizes)
    # stacking_run_batch: per-item {name: array} -> runtime.infer on the stack -> per-item dicts
    async with DynamicBatcher(stacking_run_batch(runtime), config, name="pose") as batcher:
        outputs = await batcher.submit({"image": crop}, deadline_s=time.monotonic() + 0.1)

Rules (docs/batching.md has the why):
    - flush: a batch is taken when ``max_batch_size`` live items are queued, when the oldest
      queued item has waited ``max_delay_s``, or at once while stopping.
    - deadlines (``time.monotonic()`` seconds): an item whose deadline passes before its batch
      starts fails with DeadlineExceededError, at the deadline (a timer, not when the worker
      gets to it); it is never run late in silence. Once started, it runs to the end.
    - split and pad: a batch larger than the engine allows (``max(allowed_batch_sizes)``) runs as
      several chunks, one after another; a chunk whose size is not allowed is padded up to the
      next allowed size by repeating its last item, and the padded results are discarded.
    - failures: an exception from ``run_batch`` (or a result count that differs from the item
      count) fails every item of that chunk and only those; the batcher keeps serving.
    - cancellation: a cancelled caller's item is skipped if it has not started; if it has, its
      result is dropped. Other callers are unaffected.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Literal, Protocol, Self, TypeVar

import numpy as np

from posecast.errors import DeadlineExceededError, InvalidInputError, ModelError, QueueFullError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from posecast.engines.runtimes.base import Runtime

logger = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

RejectReason = Literal["queue_full", "deadline", "shutdown", "error"]
"""Why an item got an error instead of a result: the queue was full at submit; its deadline
passed before its batch started; the batcher was stopping (submit after ``stop`` or not run
within the drain timeout); ``run_batch`` raised or returned the wrong number of results."""


@dataclass(frozen=True)
class BatcherConfig:
    """How a model's batcher trades latency for throughput.

    Attributes:
        max_batch_size: most items collected into one batch. Raising it raises throughput
            under load (the model's fixed cost per run is shared by more items) and the
            latency of each batch; lowering it to 1 turns batching off.
        max_delay_s: longest the oldest queued item waits for others before a partial batch
            is flushed. Raising it makes fuller batches at light load and adds up to this much
            latency to every item then; 0 flushes whatever is queued as soon as the worker is
            free (batches still form while the worker is busy). A few ms, well below one
            model run, is the usual choice.
        max_queue_size: most items waiting (not yet taken by the worker). Raising it absorbs
            longer bursts at the price of longer queueing under overload; lowering it sheds
            load sooner (``submit`` raises QueueFullError at once, never blocks).
        default_timeout_s: items submitted without a deadline must start within this many
            seconds of ``submit`` or fail with DeadlineExceededError; None: wait as long as it
            takes. Lowering it drops stale work sooner (good for real-time streams, where a
            late pose is useless); raising it fails fewer items under bursts.
        allowed_batch_sizes: the only batch sizes ``run_batch`` may be called with (an engine
            built for fixed sizes, or a TensorRT profile with ``min_batch > 1``); a chunk is
            padded up to the next allowed size by repeating its last item, and the results
            for the padding are discarded, so ``run_batch`` must not mutate items and must
            treat repeated items independently. Batches larger than the largest allowed size
            are split. Fewer sizes mean fewer shapes to warm up and more padding wasted.
            None: any size from 1 to ``max_batch_size``.
        num_workers: batches run at the same time (one thread each). 1 for one engine
            instance (a CPU session or one CUDA stream); 2 can overlap copies and compute on a
            GPU with two streams if ``run_batch`` is thread-safe. More than the hardware runs
            in parallel only adds latency.
    """

    max_batch_size: int = 8
    max_delay_s: float = 0.002
    max_queue_size: int = 256
    default_timeout_s: float | None = None
    allowed_batch_sizes: tuple[int, ...] | None = None
    num_workers: int = 1

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise InvalidInputError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if not 0 <= self.max_delay_s < float("inf"):
            raise InvalidInputError(f"max_delay_s must be finite and >= 0, got {self.max_delay_s}")
        if self.max_queue_size < self.max_batch_size:
            raise InvalidInputError(
                f"max_queue_size must be >= max_batch_size ({self.max_batch_size}), "
                f"got {self.max_queue_size}: a full batch could never be queued"
            )
        if self.default_timeout_s is not None and not self.default_timeout_s > 0:
            raise InvalidInputError(
                f"default_timeout_s must be > 0 or None, got {self.default_timeout_s}"
            )
        if self.allowed_batch_sizes is not None:
            sizes = tuple(sorted(set(self.allowed_batch_sizes)))
            if not sizes or sizes[0] < 1:
                raise InvalidInputError(
                    f"allowed_batch_sizes must be non-empty sizes >= 1, "
                    f"got {self.allowed_batch_sizes}"
                )
            object.__setattr__(self, "allowed_batch_sizes", sizes)  # normalised: ascending
        if not 1 <= self.num_workers <= 8:
            raise InvalidInputError(f"num_workers must be in [1, 8], got {self.num_workers}")

    @property
    def max_run_size(self) -> int:
        """Largest batch ``run_batch`` is called with; bigger collected batches are split."""
        if self.allowed_batch_sizes is None:
            return self.max_batch_size
        return self.allowed_batch_sizes[-1]

    def padded_size(self, num_items: int) -> int:
        """The batch size ``run_batch`` sees for a chunk of ``num_items`` (1..max_run_size)."""
        if self.allowed_batch_sizes is None:
            return num_items
        return next(size for size in self.allowed_batch_sizes if size >= num_items)

    @property
    def run_batch_sizes(self) -> tuple[int, ...]:
        """Every batch size ``run_batch`` can be called with: warm these up before serving."""
        largest_chunk = min(self.max_batch_size, self.max_run_size)
        return tuple(sorted({self.padded_size(n) for n in range(1, largest_chunk + 1)}))


class BatcherObserver(Protocol):
    """Metrics hooks (the service wires them to Prometheus). Called on the event loop thread;
    keep them cheap. An observer that raises is logged and ignored."""

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float) -> None:
        """A chunk ran successfully: ``batch_size`` is the size ``run_batch`` saw (padding
        included); ``queue_wait_s`` has one entry per real item, submit to run start;
        ``run_s`` is the time ``run_batch`` took."""
        ...

    def on_reject(self, name: str, reason: RejectReason) -> None:
        """One item got an error instead of a result (see ``RejectReason``)."""
        ...


class _RequestState(enum.Enum):
    QUEUED = "queued"  # in the queue
    TAKEN = "taken"  # in a batch the worker holds, not started yet
    RUNNING = "running"  # its chunk is in run_batch
    DONE = "done"


@dataclass(eq=False, slots=True)  # eq=False: compare by identity (items may be arrays)
class _Request(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]
    enqueued_s: float
    deadline_s: float | None
    expiry: asyncio.TimerHandle | None = None
    state: _RequestState = _RequestState.QUEUED

    def set_result(self, result: ResultT) -> None:
        self.state = _RequestState.DONE
        if self.expiry is not None:
            self.expiry.cancel()
        if not self.future.done():  # a cancelled caller's result is dropped
            self.future.set_result(result)

    def set_exception(self, error: BaseException) -> None:
        self.state = _RequestState.DONE
        if self.expiry is not None:
            self.expiry.cancel()
        if not self.future.done():
            self.future.set_exception(error)


class _BatchQueue(Generic[ItemT, ResultT]):
    """Bounded FIFO of live requests (cancelled and expired ones are removed at once)."""

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._requests: deque[_Request[ItemT, ResultT]] = deque()
        self._wakeup = asyncio.Event()
        self._is_closing = False

    def __len__(self) -> int:
        return len(self._requests)

    def put(self, request: _Request[ItemT, ResultT]) -> None:
        if len(self._requests) >= self._max_size:
            raise QueueFullError(f"queue full ({len(self._requests)} items waiting)")
        self._requests.append(request)
        self._wakeup.set()

    def remove(self, request: _Request[ItemT, ResultT]) -> None:
        if request.state is _RequestState.QUEUED:
            self._requests.remove(request)  # O(queue size), only on cancel or expiry
            request.state = _RequestState.DONE

    def close(self) -> None:
        """Flush what is queued without waiting; ``next_batch`` returns [] once empty."""
        self._is_closing = True
        self._wakeup.set()

    def take_all(self) -> list[_Request[ItemT, ResultT]]:
        taken = list(self._requests)
        self._requests.clear()
        return taken

    async def next_batch(self, max_size: int, max_wait_s: float) -> list[_Request[ItemT, ResultT]]:
        """Wait for the next batch: ``max_size`` requests, or fewer once the oldest has waited
        ``max_wait_s`` (or at once when closing). Returns [] when closed and empty."""
        while True:
            timeout_s: float | None = None
            if self._requests:
                timeout_s = self._requests[0].enqueued_s + max_wait_s - time.monotonic()
                if len(self._requests) >= max_size or timeout_s <= 0 or self._is_closing:
                    return self._take(max_size)
            elif self._is_closing:
                return []
            self._wakeup.clear()
            try:
                async with asyncio.timeout(timeout_s):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _take(self, max_size: int) -> list[_Request[ItemT, ResultT]]:
        count = min(max_size, len(self._requests))
        batch = [self._requests.popleft() for _ in range(count)]
        for request in batch:
            request.state = _RequestState.TAKEN
        return batch


class _BatcherState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class DynamicBatcher(Generic[ItemT, ResultT]):
    """Collects items from many coroutines into batches for one model (see module docstring).

    Args:
        run_batch: runs one batch, ``items -> results`` with ``results[i]`` for ``items[i]``
            (``len(results) == len(items)``); called on a worker thread, never concurrently
            with itself unless ``config.num_workers > 1``.
        config: batching knobs (``BatcherConfig()`` if None).
        name: the model's name, for logs, thread names and the observer.
        observer: metrics hooks, or None.
    """

    def __init__(
        self,
        run_batch: Callable[[list[ItemT]], Sequence[ResultT]],
        config: BatcherConfig | None = None,
        *,
        name: str = "batcher",
        observer: BatcherObserver | None = None,
    ) -> None:
        self.config = config or BatcherConfig()
        self.name = name
        self._run_batch = run_batch
        self._observer = observer
        self._state = _BatcherState.CREATED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: _BatchQueue[ItemT, ResultT] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._held: set[_Request[ItemT, ResultT]] = set()  # taken by workers, not done
        self._stopped = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def queue_size(self) -> int:
        """Items waiting to be taken into a batch."""
        return len(self._queue) if self._queue is not None else 0

    def start(self) -> None:
        """Start the workers on the running event loop (call from a coroutine)."""
        if self._state is not _BatcherState.CREATED:
            raise RuntimeError(f"batcher {self.name!r}: expected created, got {self._state.value}")
        self._loop = asyncio.get_running_loop()  # RuntimeError outside a running loop
        self._queue = _BatchQueue(self.config.max_queue_size)
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.num_workers, thread_name_prefix=f"batcher-{self.name}"
        )
        self._workers = [
            asyncio.create_task(self._work(), name=f"batcher-{self.name}-{index}")
            for index in range(self.config.num_workers)
        ]
        self._state = _BatcherState.RUNNING

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop accepting items, run what is queued for up to ``drain_timeout_s``, then fail
        what is left (queued or still running) with QueueFullError. Idempotent.

        A ``run_batch`` call still running after the timeout cannot be interrupted: its
        thread finishes in the background and its results are discarded.
        """
        if self._state is _BatcherState.CREATED:
            self._state = _BatcherState.STOPPED
            self._stopped.set()
            return
        if self._state is not _BatcherState.RUNNING:
            await self._stopped.wait()
            return
        assert self._queue is not None and self._executor is not None
        self._state = _BatcherState.STOPPING
        self._queue.close()
        _, unfinished = await asyncio.wait(self._workers, timeout=max(drain_timeout_s, 0.0))
        for worker in unfinished:
            worker.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        leftovers = [
            request
            for request in [*self._queue.take_all(), *self._held]
            if not request.future.done()
        ]
        self._held.clear()
        for request in leftovers:
            self._reject(
                request,
                QueueFullError(
                    f"batcher {self.name!r} stopped before this item finished "
                    f"(drain timeout {drain_timeout_s} s)"
                ),
                "shutdown",
            )
        if leftovers:
            logger.warning("batcher %r: failed %d items at shutdown", self.name, len(leftovers))
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._state = _BatcherState.STOPPED
        self._stopped.set()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- submitting -----------------------------------------------------------------------

    async def submit(self, item: ItemT, deadline_s: float | None = None) -> ResultT:
        """Queue ``item`` for the next batch and wait for its result.

        Args:
            item: one input, as ``run_batch`` takes it in its list (not mutated).
            deadline_s: the item must start running by this ``time.monotonic()`` time;
                None: ``now + config.default_timeout_s`` (or no deadline). Once started it
                runs to the end: bound the total wait with ``asyncio.timeout`` if needed.

        Returns:
            ``run_batch``'s result for this item.

        Raises:
            QueueFullError: the queue is full, or the batcher is stopping or stopped (or
                stopped before this item finished).
            DeadlineExceededError: the deadline passed before the item's batch started.
            Exception: whatever ``run_batch`` raised for this item's batch; ModelError if it
                returned the wrong number of results.
            RuntimeError: the batcher was not started, or this is another event loop.
        """
        queue = self._check_can_submit()
        now_s = time.monotonic()
        if deadline_s is None and self.config.default_timeout_s is not None:
            deadline_s = now_s + self.config.default_timeout_s
        if deadline_s is not None and deadline_s <= now_s:
            self._notify_reject("deadline")
            raise DeadlineExceededError(
                f"batcher {self.name!r}: deadline passed {1000 * (now_s - deadline_s):.1f} ms "
                "before submit"
            )
        assert self._loop is not None
        request: _Request[ItemT, ResultT] = _Request(
            item, self._loop.create_future(), now_s, deadline_s
        )
        try:
            queue.put(request)
        except QueueFullError as error:
            self._notify_reject("queue_full")
            raise QueueFullError(f"batcher {self.name!r}: {error}; retry later") from None
        if deadline_s is not None:
            request.expiry = self._loop.call_later(deadline_s - now_s, self._expire, request)
        try:
            return await request.future
        except asyncio.CancelledError:
            # Skipped if not started yet (a running chunk's result for it is dropped).
            queue.remove(request)
            if request.expiry is not None:
                request.expiry.cancel()
            raise

    def _check_can_submit(self) -> _BatchQueue[ItemT, ResultT]:
        if self._state is _BatcherState.CREATED:
            raise RuntimeError(f"batcher {self.name!r} is not started; call start() first")
        if self._state is not _BatcherState.RUNNING:
            self._notify_reject("shutdown")
            raise QueueFullError(f"batcher {self.name!r} is shutting down")
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError(f"batcher {self.name!r} belongs to another event loop")
        assert self._queue is not None
        return self._queue

    def _expire(self, request: _Request[ItemT, ResultT]) -> None:
        """Deadline timer: fail the request unless its chunk has started."""
        if request.state is _RequestState.QUEUED:
            assert self._queue is not None
            self._queue.remove(request)
        elif request.state is not _RequestState.TAKEN:
            return
        self._reject(request, self._deadline_error(request), "deadline")

    def _deadline_error(self, request: _Request[ItemT, ResultT]) -> DeadlineExceededError:
        waited_ms = 1000 * (time.monotonic() - request.enqueued_s)
        return DeadlineExceededError(
            f"batcher {self.name!r}: deadline passed before the item's batch started "
            f"(waited {waited_ms:.1f} ms; queue {self.queue_size} items)"
        )

    # -- the worker -----------------------------------------------------------------------

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._queue.next_batch(
                self.config.max_batch_size, self.config.max_delay_s
            )
            if not batch:
                return  # closed and drained
            self._held.update(batch)
            # On cancellation (stop() after its drain timeout) the batch stays held: stop()
            # fails what is unanswered with a clear error.
            try:
                await self._run_collected(batch)
            except Exception:  # a bug here must not leave callers waiting forever
                logger.exception("batcher %r: worker error", self.name)
                for request in batch:
                    self._reject(request, ModelError(f"batcher {self.name!r} failed"), "error")
            self._held.difference_update(batch)

    async def _run_collected(self, batch: list[_Request[ItemT, ResultT]]) -> None:
        """Run a collected batch as chunks of at most ``max_run_size``, checking deadlines and
        cancellations right before each chunk starts."""
        remaining = batch
        while remaining:
            now_s = time.monotonic()
            startable = []
            for request in remaining:
                if request.future.done():  # cancelled by its caller, or expired
                    request.state = _RequestState.DONE
                elif request.deadline_s is not None and request.deadline_s <= now_s:
                    self._reject(request, self._deadline_error(request), "deadline")
                else:
                    startable.append(request)
            chunk_size = self.config.max_run_size
            chunk, remaining = startable[:chunk_size], startable[chunk_size:]
            if chunk:
                await self._run_chunk(chunk)

    async def _run_chunk(self, chunk: list[_Request[ItemT, ResultT]]) -> None:
        assert self._loop is not None
        items = [request.item for request in chunk]
        padded_size = self.config.padded_size(len(items))
        items.extend([items[-1]] * (padded_size - len(items)))  # discarded below
        start_s = time.monotonic()
        for request in chunk:
            request.state = _RequestState.RUNNING
            if request.expiry is not None:
                request.expiry.cancel()
        try:
            results, run_s = await self._loop.run_in_executor(
                self._executor, self._call_run_batch, items
            )
        except Exception as error:
            logger.warning("batcher %r: batch of %d failed: %r", self.name, len(items), error)
            for request in chunk:
                self._reject(request, error, "error")
            return
        for request, result in zip(chunk, results, strict=False):  # padding results dropped
            request.set_result(result)
        if self._observer is not None:
            queue_wait_s = [start_s - request.enqueued_s for request in chunk]
            self._notify("on_batch", self.name, padded_size, queue_wait_s, run_s)

    def _call_run_batch(self, items: list[ItemT]) -> tuple[list[ResultT], float]:
        """On a worker thread: run the batch and check one result per item."""
        start_s = time.monotonic()
        results = list(self._run_batch(items))
        run_s = time.monotonic() - start_s
        if len(results) != len(items):
            raise ModelError(
                f"batcher {self.name!r}: run_batch returned {len(results)} results for "
                f"{len(items)} items; it must return exactly one result per item, in order"
            )
        return results, run_s

    # -- errors and metrics ---------------------------------------------------------------

    def _reject(
        self, request: _Request[ItemT, ResultT], error: BaseException, reason: RejectReason
    ) -> None:
        if not request.future.done():
            self._notify_reject(reason)
        request.set_exception(error)

    def _notify_reject(self, reason: RejectReason) -> None:
        if self._observer is not None:
            self._notify("on_reject", self.name, reason)

    def _notify(self, hook: str, *args: object) -> None:
        try:
            getattr(self._observer, hook)(*args)
        except Exception:
            logger.exception("batcher %r: observer %s failed", self.name, hook)


def stacking_run_batch(
    runtime: Runtime,
) -> Callable[[list[Mapping[str, np.ndarray]]], list[dict[str, np.ndarray]]]:
    """The usual ``run_batch`` for a runtime: each item is one input per name without the
    batch axis; they are stacked into (N, ...) feeds, run with ``runtime.infer`` in one call,
    and every output (N, ...) is split back into one dict per item.

    Raises (from the returned function):
        InvalidInputError: items do not have the same input names or shapes.
        ModelError: an output's first axis is not the batch size.
    """

    def run_batch(items: list[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        names = list(items[0])
        try:
            feeds = {name: np.stack([item[name] for item in items]) for name in names}
        except (KeyError, ValueError) as error:
            raise InvalidInputError(f"cannot stack batch items: {error}") from error
        outputs = runtime.infer(feeds)
        for name, value in outputs.items():
            if value.shape[:1] != (len(items),):
                raise ModelError(f"output {name}: expected batch {len(items)}, got {value.shape}")
        return [
            {name: value[index] for name, value in outputs.items()} for index in range(len(items))
        ]

    return run_batch
