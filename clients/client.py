"""Python clients of a posecast server: HTTP (httpx) and the WebSocket stream (websockets).

Sync::

    with PosecastClient("http://127.0.0.1:8000", token="KEY") as client:
        message = client.poses(Path("people.jpg"), skeleton="smpl_24")
        with client.stream(skeleton="smpl_24", fov_deg=60) as stream:
            stream.send(jpeg_bytes, frame_id=0, timestamp_s=0.0)
            reply = stream.recv()          # FrameMessage or ErrorMessage
            end = stream.end()             # flushes the queued frames; list of last messages

Async: ``AsyncPosecastClient`` has the same methods as coroutines, and ``await
client.stream(...)`` returns an ``AsyncStream`` (``async with`` works too). The stream
protocol is described in docs/service.md and implemented in ``service.protocol``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect

from posecast.errors import PosecastError
from posecast.service.messages import FrameMessage
from posecast.service.protocol import (
    ConfigMessage,
    EndMessage,
    ErrorMessage,
    ReadyMessage,
    decode_message,
    encode_frame,
    image_kind,
)
from posecast.service.settings import FRAME_HEADER_ALLOWANCE_BYTES

STREAM_PATH = "/v1/stream"
DEFAULT_URL = "http://127.0.0.1:8000"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
ServerMessage = FrameMessage | ErrorMessage | ReadyMessage | EndMessage


class ServerError(PosecastError):
    """An HTTP error response: ``status``, ``code`` and ``message`` of its JSON body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class StreamClosedError(PosecastError):
    """The server closed the stream: close ``code`` and ``reason``, and its last error."""

    def __init__(self, code: int | None, reason: str, error: ErrorMessage | None = None) -> None:
        detail = f": {error.code}: {error.message}" if error else (f": {reason}" if reason else "")
        super().__init__(f"stream closed ({code}){detail}")
        self.code = code
        self.reason = reason
        self.error = error


# websockets >= 15 warns unless a directly used sync connection says so.
_LEGACY = {"legacy": True} if "legacy" in inspect.signature(sync_connect).parameters else {}


