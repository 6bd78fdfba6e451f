"""Python clients of a posecast server: HTTP (httpx) and the WebSocket stream (websockets).

Sync::

    with PosecastClient("http://127.0.0.1:8000", token="KEY") as client:
        message = client.poses(Path("people.jpg"), skeleton="smpl_24")
        with client.stream(skeleton="smpl_24", fov_deg=60) as stream:
            stream.send(jpeg_bytes, frame_id=0, timestamp_s=0.0)
            reply = stream.recv(timeout_s=10)  # FrameMessage or ErrorMessage
            end = stream.end()                 # flushes the queued frames; the last messages

Async: ``AsyncPosecastClient`` has the same methods as coroutines, and ``await
client.stream(...)`` returns an ``AsyncStream`` (``async with`` works too).

Both clients share one core: the requests and how their responses read (``_Call``), and the
stream's message handling (``_StreamCore``); only the I/O differs. Every wait has a timeout.
The protocol is described in docs/service.md; its messages live in ``posecast.wire``, so this
module needs neither the server's stack nor OpenCV.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect

from posecast.errors import PosecastError
from posecast.wire.messages import (
    EndMessage,
    ErrorMessage,
    FrameMessage,
    ReadyMessage,
    ServerMessage,
    decode_message,
)
from posecast.wire.protocol import (
    FRAME_HEADER_ALLOWANCE_BYTES,
    ConfigMessage,
    encode_frame,
    image_kind,
)

STREAM_PATH = "/v1/stream"
DEFAULT_URL = "http://127.0.0.1:8000"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0
END_TIMEOUT_S = 60.0
T = TypeVar("T")


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


def stream_url(url: str) -> str:
    """The WebSocket URL of a server URL: http(s) -> ws(s), default path /v1/stream."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else STREAM_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


# -- the shared core -----------------------------------------------------------------------


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200]
    raise ServerError(response.status_code, code, message)


def _is_ok(response: httpx.Response) -> bool:
    return response.status_code == 200


def _skeletons(response: httpx.Response) -> dict[str, Any]:
    _raise_for_status(response)
    return response.json()["skeletons"]


def _frame_message(response: httpx.Response) -> FrameMessage:
    _raise_for_status(response)
    return FrameMessage.model_validate_json(response.content)


def _text(response: httpx.Response) -> str:
    _raise_for_status(response)
    return response.text


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One HTTP request and how its response reads; both clients send the same calls."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    options: dict[str, Any] = field(default_factory=dict)


LIVE = _Call("GET", "/v2/health/live", _is_ok)
READY = _Call("GET", "/v2/health/ready", _is_ok)
SKELETONS = _Call("GET", "/v1/skeletons", _skeletons)
METRICS = _Call("GET", "/metrics", _text)


def _poses_call(
    image: bytes | str | Path,
    fov_deg: float | None,
    intrinsics: dict[str, Any] | None,
    skeleton: str | None,
) -> _Call[FrameMessage]:
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
    options = {"content": data, "headers": {"Content-Type": content_type}, "params": params}
    return _Call("POST", "/v1/poses", _frame_message, options)


