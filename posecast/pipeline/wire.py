"""Between the pipeline's records and the wire schema: the one place arrays become messages.

``FramePoses`` -> ``PersonMessage`` list (and back, for re-tracking saved JSONL files),
``TrackedFrame`` -> ``FrameMessage``, ``ConfigMessage`` -> ``StreamConfig``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.engines.geometry.skeletons import SKELETONS
from posecast.errors import InvalidInputError
from posecast.pipeline.scene import SceneStatus
from posecast.pipeline.stream import StreamConfig, TrackedFrame
from posecast.tracker.config import AssociationMode, SmoothingConfig, TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.track import is_predicted
from posecast.wire.messages import FrameMessage, PersonMessage, SceneMessage
from posecast.wire.protocol import ConfigMessage, ReferencePose


def _rounded(array: np.ndarray, decimals: int) -> list:
    return np.round(array.astype(np.float64), decimals).tolist()


def persons_from_poses(
    poses: FramePoses, placements: np.ndarray | None = None
) -> list[PersonMessage]:
    """Wire form of every person (metres to 0.1 mm, pixels to 0.01 px); ``placements``
    (N,) ``"ground"``, ``"monocular"`` or ``""`` (none) per person."""
    persons = []
    predicted = is_predicted(poses)
    for i in range(len(poses)):
        placement = None if placements is None else str(placements[i]) or None
        track_id = int(poses.track_ids[i])
        world = None if poses.joints_world_m is None else _rounded(poses.joints_world_m[i], 4)
        persons.append(
            PersonMessage(
                track_id=None if track_id == UNTRACKED_ID else track_id,
                state=str(poses.track_states[i]) or None,  # type: ignore[arg-type]
                score=float(np.clip(poses.scores[i], 0.0, 1.0)),
                box=_rounded(poses.boxes_xyxy[i], 2),
                joints3d=_rounded(poses.joints_cam_m[i], 4),
                joints2d=_rounded(poses.joints2d_px[i], 2),
                confidence=_rounded(np.clip(poses.joint_scores[i], 0.0, 1.0), 4),
                joints_world=world,
                placement=placement,  # type: ignore[arg-type]
                predicted=bool(predicted[i]),
            )
        )
    return persons


def scene_message(status: SceneStatus) -> SceneMessage:
    """Wire form of a stream's scene (infinite uncertainties as null)."""

    def finite(value: float | None, digits: int) -> float | None:
        return None if value is None or not math.isfinite(value) else round(value, digits)

    height, pitch, roll = status.ground if status.ground is not None else (None, None, None)
    uncertainty = status.uncertainty
    return SceneMessage(
        state=status.state.value,  # type: ignore[arg-type]
        focal_px=round(status.focal_px, 2),
        camera_height_m=finite(height, 4),
        pitch_deg=finite(pitch, 3),
        roll_deg=finite(roll, 3),
        focal_px_sd=None if uncertainty is None else finite(uncertainty.focal_px_sd, 2),
        camera_height_m_sd=None
        if uncertainty is None
        else finite(uncertainty.camera_height_m_sd, 4),
        pitch_deg_sd=None if uncertainty is None else finite(uncertainty.pitch_deg_sd, 3),
        roll_deg_sd=None if uncertainty is None else finite(uncertainty.roll_deg_sd, 3),
        people=None if uncertainty is None else uncertainty.people,
        detail=status.detail,
    )


def frame_message(
    tracked: TrackedFrame,
    stream: str,
    client_frame_id: int | None = None,
    dropped_frames: int = 0,
) -> FrameMessage:
    """The per-frame message of a processed frame."""
    return FrameMessage(
        stream=stream,
        frame=tracked.frame_index,
        client_frame_id=client_frame_id,
        timestamp=tracked.timestamp_s,
        width=tracked.width,
        height=tracked.height,
        skeleton=tracked.poses.skeleton,
        persons=persons_from_poses(tracked.poses, tracked.placements),
        timing_ms={name: round(value, 2) for name, value in tracked.timing_ms.items()},
        dropped_frames=dropped_frames,
        scene=None if tracked.scene is None else scene_message(tracked.scene),
    )


def single_image_message(
    poses: FramePoses,
    width: int,
    height: int,
    timing_ms: dict[str, float],
    stream: str = "",
    placements: np.ndarray | None = None,
    scene: SceneStatus | None = None,
) -> FrameMessage:
    """The message of one untracked image (frame 0, time 0): ``posecast pose`` and
    ``POST /v1/poses``."""
    return FrameMessage(
        stream=stream,
        frame=0,
        timestamp=0.0,
        width=width,
        height=height,
        skeleton=poses.skeleton,
        persons=persons_from_poses(poses, placements),
        timing_ms={name: round(ms, 2) for name, ms in timing_ms.items()},
        scene=None if scene is None else scene_message(scene),
    )


