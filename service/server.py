"""Running the app on uvicorn with explicit WebSocket limits and a draining shutdown."""

from __future__ import annotations

import logging
import re
import socket

import uvicorn
from fastapi import FastAPI

from posecast.service.settings import ServiceSettings
from posecast.service.state import ServiceState

logger = logging.getLogger(__name__)


def uvicorn_config(
    app: FastAPI, settings: ServiceSettings, log_level: str = "info", **overrides: object
) -> uvicorn.Config:
    """uvicorn settings: WebSocket limits from ``settings``, never uvicorn's large defaults.

    ``ws_max_size`` bounds one message (one frame plus header); uvicorn's sans-I/O WebSocket
    protocol stops reading after each message until the app takes it, so at most one
    unread message is buffered per connection; no per-message deflate (JPEG does not
    compress); keepalive pings detect dead peers.
    """
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "ws": "websockets-sansio",
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_max_queue": 1,
        "ws_per_message_deflate": False,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        "timeout_graceful_shutdown": int(settings.drain_timeout_s) + 1,
        "log_level": log_level,
        "lifespan": "on",
        **overrides,
    }
    config = uvicorn.Config(app, **options)  # type: ignore[arg-type]
    redact_tokens_in_logs()
    return config


_TOKEN_QUERY = re.compile(r"(token=)[^&\s\"']*")


def redact_token(value: object) -> object:
    """``value`` with ``token=...`` query values masked, if it is a string holding one."""
    if isinstance(value, str) and "token=" in value:
        return _TOKEN_QUERY.sub(r"\1***", value)
    return value


class TokenRedactingFilter(logging.Filter):
    """Masks ``token=...`` query values in log records: uvicorn logs request paths with their
    query string, and API keys must never reach a log.

    The message template and each argument are redacted in place, keeping ``record.args``'
    shape: uvicorn's access formatter reads its five arguments by position.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_token(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_token(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact_token(arg) for key, arg in record.args.items()}
        return True


def redact_tokens_in_logs() -> None:
    """Install ``TokenRedactingFilter`` on uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.error", "uvicorn.access"):
        target = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in target.filters):
            target.addFilter(TokenRedactingFilter())


class PosecastServer(uvicorn.Server):
    """uvicorn server whose shutdown first drains the streams.

    At shutdown start (SIGTERM, SIGINT, ``should_exit``) readiness turns false and streams
    stop taking frames, finish their in-flight ones, send their messages and close with 1001,
    for at most ``drain_timeout_s``; then uvicorn's own graceful shutdown runs (no new
    connections, in-flight HTTP requests finish).
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.loaded_app if self.config.loaded else self.config.app
        state: ServiceState | None = getattr(getattr(_unwrap(app), "state", None), "service", None)
        if state is not None:
            state.begin_drain()
            is_drained = await state.streams.wait_empty(state.settings.drain_timeout_s)
            if not is_drained:
                logger.warning("%d stream(s) still open after draining", len(state.streams))
        await super().shutdown(sockets)


def _unwrap(app: object) -> object:
    """The FastAPI app inside uvicorn's middleware wrappers."""
    while not isinstance(app, FastAPI) and hasattr(app, "app"):
        app = app.app  # type: ignore[attr-defined]
    return app
