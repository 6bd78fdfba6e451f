"""Per-stream sessions: frames in, tracked camera-space skeletons out.

``PoseEngines`` holds what all streams share (the models); a ``StreamSession`` holds what one
stream owns (its camera, skeleton format, tracker and frame counter). The service and the
offline CLI runs both drive sessions, so they produce the same messages. No web imports here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from posecast.engines.batched_runtime import BatchedRuntime
from posecast.engines.batcher import (
    BatcherConfig,
    BatcherObserver,
    DynamicBatcher,
    stacking_run_batch,
)
from posecast.engines.blazepose import BlazePoseLandmarkModel
from posecast.engines.detector import NanoDetPersonDetector
from posecast.engines.estimator import FrameEstimate, PoseEstimator
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.engines.pose_alignment import PoseAlignmentDetector
from posecast.engines.runtimes import Runtime, warm_up
from posecast.errors import InvalidInputError
from posecast.service.messages import FrameMessage, persons_from_poses
from posecast.tracker.config import TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.tracker import Tracker


@dataclass(frozen=True)
class StreamConfig:
    """Settings of one stream.

    Attributes:
        skeleton: output joint set (tracking runs on the native set, converted at the end).
        camera: the stream's camera; None: a pinhole with ``fov_deg`` for each frame's size.
        fov_deg: field of view used when ``camera`` is None.
        tracker: tracker thresholds and association mode.
        references: reference 2D poses by frame index, in the native joint set (for the
            tracker's reference association modes).
        is_tracking_enabled: False reports every frame's persons untracked (``track_id``
            null), e.g. to save detections for ``posecast retrack`` or tracker benchmarks.
        detect_every: speed mode: run the person detector only every k-th frame and follow
            the known persons in between with ROIs from their landmarks (MediaPipe's way);
            a detection is forced as soon as someone is lost. Higher is faster; people who
            enter are found up to k - 1 frames later.
    """

    skeleton: str = "blazepose_33"
    camera: Camera | None = None
    fov_deg: float = DEFAULT_FOV_DEG
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    references: dict[int, ReferencePoses] | None = None
    detect_every: int = 1
    is_tracking_enabled: bool = True

    def __post_init__(self) -> None:
        get_skeleton(self.skeleton)
        if self.detect_every < 1:
            raise InvalidInputError(f"detect_every must be >= 1, got {self.detect_every}")

    def camera_for(self, width: int, height: int) -> Camera:
        return self.camera or Camera.from_fov(width, height, self.fov_deg)


@dataclass(frozen=True)
class TrackedFrame:
    """One processed frame of a stream."""

    frame_index: int
    was_detected: bool
    timestamp_s: float
    width: int
    height: int
    poses: FramePoses
    timing_ms: dict[str, float]
    dropped_persons: dict[str, int]

    def to_message(
        self, stream: str, client_frame_id: int | None = None, dropped_frames: int = 0
    ) -> FrameMessage:
        """The per-frame wire message of this frame."""
        return FrameMessage(
            stream=stream,
            frame=self.frame_index,
            client_frame_id=client_frame_id,
            timestamp=self.timestamp_s,
            width=self.width,
            height=self.height,
            skeleton=self.poses.skeleton,
            persons=persons_from_poses(self.poses),
            timing_ms={name: round(value, 2) for name, value in self.timing_ms.items()},
            dropped_frames=dropped_frames,
        )


DIRECT_WARMUP_BATCH_SIZES = tuple(range(1, 9))
"""Batch sizes warmed up without a batcher: one image, and up to 8 persons per frame."""


class PoseEngines:
    """The models every stream shares; estimates run on worker threads.

    With a ``BatcherConfig``, ``start()`` puts one dynamic batcher in front of each model
    (detector, alignment detector, landmark model) and warms up every batch size it can
    send, so the frames and crops of concurrent streams share model runs. Without one, each
    estimate calls the models directly.
    """

    def __init__(
        self,
        estimator: PoseEstimator,
        batching: BatcherConfig | None = None,
        observer: BatcherObserver | None = None,
    ) -> None:
        self._direct_estimator = estimator
        self.estimator = estimator
        self._batching = batching
        self._observer = observer
        self._batchers: list[DynamicBatcher] = []

    async def start(self) -> None:
        """Warm up every batch size the models will see and start the batchers; call on the
        serving loop. Without batching, warms up the direct runtimes."""
        if self._batchers:
            return
        direct = self._direct_estimator
        runtimes = {"detector": direct.detector.runtime, "pose": direct.pose_model.runtime}
        if direct.aligner is not None:
            runtimes["alignment"] = direct.aligner.runtime
        if self._batching is None:
            for runtime in runtimes.values():
                await asyncio.to_thread(warm_up, runtime, DIRECT_WARMUP_BATCH_SIZES)
            return
        batched = {
            name: await self._batched(name, runtime, self._batching)
            for name, runtime in runtimes.items()
        }
        self.estimator = PoseEstimator(
            NanoDetPersonDetector(batched["detector"], direct.detector.config),
            BlazePoseLandmarkModel(batched["pose"], direct.pose_model.config),
            direct.config,
            None
            if direct.aligner is None
            else PoseAlignmentDetector(batched["alignment"], direct.aligner.config),
        )

    async def _batched(self, name: str, runtime: Runtime, config: BatcherConfig) -> BatchedRuntime:
        await asyncio.to_thread(warm_up, runtime, config.run_batch_sizes)
        batcher = DynamicBatcher(
            stacking_run_batch(runtime), config, name=name, observer=self._observer
        )
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

    async def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera,
        followed_rois: Roi | None = None,
        detect: bool = True,
    ) -> FrameEstimate:
        """Untracked native-skeleton poses of one image, off the event loop (see
        ``PoseEstimator.estimate``)."""
        return await asyncio.to_thread(
            self.estimator.estimate, image_rgb, camera, followed_rois, detect
        )


class StreamSession:
    """One stream's camera, tracker and frame counter."""

    def __init__(self, engines: PoseEngines, config: StreamConfig | None = None) -> None:
        self.engines = engines
        self.config = config or StreamConfig()
        self.tracker = Tracker(self.config.tracker)
        self.frames_processed = 0
        self._followed_rois: Roi | None = None
        self._frames_since_detection = 0

    async def process(self, image_rgb: np.ndarray, timestamp_s: float) -> TrackedFrame:
        """Estimate and track one frame; frames must come in time order.

        Raises:
            InvalidInputError: a bad image, or a timestamp not after the previous one.
        """
        height, width = image_rgb.shape[:2]
        followed = self._followed_rois
        detect = self._is_detection_due()
        estimate = await self.engines.estimate(
            image_rgb, self.config.camera_for(width, height), followed, detect
        )
        self._remember_rois(followed, detect, estimate)
        frame_index = self.frames_processed
        start = time.perf_counter()
        references = (self.config.references or {}).get(frame_index)
        tracked = (
            self.tracker.update(estimate.poses, timestamp_s, references)
            if self.config.is_tracking_enabled
            else estimate.poses
        )
        track_ms = (time.perf_counter() - start) * 1e3
        self.frames_processed += 1
        timing_ms = {**estimate.timing_ms, "track": track_ms}
        timing_ms["total"] = estimate.timing_ms["total"] + track_ms
        return TrackedFrame(
            frame_index=frame_index,
            was_detected=detect,
            timestamp_s=timestamp_s,
            width=width,
            height=height,
            poses=tracked.to_skeleton(self.config.skeleton),
            timing_ms=timing_ms,
            dropped_persons=estimate.dropped,
        )

    def _is_detection_due(self) -> bool:
        """Whether this frame runs the person detector (always, unless in speed mode)."""
        is_due = self._frames_since_detection + 1 >= self.config.detect_every
        return self._followed_rois is None or len(self._followed_rois) == 0 or is_due

    def _remember_rois(self, followed: Roi | None, detected: bool, estimate: FrameEstimate) -> None:
        """In speed mode keep the next ROIs; losing anyone we followed forces a detection."""
        if self.config.detect_every == 1:
            return
        self._frames_since_detection = 0 if detected else self._frames_since_detection + 1
        is_someone_lost = (
            not detected and followed is not None and len(estimate.next_rois) < len(followed)
        )
        self._followed_rois = None if is_someone_lost else estimate.next_rois
