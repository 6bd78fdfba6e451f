"""The WebSocket stream protocol of ``/v1/stream``: messages, frame framing, encodings.

Client to server:
    * text ``{"type": "config", ...}`` (``ConfigMessage``), optional, before the first frame;
    * binary frames: an encoded image (JPEG or PNG), optionally preceded by a frame header
      (``encode_frame``): ``b"PCF1"`` + little-endian uint32 N + N bytes of a UTF-8 JSON object
      (``FrameHeader``: ``frame_id``, ``timestamp_s``) + the image bytes;
    * text ``{"type": "end"}``: finish the queued frames, send their messages, close (1000).

Server to client (JSON text, or msgpack binary when the config asks for it): ``FrameMessage``
(``type`` "frame"), ``ErrorMessage`` ("error"), ``ReadyMessage`` ("ready", the answer to a
config) and ``EndMessage`` ("end", the answer to an end request). docs/service.md has the
full description, close codes included.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from dataclasses import replace
from typing import Annotated, Any, Literal, get_type_hints

import msgpack
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.skeletons import SKELETONS
from posecast.errors import InvalidInputError
from posecast.service.errors import ProtocolError, UnsupportedMediaTypeError
from posecast.service.messages import FrameMessage
from posecast.service.session import StreamConfig
from posecast.tracker.config import AssociationMode, SmoothingConfig, TrackerConfig
from posecast.tracker.references import ReferencePoses

FRAME_MAGIC = b"PCF1"
"""First bytes of a binary frame that carries a header."""
_LENGTH = struct.Struct("<I")
MAX_HEADER_BYTES = 4096
IMAGE_SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
OutputFormat = Literal["json", "msgpack"]
MIN_FOV_DEG = 1.0
MAX_FOV_DEG = 179.0
"""Field-of-view bounds: beyond them the focal length is no longer a usable number."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FrameHeader(_Strict):
    """Optional per-frame header.

    Attributes:
        frame_id: the client's id of the frame, echoed as ``client_frame_id``.
        timestamp_s: capture time in seconds (any epoch, must increase within a stream);
            absent: the server's receive time since the stream opened.
    """

    frame_id: int | None = Field(None, ge=0, le=2**63 - 1)
    timestamp_s: float | None = None


class SmoothingOptions(_Strict):
    """One Euro filter settings (tracker.config.SmoothingConfig); absent fields: defaults."""

    is_enabled: bool | None = None
    min_cutoff_hz: float | None = None
    beta_per_m: float | None = None
    d_cutoff_hz: float | None = None


def _tracker_options_model() -> type[BaseModel]:
    """Every ``TrackerConfig`` threshold as an optional field, so the two never drift apart."""
    hints = get_type_hints(TrackerConfig)
    fields: dict[str, Any] = {
        field.name: (hints[field.name] | None, None)
        for field in dataclasses.fields(TrackerConfig)
        if field.name not in ("association", "smoothing")
    }
    fields["association"] = (Literal["free", "unknown", "known"] | None, None)
    return create_model(
        "TrackerOptions",
        __base__=_Strict,
        __doc__="Tracker thresholds (tracker.config.TrackerConfig); absent fields: defaults.",
        **fields,
    )


TrackerOptions = _tracker_options_model()


class ReferencePose(_Strict):
    """A first-frame reference 2D pose in the native joint set (blazepose_33)."""

    id: int
    joints2d: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        max_length=1000
    )
    confidence: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(max_length=1000)


class ConfigMessage(_Strict):
    """The optional first text message of a stream.

    Attributes:
        stream: a name for the stream, echoed in every message's ``stream``.
        fov_deg: field of view of the longer image side when the intrinsics are unknown.
        intrinsics: camera as in docs/geometry.md (``K``, optional ``distortion``,
            ``world_from_camera`` or ``R`` + ``t``); excludes ``fov_deg``.
        skeleton: output joint set.
        output: encoding of the server's messages.
        tracker, smoothing: tracker settings.
        references: first-frame reference 2D poses with ids (3DPW's unknown association);
            ``tracker.association`` defaults to "unknown" when given.
        detect_every: speed mode: detect persons every k-th frame, follow them in between.
    """

    type: Literal["config"]
    stream: str = Field("", max_length=128)
    fov_deg: float | None = Field(None, ge=MIN_FOV_DEG, le=MAX_FOV_DEG)
    intrinsics: dict[str, Any] | None = None
    skeleton: str | None = None
    output: OutputFormat = "json"
    tracker: TrackerOptions | None = None  # type: ignore[valid-type]
    smoothing: SmoothingOptions | None = None
    references: list[ReferencePose] | None = Field(None, max_length=100)
    detect_every: int = Field(1, ge=1, le=1000)

    def to_stream_config(self, default_skeleton: str) -> StreamConfig:
        """The session settings this message asks for.

        Raises:
            InvalidInputError: inconsistent or out-of-range values.
        """
        if self.fov_deg is not None and self.intrinsics is not None:
            raise InvalidInputError("config: give either fov_deg or intrinsics, not both")
        skeleton = self.skeleton or default_skeleton
        if skeleton not in SKELETONS:
            raise InvalidInputError(
                f"config: unknown skeleton {skeleton!r}; valid: {', '.join(sorted(SKELETONS))}"
            )
        camera = None if self.intrinsics is None else Camera.from_dict(self.intrinsics)
        tracker = self._tracker_config()
        references = None
        if self.references:
            references = {0: _reference_poses(self.references)}
        extra: dict[str, Any] = {} if self.fov_deg is None else {"fov_deg": self.fov_deg}
        return StreamConfig(
            skeleton=skeleton,
            camera=camera,
            tracker=tracker,
            references=references,
            detect_every=self.detect_every,
            **extra,
        )

    def _tracker_config(self) -> TrackerConfig:
        options = (self.tracker or TrackerOptions()).model_dump(exclude_none=True)
        association = options.pop("association", None)
        if association is None and self.references:
            association = "unknown"
        if association is not None:
            options["association"] = AssociationMode(association)
        if association in ("unknown", "known") and not self.references:
            raise InvalidInputError(f"config: association {association!r} needs references")
        smoothing = (self.smoothing or SmoothingOptions()).model_dump(exclude_none=True)
        try:
            return replace(TrackerConfig(), **options, smoothing=SmoothingConfig(**smoothing))
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"config: {error}") from error