def _http_options(url: str, token: str | None, timeout_s: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return {"base_url": url.rstrip("/"), "headers": headers, "timeout": timeout_s}


def _connect_options(token: str | None, open_timeout_s: float) -> dict[str, Any]:
    return {
        "additional_headers": {"Authorization": f"Bearer {token}"} if token else {},
        "max_size": MAX_MESSAGE_BYTES + FRAME_HEADER_ALLOWANCE_BYTES,
        "compression": None,
        "open_timeout": open_timeout_s,
    }


def _config_text(config: ConfigMessage | None, fields: dict[str, Any]) -> str | None:
    """The config message to open a stream with (a ``ConfigMessage`` or its fields), if any."""
    if config is not None and fields:
        raise ValueError("give a ConfigMessage or config fields, not both")
    if config is None and fields:
        config = ConfigMessage(type="config", **fields)
    return None if config is None else config.model_dump_json(exclude_none=True)


END_TEXT = json.dumps({"type": "end"})


class _StreamCore:
    """What both stream classes do around their I/O: framing, decoding, errors."""

    def __init__(self) -> None:
        self.last_error: ErrorMessage | None = None

    def _decoded(self, data: str | bytes) -> ServerMessage:
        message = decode_message(data)
        if isinstance(message, ErrorMessage):
            self.last_error = message
        return message

    def _closed_error(self, error: ConnectionClosed) -> StreamClosedError:
        close = error.rcvd or error.sent
        return StreamClosedError(
            close.code if close else None, close.reason if close else "", self.last_error
        )

    def _check_ready(self, reply: ServerMessage) -> None:
        if not isinstance(reply, ReadyMessage):
            raise StreamClosedError(None, "config refused", self.last_error)


def _is_normal_end(error: StreamClosedError) -> bool:
    return error.code in (1000, None) and error.error is None


# -- sync ----------------------------------------------------------------------------------

# websockets >= 15 warns unless a directly used sync connection says so.
_LEGACY = {"legacy": True} if "legacy" in inspect.signature(sync_connect).parameters else {}


class SyncStream(_StreamCore):
    """One open ``/v1/stream`` connection (blocking)."""

    def __init__(self, connection: SyncConnection) -> None:
        super().__init__()
        self._connection = connection

    def send(
        self, image: bytes, frame_id: int | None = None, timestamp_s: float | None = None
    ) -> None:
        """Send one encoded image (JPEG or PNG) with an optional id and capture time."""
        self._send(encode_frame(image, frame_id, timestamp_s))

    def _send(self, data: str | bytes) -> None:
        try:
            self._connection.send(data)
        except ConnectionClosed as error:
            raise self._closed_error(error) from None

    def recv(self, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> ServerMessage:
        """The next server message.

        Raises:
            StreamClosedError: the server closed the stream (also after ``end``).
            TimeoutError: nothing within ``timeout_s`` (None: wait forever).
        """
        try:
            return self._decoded(self._connection.recv(timeout_s))
        except ConnectionClosed as error:
            raise self._closed_error(error) from None

    def __iter__(self) -> Iterator[ServerMessage]:
        """Messages until the stream closes normally (each waits at most the default
        timeout)."""
        while True:
            try:
                yield self.recv()
            except StreamClosedError as error:
                if _is_normal_end(error):
                    return
                raise

    def end(self, timeout_s: float = END_TIMEOUT_S) -> list[ServerMessage]:
        """Ask the server to finish; every message up to and including its EndMessage.

        Raises:
            TimeoutError: the EndMessage did not come within ``timeout_s``.
        """
        self._send(END_TEXT)
        deadline_s = _deadline(timeout_s)
        messages: list[ServerMessage] = []
        while not isinstance(messages[-1] if messages else None, EndMessage):
            messages.append(self.recv(_remaining(deadline_s)))
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
        self, url: str = DEFAULT_URL, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.Client(**_http_options(url, token, timeout_s))

    def _call(self, call: _Call[T]) -> T:
        return call.read(self._http.request(call.method, call.path, **call.options))

    def live(self) -> bool:
        """Whether the server process answers."""
        return self._call(LIVE)

    def ready(self) -> bool:
        """Whether the server's models are loaded and it takes work."""
        return self._call(READY)

    def skeletons(self) -> dict[str, Any]:
        """Joint names and edges per skeleton format, by name."""
        return self._call(SKELETONS)

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
        return self._call(_poses_call(image, fov_deg, intrinsics, skeleton))

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        return self._call(METRICS)

    def stream(
        self, config: ConfigMessage | None = None, open_timeout_s: float = 10.0, **fields: Any
    ) -> SyncStream:
        """Open a stream; with a config (a ``ConfigMessage`` or its fields), wait at most
        ``open_timeout_s`` until the server accepted it.

        Raises:
            StreamClosedError: the server refused the stream or the config.
            TimeoutError: no answer within ``open_timeout_s``.
        """
        text = _config_text(config, fields)
        connection = sync_connect(
            stream_url(self.url), **_LEGACY, **_connect_options(self.token, open_timeout_s)
        )
        stream = SyncStream(connection)
        if text is not None:
            try:
                stream._send(text)
                stream._check_ready(stream.recv(open_timeout_s))
            except BaseException:
                stream.close()
                raise
        return stream

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- async ---------------------------------------------------------------------------------


class AsyncStream(_StreamCore):
    """One open ``/v1/stream`` connection (asyncio)."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__()
        self._connection = connection

    async def send(
        self, image: bytes, frame_id: int | None = None, timestamp_s: float | None = None
    ) -> None:
        """Send one encoded image (JPEG or PNG) with an optional id and capture time."""
        await self._send(encode_frame(image, frame_id, timestamp_s))

    async def _send(self, data: str | bytes) -> None:
        try:
            await self._connection.send(data)
        except ConnectionClosed as error:
            raise self._closed_error(error) from None

    async def recv(self, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> ServerMessage:
        """The next server message (see ``SyncStream.recv``)."""
        try:
            async with asyncio.timeout(timeout_s):
                return self._decoded(await self._connection.recv())
        except ConnectionClosed as error:
            raise self._closed_error(error) from None

    async def __aiter__(self) -> AsyncIterator[ServerMessage]:
        while True:
            try:
                yield await self.recv()
            except StreamClosedError as error:
                if _is_normal_end(error):
                    return
                raise

    async def request_end(self) -> None:
        """Ask the server to finish the queued frames, send an EndMessage and close."""
        await self._send(END_TEXT)

    async def end(self, timeout_s: float = END_TIMEOUT_S) -> list[ServerMessage]:
        """``request_end``, then every message up to and including the EndMessage."""
        await self.request_end()
        deadline_s = _deadline(timeout_s)
        messages: list[ServerMessage] = []
        while not isinstance(messages[-1] if messages else None, EndMessage):
            messages.append(await self.recv(_remaining(deadline_s)))
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
    """The asyncio form of ``PosecastClient``: the same methods, as coroutines."""

    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(**_http_options(url, token, timeout_s))

    async def _call(self, call: _Call[T]) -> T:
        return call.read(await self._http.request(call.method, call.path, **call.options))

    async def live(self) -> bool:
        return await self._call(LIVE)

    async def ready(self) -> bool:
        return await self._call(READY)

    async def skeletons(self) -> dict[str, Any]:
        return await self._call(SKELETONS)

    async def poses(
        self,
        image: bytes | str | Path,
        *,
        fov_deg: float | None = None,
        intrinsics: dict[str, Any] | None = None,
        skeleton: str | None = None,
    ) -> FrameMessage:
        return await self._call(_poses_call(image, fov_deg, intrinsics, skeleton))

    async def metrics(self) -> str:
        return await self._call(METRICS)

    async def stream(
        self, config: ConfigMessage | None = None, open_timeout_s: float = 10.0, **fields: Any
    ) -> AsyncStream:
        """See ``PosecastClient.stream``."""
        text = _config_text(config, fields)
        connection = await async_connect(
            stream_url(self.url), **_connect_options(self.token, open_timeout_s)
        )
        stream = AsyncStream(connection)
        if text is not None:
            try:
                await stream._send(text)
                stream._check_ready(await stream.recv(open_timeout_s))
            except BaseException:
                await stream.close()
                raise
        return stream

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _deadline(timeout_s: float) -> float:
    return time.monotonic() + timeout_s


def _remaining(deadline_s: float) -> float:
    return max(deadline_s - time.monotonic(), 0.0)
