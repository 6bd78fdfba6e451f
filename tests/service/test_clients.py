"""The Python clients (sync and async) and the ``serve`` / ``stream`` subcommands against real
servers on loopback."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from posecast.clients.client import (
    AsyncPosecastClient,
    PosecastClient,
    ServerError,
    StreamClosedError,
    stream_url,
)
from posecast.clients.commands import serve as serve_command
from posecast.clients.commands import stream as stream_command
from posecast.clients.jsonl import read_frame_messages
from posecast.wire.messages import EndMessage, ErrorMessage, FrameMessage

RunningServer = Any  # tests/service/conftest.py
REPO = Path(__file__).parents[2]
CLIP = REPO / "samples" / "vtest_excerpt.mp4"


def test_stream_url() -> None:
    assert stream_url("http://h:1") == "ws://h:1/v1/stream"
    assert stream_url("https://h:1/") == "wss://h:1/v1/stream"
    assert stream_url("ws://h:1") == "ws://h:1/v1/stream"
    assert stream_url("ws://h:1/v1/stream?token=k") == "ws://h:1/v1/stream?token=k"


def test_sync_client(server: RunningServer, images: SimpleNamespace) -> None:
    with PosecastClient(server.http_url) as client:
        assert client.live() and client.ready()
        assert "smpl_24" in client.skeletons()
        message = client.poses(images.png(), skeleton="h36m_17", fov_deg=60)
        assert message.skeleton == "h36m_17" and len(message.persons) == 1
        with pytest.raises(ServerError) as info:
            client.poses(b"not an image")
        assert info.value.status == 415 and info.value.code == "unsupported_media_type"
        assert "posecast_frames_processed_total" in client.metrics()
        with client.stream(stream="sync", skeleton="coco_17") as stream:
            for i in range(3):
                stream.send(images.png(), frame_id=i, timestamp_s=i * 0.1)
                reply = stream.recv(10)
                assert isinstance(reply, FrameMessage) and reply.client_frame_id == i
            stream.send(b"\xff\xd8\xff\xe0bad", frame_id=9, timestamp_s=1.0)
            last = stream.end()
        assert isinstance(last[0], ErrorMessage) and last[0].client_frame_id == 9
        assert isinstance(last[-1], EndMessage) and last[-1].frames_processed == 3
        with pytest.raises(StreamClosedError) as closed:
            client.stream(skeleton="nope")
        assert closed.value.error is not None and closed.value.error.code == "invalid_input"


def test_async_client(server: RunningServer, images: SimpleNamespace) -> None:
    async def run() -> list[Any]:
        async with AsyncPosecastClient(server.http_url) as client:
            assert await client.ready()
            assert (await client.poses(images.jpeg())).persons
            stream = await client.stream(stream="async", output="msgpack")
            async with stream:
                for i in range(3):
                    await stream.send(images.png(), frame_id=i, timestamp_s=i * 0.1)
                return await stream.end()

    messages = asyncio.run(run())
    frames = [m for m in messages if isinstance(m, FrameMessage)]
    dropped = sum(m.dropped_frames for m in messages if isinstance(m, FrameMessage | EndMessage))
    assert len(frames) + dropped == 3 and frames[-1].client_frame_id == 2
    assert isinstance(messages[-1], EndMessage)


def test_every_client_wait_has_a_timeout(server: RunningServer) -> None:
    """Nothing sent, nothing to receive: both streams give up after their timeout."""

    async def wait_async() -> None:
        async with (
            AsyncPosecastClient(server.http_url) as client,
            await client.stream(stream="idle") as stream,
        ):
            await stream.recv(timeout_s=0.2)

    start = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(wait_async())
    with (
        PosecastClient(server.http_url) as client,
        client.stream(stream="idle") as stream,
        pytest.raises(TimeoutError),
    ):
        stream.recv(timeout_s=0.2)
    assert time.monotonic() - start < 10


def test_clients_send_the_token(serve: Any, images: SimpleNamespace) -> None:
    with serve(api_keys="k1") as server:
        with PosecastClient(server.http_url) as anonymous:
            with pytest.raises(ServerError) as info:
                anonymous.skeletons()
            assert info.value.status == 401
            with pytest.raises(StreamClosedError):
                anonymous.stream(stream="x")
        with PosecastClient(server.http_url, token="k1") as client:
            assert client.skeletons()
            with client.stream(stream="x") as stream:
                stream.send(images.png(), frame_id=0, timestamp_s=0.0)
                assert isinstance(stream.recv(10), FrameMessage)


def _stream_args(parser_args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    stream_command.register(subparsers)
    serve_command.register(subparsers)
    return parser.parse_args(parser_args)


def test_stream_command_on_an_image_folder(
    server: RunningServer, images: SimpleNamespace, tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i:03d}.png").write_bytes(images.png())
    (folder / "notes.txt").write_text("ignored")
    out = tmp_path / "out.jsonl"
    url = server.http_url.replace("http", "ws")
    args = _stream_args(["stream", str(folder), "--url", url, "-o", str(out), "--fps", "5"])
    assert args.run(args) == 0
    messages = [message for _, message in read_frame_messages(out)]
    assert [m.client_frame_id for m in messages] == [0, 1, 2, 3, 4]
    assert [m.timestamp for m in messages] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert {m.stream for m in messages} == {"frames"}


def test_stream_command_realtime_on_the_clip(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "clip.jsonl"
    args = _stream_args(
        [
            *("stream", str(CLIP), "--url", server.ws_url, "-o", str(out), "--realtime"),
            *("--max-frames", "6", "--skeleton", "smpl_24"),
        ]
    )
    start = time.monotonic()
    assert args.run(args) == 0
    assert time.monotonic() - start >= 0.5  # 6 frames at 10 fps
    messages = [message for _, message in read_frame_messages(out)]
    assert messages and messages[-1].client_frame_id == 5
    assert all(m.skeleton == "smpl_24" and m.width == 768 for m in messages)


@pytest.mark.slow
def test_serve_command_drains_on_sigterm(
    tmp_path: Path, images: SimpleNamespace, serve_process: Any
) -> None:
    """A real ``serve`` process (real models, config file + env): ready after warm-up,
    SIGTERM: an open stream gets close 1001, the process exits, the key is never logged."""
    config = tmp_path / "posecast.toml"
    config.write_text('pose_model = "lite"\nthreads = 1\n')
    env = {"POSECAST_MAX_STREAMS": "3", "POSECAST_API_KEYS": "sekrit-key-42"}
    with serve_process(env, "--config", str(config), "--log-level", "warning") as server:
        with (
            PosecastClient(server.http_url, token="sekrit-key-42") as client,
            client.stream(stream="s") as stream,
        ):
            stream.send(images.jpeg(), frame_id=0, timestamp_s=0.0)
            assert isinstance(stream.recv(30), FrameMessage)
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(StreamClosedError) as info:
                while True:
                    stream.recv(30)
            assert info.value.code == 1001
        # uvicorn re-raises the signal once its graceful shutdown is done.
        assert server.process.wait(30) in (0, -signal.SIGTERM)
    assert "sekrit-key-42" not in server.log and "**********" in server.log  # never logged
