"""The ONE table that maps every error to an HTTP status and a WebSocket close code.

The classes are posecast's one hierarchy (``posecast.errors``). ``error_spec`` walks the
exception's MRO, so a subclass inherits its parent's mapping unless it has its own row.

WebSocket close codes (RFC 6455): 1000 normal, 1001 going away (server draining), 1003
unsupported data, 1008 policy violation (auth, stream limit, protocol misuse), 1009 message
too big, 1011 internal error, 1013 try again later (models not ready).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from posecast.errors import (
    AuthenticationError,
    DeadlineExceededError,
    DrainingError,
    InvalidInputError,
    ModelError,
    NotReadyError,
    PayloadTooLargeError,
    PosecastError,
    ProtocolError,
    QueueFullError,
    SlowReaderError,
    TooManyRequestsError,
    TooManyStreamsError,
    UnsupportedMediaTypeError,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorSpec:
    """How one kind of error reaches a client.

    Attributes:
        code: short stable name (the ``code`` of error bodies and error messages).
        http_status: status of an HTTP response.
        close_code: WebSocket close code when the error ends a stream.
    """

    code: str
    http_status: int
    close_code: int


ERROR_SPECS: dict[type[BaseException], ErrorSpec] = {
    AuthenticationError: ErrorSpec("unauthorized", 401, 1008),
    TooManyStreamsError: ErrorSpec("too_many_streams", 503, 1008),
    TooManyRequestsError: ErrorSpec("too_many_requests", 503, 1013),
    PayloadTooLargeError: ErrorSpec("too_large", 413, 1009),
    UnsupportedMediaTypeError: ErrorSpec("unsupported_media_type", 415, 1003),
    ProtocolError: ErrorSpec("protocol_error", 400, 1008),
    SlowReaderError: ErrorSpec("slow_reader", 429, 1008),
    InvalidInputError: ErrorSpec("invalid_input", 422, 1008),
    NotReadyError: ErrorSpec("not_ready", 503, 1013),
    DrainingError: ErrorSpec("shutting_down", 503, 1001),
    QueueFullError: ErrorSpec("overloaded", 503, 1013),
    DeadlineExceededError: ErrorSpec("deadline_exceeded", 503, 1013),
    ModelError: ErrorSpec("model_error", 500, 1011),
    PosecastError: ErrorSpec("error", 500, 1011),
    Exception: ErrorSpec("internal_error", 500, 1011),
}

ERROR_CODES = tuple(sorted({spec.code for spec in ERROR_SPECS.values()} | {"invalid_request"}))
"""Every ``code`` an error can carry (a bounded metrics label)."""


def error_spec(error: BaseException) -> ErrorSpec:
    """The mapping of ``error``: the row of its nearest class in ``ERROR_SPECS``."""
    for cls in type(error).__mro__:
        if cls in ERROR_SPECS:
            return ERROR_SPECS[cls]
    return ERROR_SPECS[Exception]


def public_message(error: BaseException) -> str:
    """What a client may read: our own errors' text, nothing from unexpected exceptions."""
    if isinstance(error, PosecastError):
        return str(error)
    return "internal error"


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def _count(request: Request, code: str) -> None:
    state = getattr(request.app.state, "service", None)
    if state is not None:
        state.metrics.errors.labels(code).inc()


async def _posecast_error_handler(request: Request, error: Exception) -> JSONResponse:
    spec = error_spec(error)
    _count(request, spec.code)
    if spec.http_status >= 500:
        logger.error("%s %s failed: %r", request.method, request.url.path, error)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, AuthenticationError) else None
    if spec.http_status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(
        error_body(spec.code, public_message(error)), status_code=spec.http_status, headers=headers
    )


async def _validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = jsonable_encoder(error.errors(), custom_encoder={Exception: str})
    first = details[0] if details else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    _count(request, "invalid_request")
    return JSONResponse(error_body("invalid_request", message, details=details), status_code=422)


async def _unexpected_error_handler(request: Request, error: Exception) -> JSONResponse:
    logger.error("%s %s failed: %r", request.method, request.url.path, error, exc_info=error)
    _count(request, "internal_error")
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Map posecast errors, request validation errors and anything unexpected to JSON bodies
    ``{"error": {"code": ..., "message": ...}}`` with the status of ``ERROR_SPECS``."""
    app.add_exception_handler(PosecastError, _posecast_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
