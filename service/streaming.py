"""One WebSocket stream: receive frames, process the newest, send per-frame messages.

Three tasks per stream, joined by two bounded buffers:

    receiver --(frame queue, stream_queue_size, oldest dropped)--> processor
    processor --(outgoing queue, send_queue_size, put waits <= send_timeout_s)--> sender

* The receiver never blocks on processing: when the frame queue is full the OLDEST queued
  frame is dropped (newest frames win), counted, and reported in the next frame message's
  ``dropped_frames``.
* The processor waits for room in the outgoing queue; a client that reads nothing for
  ``send_timeout_s`` gets its stream closed (1008, ``slow_reader``). While it waits, frames
  keep arriving and are dropped as above, so memory stays bounded by
  ``stream_queue_size * max_frame_bytes + send_queue_size`` messages.
* Recoverable problems (a corrupt frame, a bad header, a timestamp going back, a model
  failure) become ``{"type": "error"}`` messages and the stream goes on; error messages that
  find the outgoing queue full are dropped (the frame is counted as dropped anyway).
* Fatal problems get a final error message (``is_fatal``) and the close code of
  ``service.errors.ERROR_SPECS``. A client disconnect ends everything at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from fastapi import WebSocket
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from posecast.engines.images import decode_image
from posecast.errors import (
    InvalidInputError,
    PayloadTooLargeError,
    PosecastError,
    ProtocolError,
    SlowReaderError,
)
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame
from posecast.pipeline.wire import frame_message, stream_config_from_message
from posecast.service.auth import check_api_key
from posecast.service.engines import PoseEngines
from posecast.service.errors import error_spec, public_message
from posecast.service.metrics import DropReason
from posecast.service.state import ServiceState
from posecast.wire.messages import (
    EndMessage,
    ErrorMessage,
    OutputFormat,
    ReadyMessage,
    encode_message,
)
from posecast.wire.protocol import ConfigMessage, FrameHeader, decode_frame, parse_control

logger = logging.getLogger(__name__)

MAX_CLOSE_REASON_BYTES = 123
CLOSE_TIMEOUT_S = 2.0
SLOW_READER_CLOSE_TIMEOUT_S = 0.2
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
INTERNAL_ERROR = 1011


@dataclass
class _Frame:
    image: bytes
    header: FrameHeader
    timestamp_s: float
    received_s: float  # perf_counter at receipt, for the end-to-end latency


@dataclass
class _Outgoing:
    payload: str | bytes
    received_s: float | None = None  # set on frame messages


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode()[:MAX_CLOSE_REASON_BYTES]
    return encoded.decode(errors="ignore")


class StreamHandler:
    """Serves one WebSocket connection of ``/v1/stream`` until it closes."""

    def __init__(self, websocket: WebSocket, state: ServiceState) -> None:
        self.websocket = websocket
        self.state = state
        self.settings = state.settings
        self.metrics = state.metrics
        self.stream_id = ""
        self.name = ""
        self.output: OutputFormat = "json"
        self.engines: PoseEngines | None = None
        self.pipeline: StreamPipeline | None = None
        self.frames: deque[_Frame] = deque()
        self.outgoing: asyncio.Queue[_Outgoing | None] = asyncio.Queue(
            self.settings.send_queue_size
        )
        self.wakeup = asyncio.Event()
        self.dropped_unreported = 0
        self.frames_received = 0
        self.last_timestamp_s = float("-inf")
        self.opened_s = time.monotonic()
        self.live_tracks = 0
        self.is_finishing = False
        self.is_ending = False
        self.is_disconnected = False
        self.close_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        await self.websocket.accept()
        try:
            check_api_key(self.websocket, self.settings.api_keys)
            engines = self.state.require_ready()
            self.stream_id = self.state.streams.open()
        except PosecastError as error:
            logger.info("stream refused: %s", error_spec(error).code)
            await self._refuse(error)
            return
        self.name = self.stream_id
        self.engines = engines
        try:
            await self._serve()
        finally:
            self.state.streams.close(self.stream_id)
            self.metrics.active_tracks.dec(self.live_tracks)
            self._drop(len(self.frames), "closed")
            self.frames.clear()

    async def _refuse(self, error: PosecastError) -> None:
        spec = error_spec(error)
        self.metrics.errors.labels(spec.code).inc()
        message = ErrorMessage(code=spec.code, message=public_message(error), is_fatal=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.send_text(message.model_dump_json()), 1.0)
            await asyncio.wait_for(
                self.websocket.close(spec.close_code, _truncate_reason(str(error))),
                CLOSE_TIMEOUT_S,
            )

    async def _serve(self) -> None:
        receiver = asyncio.create_task(self._receive_loop(), name=f"{self.stream_id}-receive")
        processor = asyncio.create_task(self._process_loop(), name=f"{self.stream_id}-process")
        sender = asyncio.create_task(self._send_loop(), name=f"{self.stream_id}-send")
        draining = asyncio.create_task(self.state.draining.wait())
        tasks = (receiver, processor, sender, draining)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if self.is_disconnected:
                return
            # Stop reading (draining, or the processor or sender failed); finish what is queued.
            receiver.cancel()
            self.is_finishing = True
            self.wakeup.set()
            timeout_s = self.settings.drain_timeout_s + self.settings.send_timeout_s
            await asyncio.wait({processor}, timeout=timeout_s)
            if self.is_disconnected:
                return
            await self._finish(sender)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(self, sender: asyncio.Task[None]) -> None:
        """Send the last message, flush the outgoing queue, close with the right code."""
        if self.close_error is not None:
            spec = error_spec(self.close_error)
            code, reason = spec.close_code, public_message(self.close_error)
            self.metrics.errors.labels(spec.code).inc()
            last: BaseModel | None = ErrorMessage(code=spec.code, message=reason, is_fatal=True)
        elif self.is_ending:
            code, reason = NORMAL_CLOSURE, "end of stream"
            frames = self.pipeline.frames_processed if self.pipeline else 0
            last = EndMessage(
                stream=self.name, frames_processed=frames, dropped_frames=self.dropped_unreported
            )
        else:
            code, reason = GOING_AWAY, "server shutting down"
            last = ErrorMessage(code="shutting_down", message=reason, is_fatal=True)
        close_timeout_s = CLOSE_TIMEOUT_S
        if isinstance(self.close_error, SlowReaderError):
            # The reader is stalled: flushing would only wait; try the close frame briefly.
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            close_timeout_s = SLOW_READER_CLOSE_TIMEOUT_S
        else:
            with contextlib.suppress(TimeoutError):
                if last is not None and not sender.done():
                    await asyncio.wait_for(self._put(last), CLOSE_TIMEOUT_S)
                if not sender.done():
                    await asyncio.wait_for(self.outgoing.put(None), CLOSE_TIMEOUT_S)
            await asyncio.wait({sender}, timeout=self.settings.send_timeout_s)
        if self.is_disconnected:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.websocket.close(code, _truncate_reason(reason)), close_timeout_s
            )
        # Returning closes the transport even if the close frame could not be written.

    def _fail(self, error: BaseException) -> None:
        if self.close_error is None:
            self.close_error = error

    # -- receiving ---------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    self.is_disconnected = True
                    return
                text = message.get("text")
                if text is not None:
                    if self._on_text(text):
                        return
                else:
                    self._on_frame(message.get("bytes") or b"")
        except asyncio.CancelledError:
            raise
        except PosecastError as error:  # fatal protocol problems
            self._fail(error)
        except Exception as error:
            logger.exception("stream %s: receive failed", self.stream_id)
            self._fail(error)

    def _on_text(self, text: str) -> bool:
        """Handle a control message; True when the client asked to end."""
        control = parse_control(text)
        if isinstance(control, ConfigMessage):
            if self.pipeline is not None or self.frames_received:
                raise ProtocolError("a config must come before the first frame, and only once")
            config = stream_config_from_message(control, self.settings.default_skeleton)
            self._configure(config, control)
            return False
        self.is_ending = True
        self.is_finishing = True
        self.wakeup.set()
        return True

    def _configure(self, config: StreamConfig, control: ConfigMessage | None = None) -> None:
        assert self.engines is not None
        self.pipeline = StreamPipeline(self.engines.estimator, config)
        if control is not None:
            self.name = control.stream or self.stream_id
            self.output = control.output
            self._offer(
                ReadyMessage(stream=self.name, skeleton=config.skeleton, output=self.output)
            )

    def _on_frame(self, data: bytes) -> None:
        self.frames_received += 1
        self.metrics.frames_received.labels("stream").inc()
        received_s = time.perf_counter()
        if len(data) > self.settings.ws_max_message_bytes:
            raise PayloadTooLargeError(
                f"frame of {len(data)} bytes exceeds {self.settings.max_frame_bytes} bytes"
            )
        try:
            header, image = decode_frame(data)
            if len(image) > self.settings.max_frame_bytes:
                raise PayloadTooLargeError(
                    f"image of {len(image)} bytes exceeds {self.settings.max_frame_bytes} bytes"
                )
        except InvalidInputError as error:
            if error_spec(error).code != "invalid_input":  # not JPEG/PNG, too big: fatal
                self._drop(1, "invalid_input")
                raise
            self._recoverable(error, None, "invalid_input")
            return
        if header.timestamp_s is not None:
            timestamp_s = header.timestamp_s
        else:
            timestamp_s = time.monotonic() - self.opened_s
        if timestamp_s <= self.last_timestamp_s:
            error = InvalidInputError(
                f"timestamp {timestamp_s:.6f} s is not after the previous frame's "
                f"{self.last_timestamp_s:.6f} s: capture times must increase (give "
                f"timestamp_s in every frame header, or in none)"
            )
            self._recoverable(error, header.frame_id, "invalid_input")
            return
        self.last_timestamp_s = timestamp_s
        if self.pipeline is None:
            self._configure(StreamConfig(skeleton=self.settings.default_skeleton))
        if len(self.frames) >= self.settings.stream_queue_size:
            self.frames.popleft()
            self.dropped_unreported += 1
            self._drop(1, "queue_full")
        self.frames.append(_Frame(image, header, timestamp_s, received_s))
        self.wakeup.set()

    # -- processing --------------------------------------------------------------------

    async def _process_loop(self) -> None:
        try:
            while True:
                if self.frames and self.close_error is None:
                    await self._process(self.frames.popleft())
                elif self.is_finishing or self.close_error is not None:
                    return
                else:
                    self.wakeup.clear()
                    await self.wakeup.wait()
        except asyncio.CancelledError:
            raise
        except SlowReaderError as error:
            self._fail(error)
        except Exception as error:
            logger.exception("stream %s: processing failed", self.stream_id)
            self._fail(error)

    def _decode_and_track(self, frame: _Frame) -> TrackedFrame:
        """Decode and process one frame (blocking: runs on a worker thread)."""
        assert self.pipeline is not None
        image = decode_image(frame.image, self.settings.max_frame_pixels)
        return self.pipeline.process(image, frame.timestamp_s)

    async def _process(self, frame: _Frame) -> None:
        try:
            tracked = await asyncio.to_thread(self._decode_and_track, frame)
        except Exception as error:
            reason: DropReason = "inference_error"
            if isinstance(error, InvalidInputError):
                reason = "invalid_input"
            elif error_spec(error).code in ("overloaded", "deadline_exceeded"):
                reason = "overloaded"
            else:
                logger.error("stream %s: frame failed: %r", self.stream_id, error)
            self._drop(1, reason)
            self._count_error(error)
            message = ErrorMessage(
                code=error_spec(error).code,
                message=public_message(error),
                client_frame_id=frame.header.frame_id,
            )
            await self._put(message)
            return
        message = frame_message(tracked, self.name, frame.header.frame_id, self.dropped_unreported)
        self.dropped_unreported = 0
        self._update_tracks(message.persons)
        await self._put(message, frame.received_s)

    def _update_tracks(self, persons: list) -> None:
        live = sum(
            1 for person in persons if person.track_id is not None and person.state != "terminated"
        )
        self.metrics.active_tracks.inc(live - self.live_tracks)
        self.live_tracks = live

    # -- sending -----------------------------------------------------------------------

    async def _put(self, message: BaseModel, received_s: float | None = None) -> None:
        """Queue a message, waiting at most ``send_timeout_s`` for room.

        Raises:
            SlowReaderError: the client did not read in time.
        """
        item = _Outgoing(encode_message(message, self.output), received_s)
        try:
            await asyncio.wait_for(self.outgoing.put(item), self.settings.send_timeout_s)
        except TimeoutError:
            self._drop(1, "slow_reader")
            raise SlowReaderError(
                f"client read no message for {self.settings.send_timeout_s} s"
            ) from None

    def _offer(self, message: BaseModel) -> None:
        """Queue a message if there is room now (the receiver never waits)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.outgoing.put_nowait(_Outgoing(encode_message(message, self.output)))

    def _recoverable(self, error: PosecastError, frame_id: int | None, reason: DropReason) -> None:
        self._drop(1, reason)
        self._count_error(error)
        spec = error_spec(error)
        self._offer(
            ErrorMessage(code=spec.code, message=public_message(error), client_frame_id=frame_id)
        )

    async def _send_loop(self) -> None:
        try:
            while (item := await self.outgoing.get()) is not None:
                if isinstance(item.payload, bytes):
                    await self.websocket.send_bytes(item.payload)
                else:
                    await self.websocket.send_text(item.payload)
                if item.received_s is not None:
                    self.metrics.frames_processed.labels("stream").inc()
                    self.metrics.frame_latency.labels("stream").observe(
                        time.perf_counter() - item.received_s
                    )
        except asyncio.CancelledError:
            raise
        except (WebSocketDisconnect, OSError, RuntimeError):
            self.is_disconnected = True

    # -- bookkeeping -------------------------------------------------------------------

    def _drop(self, count: int, reason: DropReason) -> None:
        self.metrics.drop(reason, count)

    def _count_error(self, error: BaseException) -> None:
        self.metrics.errors.labels(error_spec(error).code).inc()
