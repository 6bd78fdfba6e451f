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

from posecast.engines.appearance import appearance_descriptors
from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.errors import InvalidInputError
from posecast.pipeline.scene import (
    SceneStatus,
    StreamScene,
    placements_after_tracking,
    scene_of_camera,
    with_world_joints,
)
from posecast.tracker.config import TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.track import is_predicted
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

    def with_min_person_height(self, min_person_height_px: float) -> FrameEstimator:
        """The same models, detecting persons down to this height in frame pixels."""
        ...


@dataclass(frozen=True)
class StreamConfig:
    """Settings of one stream.

    Attributes:
        skeleton: output joint set (tracking runs on the native set, converted at the end).
        camera: the stream's camera; None: a pinhole with ``fov_deg`` for each frame's size.
            Its extrinsics, when given, put every person in the world frame too.
        scene: the stream's scene file instead of ``camera`` (``Scene``: camera, ground
            plane; docs/scene.md); what it gives is used as given.
        fov_deg: field of view used when neither gives K.
        calibration: self-calibration of what is not given (ground plane, focal length).
        placement: ground-contact placement and the monocular scale.
        tracker: tracker thresholds and association mode.
        references: reference 2D poses by frame index, in the native joint set (for the
            tracker's reference association modes).
        is_tracking_enabled: False reports every frame's persons untracked (``track_id``
            null), e.g. to save detections for ``posecast retrack`` or tracker benchmarks.
        detect_every: speed mode: run the person detector only every k-th frame and follow
            the known persons in between with ROIs from their landmarks (MediaPipe's way);
            a detection is forced as soon as someone is lost. Higher is faster; people who
            enter are found up to k - 1 frames later.
        include_predicted: output policy. False (default): a frame's persons are the people
            seen in it. True: also the tracks searched for (state ``searching``, their
            predicted pose, score 0) and those that terminated in this frame (state
            ``terminated``, reported once), each marked as predicted.
        min_person_height_px: this stream's smallest person to find, in frame pixels (the
            detector's input size rule); None: the engines' default. Lower finds smaller
            people at a higher detector cost.

    Raises:
        InvalidInputError: an unknown skeleton, ``detect_every`` out of [1, 1000], or both
            ``camera`` and ``scene``.
    """

    skeleton: str = "blazepose_33"
    camera: Camera | None = None
    fov_deg: float = DEFAULT_FOV_DEG
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    references: dict[int, ReferencePoses] | None = None
    detect_every: int = 1
    is_tracking_enabled: bool = True
    scene: Scene | None = None
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    include_predicted: bool = False
    min_person_height_px: float | None = None

    def __post_init__(self) -> None:
        get_skeleton(self.skeleton)
        if self.camera is not None and self.scene is not None:
            raise InvalidInputError("give the stream either a camera or a scene, not both")
        if not 1 <= self.detect_every <= MAX_DETECT_EVERY:
            raise InvalidInputError(
                f"detect_every must be in [1, {MAX_DETECT_EVERY}], got {self.detect_every}"
            )

    def given_scene(self) -> Scene | None:
        """What the user gave: the scene, or the camera as a scene, or None."""
        if self.scene is not None:
            return self.scene
        return None if self.camera is None else scene_of_camera(self.camera)


@dataclass(frozen=True)
class TrackedFrame:
    """One processed frame of a stream; ``placements`` (N,): ``"ground"``, ``"monocular"``
    or ``""`` (a predicted row) per person; ``scene``: the stream's scene at this frame."""

    frame_index: int
    was_detected: bool
    timestamp_s: float
    width: int
    height: int
    poses: FramePoses
    timing_ms: dict[str, float]
    dropped_persons: dict[str, int]
    placements: np.ndarray | None = None
    scene: SceneStatus | None = None


