"""Untracked poses of one image: ``POST /v1/poses``.

The image is the raw body (``image/jpeg``, ``image/png``, ``application/octet-stream``) or the
``image`` part of a ``multipart/form-data`` body; camera and skeleton are query parameters.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.types import Message

from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.engines.images import decode_image
from posecast.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from posecast.pipeline.scene import place_single_image, scene_status
from posecast.pipeline.wire import single_image_message
from posecast.service.deps import AUTH, IMAGE_SLOT, EnginesDep, MetricsDep, SettingsDep
from posecast.service.errors import error_body
from posecast.wire.messages import FrameMessage
from posecast.wire.protocol import MAX_FOV_DEG, MIN_FOV_DEG, image_kind

router = APIRouter(prefix="/v1", tags=["poses"], dependencies=[AUTH, IMAGE_SLOT])

RAW_IMAGE_TYPES = ("image/jpeg", "image/png", "application/octet-stream")
MULTIPART_TYPE = "multipart/form-data"
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""A multipart body may exceed ``max_frame_bytes`` by this much (boundaries, part headers)."""

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the image: raw JPEG/PNG bytes, or multipart with an `image` part",
        "content": {
            **{content_type: _BINARY for content_type in RAW_IMAGE_TYPES},
            MULTIPART_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "format": "binary"}},
                    "required": ["image"],
                }
            },
        },
    }
}


def _error_response(description: str) -> dict[str, Any]:
    example = error_body("code", "what went wrong")
    return {"description": description, "content": {"application/json": {"example": example}}}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error_response("missing or invalid API key"),
    413: _error_response("image larger than max_frame_bytes or max_frame_pixels"),
    415: _error_response("not a JPEG or PNG image, or an unsupported content type"),
    422: _error_response("corrupt image, invalid camera or skeleton"),
    503: _error_response(
        "models loading, server shutting down, overloaded or too many image requests at once"
    ),
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_body(request: Request, limit_bytes: int) -> bytes:
    """The whole body, refused as soon as it passes ``limit_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise PayloadTooLargeError(f"body of {declared} bytes exceeds {limit_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit_bytes:
            raise PayloadTooLargeError(f"body exceeds {limit_bytes} bytes")
    return bytes(body)


async def _multipart_image(request: Request, body: bytes) -> bytes:
    """The ``image`` part of a multipart body already read into ``body``."""
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, receive).form(max_files=1, max_fields=4)
    except Exception as error:  # starlette raises its own errors for malformed multipart
        raise InvalidInputError(f"malformed multipart body: {error}") from None
    try:
        part = form.get("image")
        if not isinstance(part, UploadFile):
            raise InvalidInputError("multipart body needs a file part named 'image'")
        return await part.read()
    finally:
        await form.close()


async def read_image_bytes(request: Request, max_frame_bytes: int) -> bytes:
    """The encoded image of a request, by content type.

    Raises:
        UnsupportedMediaTypeError: another content type, or data that is not JPEG or PNG.
        PayloadTooLargeError: more than ``max_frame_bytes``.
        InvalidInputError: malformed multipart or an empty image.
    """
    media_type = _media_type(request)
    if media_type == MULTIPART_TYPE:
        body = await _read_body(request, max_frame_bytes + MULTIPART_OVERHEAD_BYTES)
        data = await _multipart_image(request, body)
        if len(data) > max_frame_bytes:
            raise PayloadTooLargeError(f"image exceeds {max_frame_bytes} bytes")
    elif media_type in RAW_IMAGE_TYPES:
        data = await _read_body(request, max_frame_bytes)
    else:
        raise UnsupportedMediaTypeError(
            f"content type {media_type or '(none)'!r} not supported; send "
            f"{', '.join(RAW_IMAGE_TYPES)} or {MULTIPART_TYPE}"
        )
    if not data:
        raise InvalidInputError("empty image data")
    if image_kind(data) is None:
        raise UnsupportedMediaTypeError("the image must be JPEG or PNG")
    return data


def _parse_intrinsics(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInputError(f"intrinsics: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("intrinsics: expected a JSON object with 'K'")
    return data


@router.post(
    "/poses",
    response_model=FrameMessage,
    openapi_extra=_REQUEST_BODY,
    responses=_RESPONSES,
    summary="3D poses of every person in one image (untracked)",
)
async def estimate_poses(
    request: Request,
    engines: EnginesDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    fov_deg: Annotated[
        float | None,
        Query(
            ge=MIN_FOV_DEG,
            le=MAX_FOV_DEG,
            description=f"field of view of the longer image side (default {DEFAULT_FOV_DEG})",
        ),
    ] = None,
    intrinsics: Annotated[
        str | None,
        Query(
            max_length=16384,
            description='JSON camera or scene (docs/scene.md): {"K": [[fx,0,cx],[0,fy,cy],'
            '[0,0,1]], "distortion": [...], "ground": {...}}',
        ),
    ] = None,
    skeleton: Annotated[str | None, Query(max_length=64, description="output joint set")] = None,
) -> FrameMessage:
    """Detect every person and return the per-frame message (``track_id`` null)."""
    start_s = time.perf_counter()
    skeleton_name = get_skeleton(skeleton or settings.default_skeleton).name
    if fov_deg is not None and intrinsics is not None:
        raise InvalidInputError("give either fov_deg or intrinsics, not both")
    camera_data = None if intrinsics is None else _parse_intrinsics(intrinsics)
    data = await read_image_bytes(request, settings.max_frame_bytes)
    metrics.frames_received.labels("http").inc()
    image = await asyncio.to_thread(decode_image, data, settings.max_frame_pixels)
    height, width = image.shape[:2]
    if camera_data is not None:
        scene = Scene.from_dict(camera_data)
        scene.check_image_size(width, height)
    else:
        scene = Scene(camera=Camera.from_fov(width, height, fov_deg or DEFAULT_FOV_DEG))
    estimate = await asyncio.to_thread(engines.estimator.estimate, image, scene.camera)
    poses, placements = place_single_image(estimate.poses, scene, (width, height))
    message = single_image_message(
        poses.to_skeleton(skeleton_name),
        width,
        height,
        estimate.timing_ms,
        placements=placements,
        scene=scene_status(scene),
    )
    metrics.frames_processed.labels("http").inc()
    metrics.frame_latency.labels("http").observe(time.perf_counter() - start_s)
    return message
