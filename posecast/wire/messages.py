"""Server messages: the per-frame message and the stream's error, ready and end messages.

The per-frame message is shared by the WebSocket output, the HTTP response and every line of an
offline run's JSONL file, so a JSONL output is also a valid input for re-tracking.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgpack
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from posecast.errors import ProtocolError

TrackState = Literal["tentative", "confirmed", "searching", "terminated"]
PlacementKind = Literal["ground", "monocular"]
SceneStateName = Literal["uncalibrated", "calibrating", "calibrated", "given"]
OutputFormat = Literal["json", "msgpack"]


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
    joints_world: list[list[float]] | None = Field(
        None,
        description="(J, 3) world-frame metres (z up, ground at 0), when the scene is "
        "calibrated or given",
    )
    placement: PlacementKind | None = Field(
        None,
        description="how the person was placed: on the ground plane by their feet, or "
        "monocularly by the skeleton's size; null for predicted rows and old files",
    )
    predicted: bool = Field(
        False,
        description="true for a track without a detection in this frame (state searching or "
        "terminated): its predicted pose, score 0; sent only to streams that ask for "
        "include_predicted",
    )

    @model_validator(mode="after")
    def _check_shapes(self) -> PersonMessage:
        num_joints = len(self.confidence)
        arrays = {"joints3d": (self.joints3d, 3), "joints2d": (self.joints2d, 2)}
        if self.joints_world is not None:
            arrays["joints_world"] = (self.joints_world, 3)
        for name, (joints, width) in arrays.items():
            if len(joints) != num_joints:
                raise ValueError(
                    f"{name} must have one entry per joint ({num_joints}), got {len(joints)}"
                )
            if any(len(joint) != width for joint in joints):
                raise ValueError(f"every {name} entry must have {width} values")
            _require_finite([v for joint in joints for v in joint], name)
        _require_finite(self.box, "box")
        _require_finite(self.confidence, "confidence")
        return self


class SceneMessage(BaseModel):
    """The stream's scene at this frame (docs/scene.md): its state, the focal length in use
    and the ground plane (in use, or the latest estimate while calibrating), with standard
    deviations where estimated."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    state: SceneStateName
    focal_px: float = Field(gt=0)
    camera_height_m: float | None = Field(None, gt=0)
    pitch_deg: float | None = None
    roll_deg: float | None = None
    focal_px_sd: float | None = Field(None, ge=0)
    camera_height_m_sd: float | None = Field(None, ge=0)
    pitch_deg_sd: float | None = Field(None, ge=0)
    roll_deg_sd: float | None = Field(None, ge=0)
    people: int | None = Field(None, ge=0, description="people the estimate rests on")
    detail: str = Field("", description="why the scene is not calibrated yet")


class FrameMessage(BaseModel):
    """The per-frame message: every person of one frame, with where the time went."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["frame"] = "frame"
    stream: str = ""
    frame: int = Field(ge=0)
    client_frame_id: int | None = None
    timestamp: float = Field(allow_inf_nan=False)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    skeleton: str
    units: Literal["m"] = "m"
    persons: list[PersonMessage] = Field(default_factory=list)
    timing_ms: dict[str, float] = Field(default_factory=dict)
    dropped_frames: int = Field(default=0, ge=0)
    scene: SceneMessage | None = None

    @model_validator(mode="after")
    def _same_joint_count(self) -> FrameMessage:
        counts = {len(person.confidence) for person in self.persons}
        if len(counts) > 1:
            raise ValueError(f"persons of one frame have different joint counts: {sorted(counts)}")
        return self


class ErrorMessage(BaseModel):
    """A problem the client should know about; ``fatal`` ones precede the close."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["error"] = "error"
    code: str
    message: str
    client_frame_id: int | None = None
    is_fatal: bool = False


class ReadyMessage(BaseModel):
    """The server accepted a config; frames may follow."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ready"] = "ready"
    stream: str
    skeleton: str
    output: OutputFormat


class EndMessage(BaseModel):
    """Last message after an end request: every queued frame was handled."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["end"] = "end"
    stream: str
    frames_processed: int
    dropped_frames: int = Field(0, description="dropped since the last frame message")


ServerMessage = FrameMessage | ErrorMessage | ReadyMessage | EndMessage
_server_message = TypeAdapter(Annotated[ServerMessage, Field(discriminator="type")])


def encode_message(message: BaseModel, output: OutputFormat) -> str | bytes:
    """A server message as JSON text or msgpack bytes."""
    if output == "msgpack":
        return msgpack.packb(message.model_dump(mode="json"), use_bin_type=True)
    return message.model_dump_json()


def decode_message(data: str | bytes) -> ServerMessage:
    """A server message from JSON text or msgpack bytes (clients use this).

    Raises:
        ProtocolError: not a valid server message.
    """
    try:
        if isinstance(data, str):
            return _server_message.validate_json(data)
        return _server_message.validate_python(msgpack.unpackb(data, raw=False))
    except (ValidationError, ValueError, msgpack.UnpackException) as error:
        raise ProtocolError(f"invalid server message: {error}") from error