class StreamPipeline:
    """Detect, pose, place and track the frames of one stream, in time order."""

    def __init__(self, estimator: FrameEstimator, config: StreamConfig | None = None) -> None:
        self.config = config or StreamConfig()
        self.estimator = (
            estimator
            if self.config.min_person_height_px is None
            else estimator.with_min_person_height(self.config.min_person_height_px)
        )
        self.tracker = Tracker(self.config.tracker)
        self.scene = StreamScene(
            self.config.given_scene(),
            self.config.fov_deg,
            self.config.calibration,
            self.config.placement,
        )
        self.frames_processed = 0
        self._followed_rois: Roi | None = None
        self._frames_since_detection = 0

    def process(self, image_rgb: np.ndarray, timestamp_s: float) -> TrackedFrame:
        """Estimate and track one (H, W, 3) uint8 RGB frame taken at ``timestamp_s``.

        Raises:
            InvalidInputError: a bad image, or a timestamp not after the previous one.
        """
        height, width = image_rgb.shape[:2]
        scene = self.scene.current(width, height)
        # 1. Estimate: detect (unless speed mode follows everyone), pose, place in camera space.
        followed = self._followed_rois
        detect = self._is_detection_due()
        estimate = self.estimator.estimate(image_rgb, scene.camera, followed, detect)
        self._remember_rois(followed, detect, estimate)
        # 2. Place everyone on the ground plane where the evidence allows (else monocular).
        start = time.perf_counter()
        placed, placements = self.scene.place(estimate.poses, scene, width, height)
        placed = with_world_joints(placed, scene)
        place_ms = (time.perf_counter() - start) * 1e3
        # 2b. What each person's clothes look like, for the tracker's appearance cue.
        start = time.perf_counter()
        placed = self._with_appearance(image_rgb, placed)
        appearance_ms = (time.perf_counter() - start) * 1e3
        # 3. Track (or report the persons untracked); learn the scene from the tracked.
        start = time.perf_counter()
        frame_index = self.frames_processed
        references = (self.config.references or {}).get(frame_index)
        poses = (
            self.tracker.update(placed, timestamp_s, references)
            if self.config.is_tracking_enabled
            else placed
        )
        placements = placements_after_tracking(placed, placements, poses)
        track_ms = (time.perf_counter() - start) * 1e3
        self.scene.observe(poses, frame_index, width, height)
        poses, placements = self._apply_output_policy(poses, placements)
        self.frames_processed += 1
        # 4. The world frame, when the scene defines one; the asked-for joint set.
        poses = with_world_joints(poses, scene)
        timing_ms = {**estimate.timing_ms, "place": place_ms, "track": track_ms}
        timing_ms["appearance"] = appearance_ms
        timing_ms["total"] = estimate.timing_ms["total"] + place_ms + appearance_ms + track_ms
        return TrackedFrame(
            frame_index=frame_index,
            was_detected=detect,
            timestamp_s=timestamp_s,
            width=width,
            height=height,
            poses=poses.to_skeleton(self.config.skeleton),
            timing_ms=timing_ms,
            dropped_persons=estimate.dropped,
            placements=placements,
            scene=self.scene.status(width, height),
        )

    def _with_appearance(self, image_rgb: np.ndarray, poses: FramePoses) -> FramePoses:
        """``poses`` with appearance descriptors when the tracker uses them."""
        is_used = self.config.is_tracking_enabled and self.config.tracker.appearance_cue
        if not is_used or not len(poses):
            return poses
        descriptors = appearance_descriptors(
            image_rgb, poses.joints2d_px, poses.joint_scores, poses.skeleton
        )
        return replace(poses, appearance=descriptors)

    def _apply_output_policy(
        self, poses: FramePoses, placements: np.ndarray
    ) -> tuple[FramePoses, np.ndarray]:
        """Without ``include_predicted``, only the rows of people seen in this frame."""
        if self.config.include_predicted or not len(poses):
            return poses, placements
        seen = ~is_predicted(poses)
        return poses[seen], placements[seen]

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