def _auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def stream_url(url: str) -> str:
    """The WebSocket URL of a server URL: http(s) -> ws(s), default path /v1/stream."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else STREAM_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200]
    raise ServerError(response.status_code, code, message)


def _image_request(
    image: bytes | str | Path,
    fov_deg: float | None,
    intrinsics: dict[str, Any] | None,
    skeleton: str | None,
) -> dict[str, Any]:
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    content_type = {"jpeg": "image/jpeg", "png": "image/png"}.get(
        image_kind(data) or "", "application/octet-stream"
    )
    params: dict[str, Any] = {}
    if fov_deg is not None:
        params["fov_deg"] = fov_deg
    if intrinsics is not None:
        params["intrinsics"] = json.dumps(intrinsics)
    if skeleton is not None:
        params["skeleton"] = skeleton
    return {"content": data, "headers": {"Content-Type": content_type}, "params": params}


def _config_message(config: ConfigMessage | None, fields: dict[str, Any]) -> ConfigMessage | None:
    if config is not None and fields:
        raise ValueError("give a ConfigMessage or config fields, not both")
    if config is None and fields:
        config = ConfigMessage(type="config", **fields)
    return config


def _closed_error(error: ConnectionClosed, last_error: ErrorMessage | None) -> StreamClosedError:
    close = error.rcvd or error.sent
    return StreamClosedError(
        close.code if close else None, close.reason if close else "", last_error
    )


# -- sync ----------------------------------------------------------------------------------


class SyncStream:
    """One open ``/v1/stream`` connection (blocking)."""

    def __init__(self, connection: SyncConnection) -> None:
        self._connection = connection
        self.last_error: ErrorMessage | None = None

    def send(
        self, image: bytes, frame_id: int | None = None, timestamp_s: float | None = None
    ) -> None:
        """Send one encoded image (JPEG or PNG) with an optional id and capture time."""
        try:
            self._connection.send(encode_frame(image, frame_id, timestamp_s))
        except ConnectionClosed as error:
            raise _closed_error(error, self.last_error) from None

    def recv(self, timeout_s: float | None = None) -> ServerMessage:
        """The next server message.

        Raises:
            StreamClosedError: the server closed the stream (also after ``end``).
            TimeoutError: nothing within ``timeout_s``.
        """
        try:
            message = decode_message(self._connection.recv(timeout_s))
        except ConnectionClosed as error:
            raise _closed_error(error, self.last_error) from None
        if isinstance(message, ErrorMessage):
            self.last_error = message
        return message

    def __iter__(self) -> Iterator[ServerMessage]:
        """Messages until the stream closes normally."""
        while True:
            try:
                yield self.recv()
            except StreamClosedError as error:
                if error.code in (1000, None) and error.error is None:
                    return
                raise

    def end(self, timeout_s: float = 60.0) -> list[ServerMessage]:
        """Ask the server to finish; returns every message up to and including its EndMessage."""
        self._connection.send(json.dumps({"type": "end"}))
        messages: list[ServerMessage] = []
        while True:
            message = self.recv(timeout_s)
            messages.append(message)
            if isinstance(message, EndMessage):
                return messages

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PosecastClient:
    """Blocking client of one server.

    Args:
        url: the server's base URL (``http://host:port``).
        token: API key, sent as ``Authorization: Bearer``.
        timeout_s: HTTP timeout.
    """

    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.url, headers=_auth_headers(token), timeout=timeout_s
        )

    def live(self) -> bool:
        return self._http.get("/v2/health/live").status_code == 200

    def ready(self) -> bool:
        return self._http.get("/v2/health/ready").status_code == 200

    def skeletons(self) -> dict[str, Any]:
        """Joint names and edges per skeleton format, by name."""
        response = self._http.get("/v1/skeletons")
        _raise_for_status(response)
        return response.json()["skeletons"]

    def poses(
        self,
        image: bytes | str | Path,
        *,
        fov_deg: float | None = None,
        intrinsics: dict[str, Any] | None = None,
        skeleton: str | None = None,
    ) -> FrameMessage:
        """Untracked poses of one image (encoded bytes or a file path).

        Raises:
            ServerError: the server refused it (status, code and message inside).
        """
        response = self._http.post(
            "/v1/poses", **_image_request(image, fov_deg, intrinsics, skeleton)
        )
        _raise_for_status(response)
        return FrameMessage.model_validate_json(response.content)

    def metrics(self) -> str:
        response = self._http.get("/metrics")
        _raise_for_status(response)
        return response.text

    def stream(
        self, config: ConfigMessage | None = None, open_timeout_s: float = 10.0, **fields: Any
    ) -> SyncStream:
        """Open a stream; with a config (a ``ConfigMessage`` or its fields), wait until the
        server accepted it.

        Raises:
            StreamClosedError: the server refused the stream or the config.
        """
        connection = sync_connect(
            stream_url(self.url),
            **_LEGACY,
            additional_headers=_auth_headers(self.token),
            max_size=MAX_MESSAGE_BYTES + FRAME_HEADER_ALLOWANCE_BYTES,
            compression=None,
            open_timeout=open_timeout_s,
        )
        stream = SyncStream(connection)
        config = _config_message(config, fields)
        if config is not None:
            try:
                connection.send(config.model_dump_json(exclude_none=True))
            except ConnectionClosed as error:
                raise _closed_error(error, None) from None
            reply = stream.recv(open_timeout_s)
            if not isinstance(reply, ReadyMessage):
                stream.close()
                raise StreamClosedError(None, "config refused", stream.last_error)
        return stream

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- async ---------------------------------------------------------------------------------


class AsyncStream:
    """One open ``/v1/stream`` connection (asyncio)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.last_error: ErrorMessage | None = None

    async def send(
        self, image: bytes, frame_id: int | None = None, timestamp_s: float | None = None
    ) -> None:
        """Send one encoded image (JPEG or PNG) with an optional id and capture time."""
        try:
            await self._connection.send(encode_frame(image, frame_id, timestamp_s))
        except ConnectionClosed as error:
            raise _closed_error(error, self.last_error) from None

    async def recv(self) -> ServerMessage:
        """The next server message; raises StreamClosedError once the stream is closed."""
        try:
            message = decode_message(await self._connection.recv())
        except ConnectionClosed as error:
            raise _closed_error(error, self.last_error) from None
        if isinstance(message, ErrorMessage):
            self.last_error = message
        return message

    async def __aiter__(self) -> AsyncIterator[ServerMessage]:
        while True:
            try:
                yield await self.recv()
            except StreamClosedError as error:
                if error.code in (1000, None) and error.error is None:
                    return
                raise

    async def request_end(self) -> None:
        """Ask the server to finish the queued frames, send an EndMessage and close."""
        await self._connection.send(json.dumps({"type": "end"}))

    async def end(self) -> list[ServerMessage]:
        """``request_end``, then every message up to and including the EndMessage."""
        await self.request_end()
        messages: list[ServerMessage] = []
        while not isinstance(messages[-1] if messages else None, EndMessage):
            messages.append(await self.recv())
        return messages

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncPosecastClient:
    """The asyncio twin of ``PosecastClient``."""

    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, timeout_s: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=_auth_headers(token), timeout=timeout_s
        )

    async def live(self) -> bool:
        return (await self._http.get("/v2/health/live")).status_code == 200

    async def ready(self) -> bool:
        return (await self._http.get("/v2/health/ready")).status_code == 200

    async def skeletons(self) -> dict[str, Any]:
        response = await self._http.get("/v1/skeletons")
        _raise_for_status(response)
        return response.json()["skeletons"]

    async def poses(
        self,
        image: bytes | str | Path,
        *,
        fov_deg: float | None = None,
        intrinsics: dict[str, Any] | None = None,
        skeleton: str | None = None,
    ) -> FrameMessage:
        response = await self._http.post(
            "/v1/poses", **_image_request(image, fov_deg, intrinsics, skeleton)
        )
        _raise_for_status(response)
        return FrameMessage.model_validate_json(response.content)

    async def metrics(self) -> str:
        response = await self._http.get("/metrics")
        _raise_for_status(response)
        return response.text

    async def stream(
        self, config: ConfigMessage | None = None, open_timeout_s: float = 10.0, **fields: Any
    ) -> AsyncStream:
        """See ``PosecastClient.stream``."""
        connection = await async_connect(
            stream_url(self.url),
            additional_headers=_auth_headers(self.token),
            max_size=MAX_MESSAGE_BYTES + FRAME_HEADER_ALLOWANCE_BYTES,
            compression=None,
            open_timeout=open_timeout_s,
        )
        stream = AsyncStream(connection)
        config = _config_message(config, fields)
        if config is not None:
            try:
                await connection.send(config.model_dump_json(exclude_none=True))
            except ConnectionClosed as error:
                raise _closed_error(error, None) from None
            reply = await stream.recv()
            if not isinstance(reply, ReadyMessage):
                await stream.close()
                raise StreamClosedError(None, "config refused", stream.last_error)
        return stream

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
