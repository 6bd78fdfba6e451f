"""One stream's pipeline: frames in, tracked camera-space (and world) skeletons out.

A ``StreamPipeline`` owns what one stream owns: its settings, its tracker, its frame counter
and, in speed mode, the ROIs that follow people between detections. The models are shared:
the pipeline only needs something that estimates one frame (``FrameEstimator``: the
``PoseEstimator``, or the service's batched one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.errors import InvalidInputError
from posecast.tracker.config import TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.tracker import Tracker

MAX_DETECT_EVERY = 1000


class FrameEstimator(Protocol):
    """Untracked native-skeleton poses of one image (``PoseEstimator.estimate``)."""

    def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera | None = None,
        followed_rois: Roi | None = None,
        detect: bool = True,
    ) -> FrameEstimate: ...


@dataclass(frozen=True)
class StreamConfig:
    """Settings of one stream.

    Attributes:
        skeleton: output joint set (tracking runs on the native set, converted at the end).
        camera: the stream's camera; None: a pinhole with ``fov_deg`` for each frame's size.
            Its extrinsics, when given, put every person in the world frame too.
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

    Raises:
        InvalidInputError: an unknown skeleton or ``detect_every`` out of [1, 1000].
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
        if not 1 <= self.detect_every <= MAX_DETECT_EVERY:
            raise InvalidInputError(
                f"detect_every must be in [1, {MAX_DETECT_EVERY}], got {self.detect_every}"
            )

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


def with_world_joints(poses: FramePoses, camera: Camera) -> FramePoses:
    """``poses`` with ``joints_world_m`` when the camera's place in the world is known."""
    if camera.world_from_camera is None:
        return poses
    return replace(poses, joints_world_m=camera.camera_to_world(poses.joints_cam_m))


class StreamPipeline:
    """Detect, pose, place and track the frames of one stream, in time order."""

    def __init__(self, estimator: FrameEstimator, config: StreamConfig | None = None) -> None:
        self.estimator = estimator
        self.config = config or StreamConfig()
        self.tracker = Tracker(self.config.tracker)
        self.frames_processed = 0
        self._followed_rois: Roi | None = None
        self._frames_since_detection = 0

    def process(self, image_rgb: np.ndarray, timestamp_s: float) -> TrackedFrame:
        """Estimate and track one (H, W, 3) uint8 RGB frame taken at ``timestamp_s``.

        Raises:
            InvalidInputError: a bad image, or a timestamp not after the previous one.
        """
        height, width = image_rgb.shape[:2]
        camera = self.config.camera_for(width, height)
        # 1. Estimate: detect (unless speed mode follows everyone), pose, place in camera space.
        followed = self._followed_rois
        detect = self._is_detection_due()
        estimate = self.estimator.estimate(image_rgb, camera, followed, detect)
        self._remember_rois(followed, detect, estimate)
        # 2. Track (or report the persons untracked).
        start = time.perf_counter()
        frame_index = self.frames_processed
        references = (self.config.references or {}).get(frame_index)
        poses = (
            self.tracker.update(estimate.poses, timestamp_s, references)
            if self.config.is_tracking_enabled
            else estimate.poses
        )
        track_ms = (time.perf_counter() - start) * 1e3
        self.frames_processed += 1
        # 3. The world frame, when the camera has extrinsics; the asked-for joint set.
        poses = with_world_joints(poses, camera)
        timing_ms = {**estimate.timing_ms, "track": track_ms}
        timing_ms["total"] = estimate.timing_ms["total"] + track_ms
        return TrackedFrame(
            frame_index=frame_index,
            was_detected=detect,
            timestamp_s=timestamp_s,
            width=width,
            height=height,
            poses=poses.to_skeleton(self.config.skeleton),
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
