"""Prometheus metrics of one app: ``posecast_`` prefix, seconds, ``_total`` counters.

Every app owns its ``CollectorRegistry`` (never the global one), so several apps can live in
one process (tests). Labels are bounded: ``source`` (http, stream), ``reason`` (the
``DROP_REASONS``), ``code`` (``service.errors.ERROR_CODES``), ``model`` (model names of the
engines, a handful).

The batchers report through ``ServiceMetrics.on_batch`` / ``on_reject`` (it is their
``posecast.engines.batcher.BatcherObserver``), so they need no Prometheus import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Source = Literal["http", "stream"]
DropReason = Literal[
    "queue_full", "invalid_input", "inference_error", "overloaded", "slow_reader", "closed"
]
DROP_REASONS: tuple[str, ...] = DropReason.__args__  # type: ignore[attr-defined]
"""Why a received frame got no per-frame message:

queue_full: a newer frame displaced it from the stream's queue (real-time backpressure);
invalid_input: it could not be decoded, or its header or timestamp was invalid;
inference_error: the models failed on it; overloaded: the batcher refused it (queue full or
deadline passed); slow_reader: its message was dropped because the client does not read;
closed: the stream closed before it was processed.
"""

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServiceMetrics:
    """All metrics of one app, registered in ``self.registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frames_received = Counter(
            "posecast_frames_received", "Frames (images) received.", ["source"], registry=r
        )
        self.frames_processed = Counter(
            "posecast_frames_processed",
            "Frames that produced a per-frame message.",
            ["source"],
            registry=r,
        )
        self.frames_dropped = Counter(
            "posecast_frames_dropped",
            "Received frames without a per-frame message, by reason.",
            ["reason"],
            registry=r,
        )
        self.errors = Counter(
            "posecast_errors", "Errors reported to clients, by code.", ["code"], registry=r
        )
        self.frame_latency = Histogram(
            "posecast_frame_latency_seconds",
            "End-to-end latency: frame received to its message handed to the transport.",
            ["source"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.batch_size = Histogram(
            "posecast_batch_size",
            "Requests per model batch.",
            ["model"],
            buckets=BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "posecast_batch_queue_wait_seconds",
            "Time a request waited for its batch.",
            ["model"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.inference_time = Histogram(
            "posecast_inference_seconds",
            "Run time of one model batch.",
            ["model"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.batch_rejected = Counter(
            "posecast_batch_rejected",
            "Requests the batcher refused, by model and reason.",
            ["model", "reason"],
            registry=r,
        )
        self.active_streams = Gauge(
            "posecast_active_streams", "Open WebSocket streams.", registry=r
        )
        self.active_tracks = Gauge(
            "posecast_active_tracks",
            "Live tracks (tentative, confirmed, searching) over all streams.",
            registry=r,
        )
        for source in ("http", "stream"):
            self.frames_received.labels(source)
            self.frames_processed.labels(source)
        for reason in DROP_REASONS:
            self.frames_dropped.labels(reason)

    def on_batch(
        self, name: str, batch_size: int, queue_wait_s: Sequence[float], run_s: float
    ) -> None:
        self.batch_size.labels(name).observe(batch_size)
        queue_wait = self.queue_wait.labels(name)
        for wait_s in queue_wait_s:
            queue_wait.observe(wait_s)
        self.inference_time.labels(name).observe(run_s)

    def on_reject(self, name: str, reason: str) -> None:
        self.batch_rejected.labels(name, reason).inc()

    def drop(self, reason: DropReason, count: int = 1) -> None:
        if count:
            self.frames_dropped.labels(reason).inc(count)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