def poses_from_message(message: FrameMessage, num_joints: int | None = None) -> FramePoses:
    """Arrays of a frame message; ``num_joints`` gives the joint count of a frame without persons.

    Raises:
        ValueError: an empty frame and no ``num_joints``.
    """
    if not message.persons:
        if num_joints is None:
            raise ValueError("a frame without persons needs num_joints")
        return FramePoses.empty(message.skeleton, num_joints)
    persons = message.persons
    has_world = all(p.joints_world is not None for p in persons)
    return FramePoses(
        skeleton=message.skeleton,
        boxes_xyxy=np.array([p.box for p in persons], np.float32),
        scores=np.array([p.score for p in persons], np.float32),
        joints2d_px=np.array([p.joints2d for p in persons], np.float32),
        joints_cam_m=np.array([p.joints3d for p in persons], np.float32),
        joint_scores=np.array([p.confidence for p in persons], np.float32),
        track_ids=np.array(
            [UNTRACKED_ID if p.track_id is None else p.track_id for p in persons], np.int64
        ),
        track_states=np.array([p.state or "" for p in persons], dtype="<U16"),
        joints_world_m=np.array([p.joints_world for p in persons], np.float32)
        if has_world
        else None,
    )


def stream_config_from_message(message: ConfigMessage, default_skeleton: str) -> StreamConfig:
    """The stream settings a config message asks for.

    Raises:
        InvalidInputError: inconsistent or out-of-range values.
    """
    if message.fov_deg is not None and message.intrinsics is not None:
        raise InvalidInputError("config: give either fov_deg or intrinsics, not both")
    skeleton = message.skeleton or default_skeleton
    if skeleton not in SKELETONS:
        raise InvalidInputError(
            f"config: unknown skeleton {skeleton!r}; valid: {', '.join(sorted(SKELETONS))}"
        )
    scene = None if message.intrinsics is None else Scene.from_dict(message.intrinsics)
    references = None
    if message.references:
        references = {0: reference_poses(message.references)}
    extra: dict[str, Any] = {} if message.fov_deg is None else {"fov_deg": message.fov_deg}
    calibration = message.calibration.model_dump(exclude_none=True) if message.calibration else {}
    placement = message.placement.model_dump(exclude_none=True) if message.placement else {}
    try:
        calibration_config = CalibrationConfig(**calibration)
        placement_config = PlacementConfig(**placement)
    except InvalidInputError as error:
        raise InvalidInputError(f"config: {error}") from error
    return StreamConfig(
        skeleton=skeleton,
        scene=scene,
        tracker=_tracker_config(message),
        references=references,
        detect_every=message.detect_every,
        calibration=calibration_config,
        placement=placement_config,
        include_predicted=message.include_predicted,
        min_person_height_px=message.min_person_height_px,
        **extra,
    )


def _tracker_config(message: ConfigMessage) -> TrackerConfig:
    options = message.tracker.model_dump(exclude_none=True) if message.tracker else {}
    association = options.pop("association", None)
    if association is None and message.references:
        association = "unknown"
    if association is not None:
        options["association"] = AssociationMode(association)
    if association in ("unknown", "known") and not message.references:
        raise InvalidInputError(f"config: association {association!r} needs references")
    smoothing = message.smoothing.model_dump(exclude_none=True) if message.smoothing else {}
    try:
        return replace(TrackerConfig(), **options, smoothing=SmoothingConfig(**smoothing))
    except InvalidInputError as error:
        raise InvalidInputError(f"config: {error}") from error


def reference_poses(references: list[ReferencePose]) -> ReferencePoses:
    """Reference 2D poses of a config message as arrays.

    Raises:
        InvalidInputError: references with different joint counts.
    """
    counts = {len(reference.confidence) for reference in references}
    if len(counts) > 1 or any(len(r.joints2d) != len(r.confidence) for r in references):
        raise InvalidInputError(
            "config: every reference needs joints2d (J, 2) and confidence (J,) with one J"
        )
    num_joints = counts.pop()
    return ReferencePoses(
        ids=np.array([r.id for r in references], np.int64),
        joints2d_px=np.array([r.joints2d for r in references], np.float64).reshape(
            len(references), num_joints, 2
        ),
        joint_scores=np.array([r.confidence for r in references], np.float64).reshape(
            len(references), num_joints
        ),
    )