def _reference_poses(references: list[ReferencePose]) -> ReferencePoses:
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


class EndRequest(_Strict):
    """Client asks to finish: the queued frames are processed, then the server closes."""

    type: Literal["end"]


ClientControl = Annotated[ConfigMessage | EndRequest, Field(discriminator="type")]
_client_control = TypeAdapter(ClientControl)


def parse_control(text: str) -> ConfigMessage | EndRequest:
    """A client's text message.

    Raises:
        UnsupportedMediaTypeError: not a JSON object with a known ``type``.
        InvalidInputError: a config with unknown or invalid fields.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise UnsupportedMediaTypeError(
            "text messages must be JSON control messages (config or end); send frames as binary"
        ) from None
    if not isinstance(data, dict) or data.get("type") not in ("config", "end"):
        raise UnsupportedMediaTypeError(
            'text messages must be JSON objects with "type": "config" or "end"'
        )
    try:
        return _client_control.validate_python(data)
    except ValidationError as error:
        raise InvalidInputError(f"invalid {data['type']} message: {_first_error(error)}") from None


def _first_error(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in item['loc'][1:]) or 'message'}: {item['msg']}"
        for item in error.errors()
    ]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more


def encode_frame(
    image: bytes, frame_id: int | None = None, timestamp_s: float | None = None
) -> bytes:
    """One binary frame message: the image, with a header when an id or time is given."""
    if frame_id is None and timestamp_s is None:
        return bytes(image)
    header = FrameHeader(frame_id=frame_id, timestamp_s=timestamp_s)
    header_bytes = header.model_dump_json(exclude_none=True).encode()
    return FRAME_MAGIC + _LENGTH.pack(len(header_bytes)) + header_bytes + bytes(image)


def image_kind(data: bytes) -> str | None:
    """ "jpeg" or "png" from the leading signature, None for anything else."""
    for kind, signature in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    return None


def decode_frame(data: bytes) -> tuple[FrameHeader, bytes]:
    """Split a binary frame message into its header (empty when absent) and image bytes.

    Raises:
        InvalidInputError: a malformed header, or an empty image (the stream continues).
        UnsupportedMediaTypeError: the payload is neither JPEG nor PNG.
    """
    header = FrameHeader()
    image = data
    if data.startswith(FRAME_MAGIC):
        if len(data) < len(FRAME_MAGIC) + _LENGTH.size:
            raise InvalidInputError("frame header truncated")
        (length,) = _LENGTH.unpack_from(data, len(FRAME_MAGIC))
        start = len(FRAME_MAGIC) + _LENGTH.size
        if length > MAX_HEADER_BYTES or start + length > len(data):
            raise InvalidInputError(
                f"frame header length {length} exceeds the message or {MAX_HEADER_BYTES} bytes"
            )
        try:
            header = FrameHeader.model_validate_json(data[start : start + length])
        except ValidationError as error:
            raise InvalidInputError(f"invalid frame header: {_first_error(error)}") from None
        image = data[start + length :]
    if not image:
        raise InvalidInputError("empty image data")
    if image_kind(image) is None:
        raise UnsupportedMediaTypeError("binary messages must be JPEG or PNG images")
    return header, image


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


ServerMessage = Annotated[
    FrameMessage | ErrorMessage | ReadyMessage | EndMessage, Field(discriminator="type")
]
_server_message = TypeAdapter(ServerMessage)


def encode_message(message: BaseModel, output: OutputFormat) -> str | bytes:
    """A server message as JSON text or msgpack bytes."""
    if output == "msgpack":
        return msgpack.packb(message.model_dump(mode="json"), use_bin_type=True)
    return message.model_dump_json()


def decode_message(data: str | bytes) -> FrameMessage | ErrorMessage | ReadyMessage | EndMessage:
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
