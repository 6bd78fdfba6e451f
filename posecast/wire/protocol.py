"""The WebSocket stream protocol of ``/v1/stream``: client messages and frame framing.

Client to server:
    * text ``{"type": "config", ...}`` (``ConfigMessage``), optional, before the first frame;
    * binary frames: an encoded image (JPEG or PNG), optionally preceded by a frame header
      (``encode_frame``): ``b"PCF1"`` + little-endian uint32 N + N bytes of a UTF-8 JSON object
      (``FrameHeader``: ``frame_id``, ``timestamp_s``) + the image bytes;
    * text ``{"type": "end"}``: finish the queued frames, send their messages, close (1000).

Server to client: the messages of ``posecast.wire.messages``, as JSON text or msgpack binary.
docs/service.md has the full description, close codes included.
"""

from __future__ import annotations

import json
import struct
from dataclasses import MISSING
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.errors import InvalidInputError, UnsupportedMediaTypeError
from posecast.settings import MIN_PERSON_HEIGHT_PX_RANGE, bounded_fields
from posecast.tracker.config import SmoothingConfig, TrackerConfig
from posecast.wire.messages import OutputFormat

FRAME_MAGIC = b"PCF1"
"""First bytes of a binary frame that carries a header."""
_LENGTH = struct.Struct("<I")
MAX_HEADER_BYTES = 4096
FRAME_HEADER_ALLOWANCE_BYTES = 64 * 1024
"""A WebSocket message may exceed the largest image by this much (frame header, config)."""
IMAGE_SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
MIN_FOV_DEG = 1.0
MAX_FOV_DEG = 179.0
"""Field-of-view bounds: beyond them the focal length is no longer a usable number."""
MAX_INT64 = 2**63 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def options_model(name: str, config_type: type, doc: str, **extra: Any) -> type[BaseModel]:
    """A pydantic model with every ``posecast.settings.setting`` field of ``config_type`` as an
    optional field with the same bounds, so the wire and the config can never drift apart."""
    fields: dict[str, Any] = {}
    for spec in bounded_fields(config_type):
        bounds = spec.metadata["bounds"]
        default = spec.default if spec.default is not MISSING else None
        annotation = bool if isinstance(default, bool) else type(default)
        fields[spec.name] = (
            annotation | None,
            Field(
                None,
                gt=bounds.gt,
                ge=bounds.ge,
                le=bounds.le,
                description=f"{spec.metadata['help']} (default {default})",
            ),
        )
    return create_model(name, __base__=_Strict, __doc__=doc, **fields, **extra)


SmoothingOptions = options_model(
    "SmoothingOptions",
    SmoothingConfig,
    "One Euro filter settings (posecast.tracker.config.SmoothingConfig); absent: defaults.",
)
TrackerOptions = options_model(
    "TrackerOptions",
    TrackerConfig,
    "Tracker thresholds (posecast.tracker.config.TrackerConfig); absent fields: defaults.",
    association=(Literal["free", "unknown", "known"] | None, None),
)


CalibrationOptions = options_model(
    "CalibrationOptions",
    CalibrationConfig,
    "Scene self-calibration (posecast.engines.geometry.scene_config.CalibrationConfig); "
    "absent fields: defaults.",
)
PlacementOptions = options_model(
    "PlacementOptions",
    PlacementConfig,
    "Ground-contact placement (posecast.engines.geometry.scene_config.PlacementConfig); "
    "absent fields: defaults.",
)


class FrameHeader(_Strict):
    """Optional per-frame header.

    Attributes:
        frame_id: the client's id of the frame, echoed as ``client_frame_id``.
        timestamp_s: capture time in seconds (any epoch, must increase within a stream);
            absent: the server's receive time since the stream opened.
    """

    frame_id: int | None = Field(None, ge=0, le=MAX_INT64)
    timestamp_s: float | None = Field(None, ge=-1e12, le=1e12)


_Coordinate = Annotated[float, Field(ge=-1e6, le=1e6)]
_Point2d = Annotated[list[_Coordinate], Field(min_length=2, max_length=2)]


class ReferencePose(_Strict):
    """A first-frame reference 2D pose in the native joint set (blazepose_33)."""

    id: int = Field(ge=0, le=MAX_INT64)
    joints2d: list[_Point2d] = Field(max_length=1000)
    confidence: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(max_length=1000)


class ConfigMessage(_Strict):
    """The optional first text message of a stream.

    Attributes:
        stream: a name for the stream, echoed in every message's ``stream``.
        fov_deg: field of view of the longer image side when the intrinsics are unknown.
        intrinsics: camera or scene as in docs/scene.md (``K``, optional ``distortion``,
            ``world_from_camera`` or ``R`` + ``t``, ``image_size``, ``ground``,
            ``calibration``: a ``posecast calibrate`` file); excludes ``fov_deg``.
        skeleton: output joint set.
        output: encoding of the server's messages.
        tracker, smoothing: tracker settings (bounded; absent fields: defaults).
        references: first-frame reference 2D poses with ids (3DPW's unknown association);
            ``tracker.association`` defaults to "unknown" when given.
        detect_every: speed mode: detect persons every k-th frame, follow them in between.
        min_person_height_px: the smallest person to find, in frame pixels (sets the
            detector's input size; absent: the server's default).
        calibration, placement: scene self-calibration and placement settings (bounded;
            absent fields: defaults).
        include_predicted: output policy: false (default), each frame message carries the
            people seen in that frame; true, also the tracks searched for and those that
            terminated in that frame (their predicted poses, ``predicted: true``).
    """

    type: Literal["config"]
    stream: str = Field("", max_length=128)
    fov_deg: float | None = Field(None, ge=MIN_FOV_DEG, le=MAX_FOV_DEG)
    intrinsics: dict[str, Any] | None = None
    skeleton: str | None = Field(None, max_length=64)
    output: OutputFormat = "json"
    tracker: TrackerOptions | None = None  # type: ignore[valid-type]
    smoothing: SmoothingOptions | None = None  # type: ignore[valid-type]
    references: list[ReferencePose] | None = Field(None, max_length=100)
    detect_every: int = Field(1, ge=1, le=1000)
    min_person_height_px: float | None = Field(
        None, ge=MIN_PERSON_HEIGHT_PX_RANGE[0], le=MIN_PERSON_HEIGHT_PX_RANGE[1]
    )
    calibration: CalibrationOptions | None = None  # type: ignore[valid-type]
    placement: PlacementOptions | None = None  # type: ignore[valid-type]
    include_predicted: bool = False


class EndRequest(_Strict):
    """Client asks to finish: the queued frames are processed, then the server closes."""

    type: Literal["end"]


_client_control = TypeAdapter(Annotated[ConfigMessage | EndRequest, Field(discriminator="type")])


def parse_control(text: str) -> ConfigMessage | EndRequest:
    """A client's text message.

    Raises:
        UnsupportedMediaTypeError: not a JSON object with a known ``type``.
        InvalidInputError: a config with unknown or invalid fields (numbers out of their
            bounds included).
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
        raise InvalidInputError(f"invalid {data['type']} message: {first_error(error)}") from None


def first_error(error: ValidationError) -> str:
    """The first problem of a validation error, located (``tracker.confirm_hits: ...``)."""
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
            raise InvalidInputError(f"invalid frame header: {first_error(error)}") from None
        image = data[start + length :]
    if not image:
        raise InvalidInputError("empty image data")
    if image_kind(image) is None:
        raise UnsupportedMediaTypeError("binary messages must be JPEG or PNG images")
    return header, image
