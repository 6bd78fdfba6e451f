"""What the lifespan builds and the routes share: engines, metrics, streams, readiness."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from posecast.errors import (
    DrainingError,
    NotReadyError,
    TooManyRequestsError,
    TooManyStreamsError,
)
from posecast.service.engines import PoseEngines
from posecast.service.metrics import ServiceMetrics
from posecast.service.settings import ServiceSettings


class StreamRegistry:
    """Open streams, at most ``max_streams``; ``wait_empty`` lets shutdown drain them."""

    def __init__(self, max_streams: int, metrics: ServiceMetrics) -> None:
        self.max_streams = max_streams
        self._metrics = metrics
        self._open: set[str] = set()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._open)

    def open(self) -> str:
        """Register a stream and return its id.

        Raises:
            TooManyStreamsError: ``max_streams`` streams are open.
        """
        if len(self._open) >= self.max_streams:
            raise TooManyStreamsError(f"too many streams (limit {self.max_streams})")
        stream_id = f"s{next(self._ids)}"
        self._open.add(stream_id)
        self._metrics.active_streams.set(len(self._open))
        return stream_id

    def close(self, stream_id: str) -> None:
        self._open.discard(stream_id)
        self._metrics.active_streams.set(len(self._open))
        self._changed.set()

    async def wait_empty(self, timeout_s: float) -> bool:
        """Wait until no stream is open; False if some still are after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._open:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return not self._open
        return True


class RequestSlots:
    """At most ``limit`` image requests at a time; one more is refused, never queued, so
    the memory they hold stays bounded whatever the number of clients."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    @contextmanager
    def take(self) -> Iterator[None]:
        """Hold a slot for the duration of the block.

        Raises:
            TooManyRequestsError: every slot is taken.
        """
        if self.in_use >= self.limit:
            raise TooManyRequestsError(
                f"too many image requests at once (limit {self.limit}); retry shortly"
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1


@dataclass
class ServiceState:
    """Shared by every request of one app (``app.state.service``).

    Attributes:
        is_ready: models loaded and warmed up, and not draining.
        is_draining: shutdown began: readiness is false, new frames and streams are refused.
        draining: set once draining started, for streams to notice at once.
        backend_check: blocking call that says why a remote model backend (provider triton)
            cannot serve now, or None; readiness asks it (``backend_problem``).
    """

    settings: ServiceSettings
    metrics: ServiceMetrics
    engines: PoseEngines | None = None
    streams: StreamRegistry = field(init=False)
    image_requests: RequestSlots = field(init=False)
    is_loaded: bool = False
    is_draining: bool = False
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    backend_check: Callable[[], str | None] | None = None

    def __post_init__(self) -> None:
        self.streams = StreamRegistry(self.settings.max_streams, self.metrics)
        self.image_requests = RequestSlots(self.settings.max_image_requests)

    @property
    def is_ready(self) -> bool:
        return self.is_loaded and not self.is_draining

    async def backend_problem(self) -> str | None:
        """Why the model backend cannot serve now (on a worker thread), or None."""
        if self.backend_check is None:
            return None
        return await asyncio.to_thread(self.backend_check)

    def require_ready(self) -> PoseEngines:
        """The engines, if new work is accepted.

        Raises:
            DrainingError: shutdown began.
            NotReadyError: models are still loading.
        """
        if self.is_draining:
            raise DrainingError("server is shutting down")
        if not self.is_loaded or self.engines is None:
            raise NotReadyError("models are not loaded yet")
        return self.engines

    def begin_drain(self) -> None:
        """Shutdown starts: readiness goes false, streams finish in-flight frames and close."""
        self.is_draining = True
        self.draining.set()
