"""Wire shapes (pydantic) of posecast's messages, and their conversion to and from FramePoses.

The per-frame message is shared by the WebSocket output, the HTTP response and every line of an
offline run's JSONL file, so a JSONL output is also a valid input for re-tracking.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from posecast.engines.frames import UNTRACKED_ID, FramePoses

TrackState = Literal["tentative", "confirmed", "searching", "terminated"]


def _require_finite(values: list[float], name: str) -> None:
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"{name} holds a non-finite value")


class PersonMessage(BaseModel):
    """One person of a frame; ``track_id`` is null for untracked detections."""

    model_config = ConfigDict(extra="forbid")

    track_id: int | None = None
    state: TrackState | None = None
    score: float = Field(ge=0.0, le=1.0)
    box: list[float] = Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in pixels")
    joints3d: list[list[float]] = Field(description="(J, 3) camera-space metres")
    joints2d: list[list[float]] = Field(description="(J, 2) image pixels")
    confidence: list[float] = Field(description="(J,) per-joint confidence in [0, 1]")

    @model_validator(mode="after")
    def _check_shapes(self) -> PersonMessage:
        num_joints = len(self.confidence)
        if len(self.joints3d) != num_joints or len(self.joints2d) != num_joints:
            raise ValueError(
                f"joints3d, joints2d and confidence must have one entry per joint: got "
                f"{len(self.joints3d)}, {len(self.joints2d)}, {num_joints}"
            )
        if any(len(joint) != 3 for joint in self.joints3d):
            raise ValueError("every joints3d entry must be [x, y, z]")
        if any(len(joint) != 2 for joint in self.joints2d):
            raise ValueError("every joints2d entry must be [u, v]")
        _require_finite(self.box, "box")
        _require_finite([v for joint in self.joints3d for v in joint], "joints3d")
        _require_finite([v for joint in self.joints2d for v in joint], "joints2d")
        _require_finite(self.confidence, "confidence")
        return self


class FrameMessage(BaseModel):
    """The per-frame message of design.md."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["frame"] = "frame"
    stream: str = ""
    frame: int = Field(ge=0)
    client_frame_id: int | None = None
    timestamp: float
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    skeleton: str
    units: Literal["m"] = "m"
    persons: list[PersonMessage] = Field(default_factory=list)
    timing_ms: dict[str, float] = Field(default_factory=dict)
    dropped_frames: int = Field(default=0, ge=0)

    @field_validator("timestamp")
    @classmethod
    def _finite_timestamp(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        return value

    @model_validator(mode="after")
    def _same_joint_count(self) -> FrameMessage:
        counts = {len(person.confidence) for person in self.persons}
        if len(counts) > 1:
            raise ValueError(f"persons of one frame have different joint counts: {sorted(counts)}")
        return self


def _rounded(array: np.ndarray, decimals: int) -> list:
    return np.round(array.astype(np.float64), decimals).tolist()


def persons_from_poses(poses: FramePoses) -> list[PersonMessage]:
    """Wire form of every person (metres to 0.1 mm, pixels to 0.01 px)."""
    persons = []
    for i in range(len(poses)):
        track_id = int(poses.track_ids[i])
        state = str(poses.track_states[i]) or None
        persons.append(
            PersonMessage(
                track_id=None if track_id == UNTRACKED_ID else track_id,
                state=state,  # type: ignore[arg-type]
                score=float(np.clip(poses.scores[i], 0.0, 1.0)),
                box=_rounded(poses.boxes_xyxy[i], 2),
                joints3d=_rounded(poses.joints_cam_m[i], 4),
                joints2d=_rounded(poses.joints2d_px[i], 2),
                confidence=_rounded(np.clip(poses.joint_scores[i], 0.0, 1.0), 4),
            )
        )
    return persons


def single_image_message(
    poses: FramePoses, width: int, height: int, timing_ms: dict[str, float], stream: str = ""
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
        persons=persons_from_poses(poses),
        timing_ms={name: round(ms, 2) for name, ms in timing_ms.items()},
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
    )
