"""``posecast stream INPUT --url ws://HOST:PORT -o OUT.jsonl``: stream a video or an image
folder to a server and write what comes back, one FrameMessage per line (flushed per line).

Without ``--realtime`` frames go as fast as the server takes them: at most ``--window``
frames are in flight (sent and not yet answered), so none is dropped. With ``--realtime``
frames go at the input's native rate and the server drops what it cannot keep up with
(reported in each message's ``dropped_frames``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from posecast.clients.client import AsyncPosecastClient, AsyncStream, StreamClosedError
from posecast.clients.jsonl import FrameMessageWriter, frame_message_writer
from posecast.clients.media import EncodedFrame, FrameSource
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.skeletons import SKELETONS
from posecast.errors import InvalidInputError
from posecast.wire.messages import EndMessage, ErrorMessage, FrameMessage

logger = logging.getLogger(__name__)


@dataclass
class StreamStats:
    sent: int = 0
    messages: int = 0
    dropped: int = 0
    errors: int = 0
    elapsed_s: float = 0.0


class _Window:
    """Frames in flight: sent, not yet answered by a message, an error or a drop report."""

    def __init__(self, size: int | None) -> None:
        self._slots = asyncio.Semaphore(size) if size else None

    async def acquire(self) -> None:
        if self._slots is not None:
            await self._slots.acquire()

    def release(self, count: int) -> None:
        if self._slots is not None:
            for _ in range(count):
                self._slots.release()


async def stream_frames(
    stream: AsyncStream,
    frames: Iterator[EncodedFrame],
    writer: FrameMessageWriter,
    realtime: bool,
    window_size: int = 2,
) -> StreamStats:
    """Send every frame, write every frame message; returns the counts.

    Raises:
        StreamClosedError: the server closed the stream with an error.
    """
    stats = StreamStats()
    window = _Window(None if realtime else window_size)
    start_s = time.monotonic()

    async def send_all() -> None:
        first_timestamp_s: float | None = None
        while (frame := await asyncio.to_thread(next, frames, None)) is not None:
            if realtime:
                first_timestamp_s = (
                    first_timestamp_s if first_timestamp_s is not None else frame.timestamp_s
                )
                delay_s = start_s + (frame.timestamp_s - first_timestamp_s) - time.monotonic()
                if delay_s > 0:
                    await asyncio.sleep(delay_s)
            else:
                await window.acquire()
            await stream.send(frame.data, frame_id=frame.index, timestamp_s=frame.timestamp_s)
            stats.sent += 1
        await stream.request_end()

    async def receive_all() -> None:
        while True:
            message = await stream.recv()
            if isinstance(message, FrameMessage):
                writer.write(message)
                stats.messages += 1
                stats.dropped += message.dropped_frames
                window.release(1 + message.dropped_frames)
            elif isinstance(message, ErrorMessage):
                stats.errors += 1
                logger.warning(
                    "frame %s: %s: %s", message.client_frame_id, message.code, message.message
                )
                if message.is_fatal:
                    raise StreamClosedError(None, message.message, message)
                window.release(1)
            elif isinstance(message, EndMessage):
                stats.dropped += message.dropped_frames
                return

    sender = asyncio.create_task(send_all())
    try:
        await receive_all()
        await sender
    finally:
        sender.cancel()
    stats.elapsed_s = time.monotonic() - start_s
    return stats


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``stream`` subcommand."""
    parser = subparsers.add_parser(
        "stream",
        help="stream a video or image folder to a server, write the messages as JSONL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="video file or folder of images")
    parser.add_argument("--url", default="ws://127.0.0.1:8000", help="server (ws:// or http://)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.jsonl")
    parser.add_argument("--token", help="API key (or set POSECAST_TOKEN)")
    parser.add_argument(
        "--realtime", action="store_true", help="send at the input's native frame rate"
    )
    parser.add_argument(
        "--window", type=int, default=2, help="frames in flight without --realtime (default 2)"
    )
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 10)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--stream-name", default="", help="name echoed in every message")
    parser.add_argument("--skeleton", choices=sorted(SKELETONS), help="output joint set")
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument("--fov", type=float, metavar="DEG", help="field of view of the long side")
    camera.add_argument(
        "--camera",
        "--intrinsics",
        dest="intrinsics",
        type=Path,
        metavar="FILE",
        help="JSON camera or scene file (docs/scene.md), e.g. from posecast calibrate",
    )
    parser.add_argument(
        "--include-predicted",
        action="store_true",
        help="also write the tracks searched for (predicted poses, state searching) and those that "
        "terminated, marked predicted: true (default: only the people seen in each frame)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.window < 1:
        raise InvalidInputError("--window must be >= 1")
    token = args.token or os.environ.get("POSECAST_TOKEN")
    source = FrameSource(args.input, fps=args.fps)
    frames = itertools.islice(source.encoded_frames(), args.max_frames)
    config: dict = {"stream": args.stream_name or args.input.name}
    if args.skeleton:
        config["skeleton"] = args.skeleton
    if args.fov is not None:
        config["fov_deg"] = args.fov
    if args.intrinsics is not None:
        config["intrinsics"] = Scene.from_json(args.intrinsics).to_dict()
    if args.include_predicted:
        config["include_predicted"] = True

    async def main() -> StreamStats:
        async with AsyncPosecastClient(args.url, token=token) as client:
            stream = await client.stream(**config)
            async with stream:
                with frame_message_writer(args.output) as writer:
                    return await stream_frames(stream, frames, writer, args.realtime, args.window)

    with source:
        stats = asyncio.run(main())
    print(
        f"{stats.sent} frames sent ({source.fps:g} fps input), {stats.messages} messages, "
        f"{stats.dropped} dropped, {stats.errors} errors in {stats.elapsed_s:.1f} s "
        f"-> {args.output}",
        file=sys.stderr,
    )
    return 0 if stats.errors == 0 else 1
