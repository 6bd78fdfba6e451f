"""WebSocket /v1/stream on a real uvicorn server with fake engines: protocol, errors, close
codes, backpressure, disconnects, concurrency, draining."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import closing
from types import SimpleNamespace
from typing import Any

import httpx
import msgpack
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from posecast.wire.protocol import FRAME_MAGIC, encode_frame

RunningServer = Any  # tests/service/conftest.py

RECV_TIMEOUT_S = 10.0


def open_stream(server: RunningServer, query: str = "", **kwargs: Any) -> ClientConnection:
    return connect(server.ws_url + query, open_timeout=5, compression=None, legacy=True, **kwargs)


def recv_json(ws: ClientConnection) -> dict:
    return json.loads(ws.recv(RECV_TIMEOUT_S))


def close_of(ws: ClientConnection) -> tuple[int, str, list[dict]]:
    """Read until the server closes; its close code and reason, and the messages before."""
    messages = []
    with pytest.raises(ConnectionClosed) as info:
        while True:
            messages.append(json.loads(ws.recv(RECV_TIMEOUT_S)))
    assert info.value.rcvd is not None, "the server sent no close frame"
    return info.value.rcvd.code, info.value.rcvd.reason, messages


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def assert_ready(server: RunningServer) -> None:
    assert httpx.get(server.http_url + "/v2/health/ready").status_code == 200


def test_frames_with_headers_get_messages_with_client_ids(
    server: RunningServer, images: SimpleNamespace
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(json.dumps({"type": "config", "stream": "cam1", "skeleton": "smpl_24"}))
        assert recv_json(ws) == {
            "type": "ready",
            "stream": "cam1",
            "skeleton": "smpl_24",
            "output": "json",
        }
        replies = []
        for i in range(4):
            ws.send(encode_frame(images.png(), frame_id=100 + i, timestamp_s=0.1 * i))
            replies.append(recv_json(ws))
    assert [r["frame"] for r in replies] == [0, 1, 2, 3]
    assert [r["client_frame_id"] for r in replies] == [100, 101, 102, 103]
    assert [r["timestamp"] for r in replies] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert all(r["stream"] == "cam1" and r["skeleton"] == "smpl_24" for r in replies)
    assert len(replies[0]["persons"][0]["joints3d"]) == 24
    # Tracker: one track, confirmed after confirm_hits (3) frames.
    assert [r["persons"][0]["track_id"] for r in replies] == [1, 1, 1, 1]
    assert replies[3]["persons"][0]["state"] == "confirmed"


def test_bare_images_without_config_use_server_time(
    server: RunningServer, images: SimpleNamespace
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(images.jpeg())
        first = recv_json(ws)
        ws.send(images.png())
        second = recv_json(ws)
    assert first["type"] == "frame" and first["client_frame_id"] is None
    assert second["timestamp"] > first["timestamp"] >= 0.0
    assert first["skeleton"] == "blazepose_33"


def test_msgpack_output(server: RunningServer, images: SimpleNamespace) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(json.dumps({"type": "config", "output": "msgpack"}))
        ready = msgpack.unpackb(ws.recv(RECV_TIMEOUT_S))
        ws.send(encode_frame(images.png(), frame_id=7, timestamp_s=1.0))
        frame = msgpack.unpackb(ws.recv(RECV_TIMEOUT_S))
    assert ready["type"] == "ready" and ready["output"] == "msgpack"
    assert frame["type"] == "frame" and frame["client_frame_id"] == 7


def test_end_request_flushes_and_closes_normally(
    server: RunningServer, images: SimpleNamespace
) -> None:
    with closing(open_stream(server)) as ws:
        for i in range(2):
            ws.send(encode_frame(images.png(), frame_id=i, timestamp_s=float(i)))
        ws.send(json.dumps({"type": "end"}))
        code, reason, messages = close_of(ws)
    assert code == 1000 and reason == "end of stream"
    assert [m["type"] for m in messages] == ["frame", "frame", "end"]
    assert messages[-1]["frames_processed"] == 2


# Recoverable problems: an error message, then the stream goes on.
RECOVERABLE = [
    # a JPEG signature followed by garbage: corrupt image
    (
        lambda img: encode_frame(b"\xff\xd8\xff\xe0garbage", frame_id=1, timestamp_s=0.0),
        "invalid_input",
        1,
    ),
    # a truncated PNG
    (lambda img: encode_frame(img.png()[:40], frame_id=1, timestamp_s=0.0), "invalid_input", 1),
    # a header without image bytes
    (lambda img: encode_frame(b"", frame_id=1, timestamp_s=0.0), "invalid_input", None),
    # a header with an unknown field
    (
        lambda img: FRAME_MAGIC + (9).to_bytes(4, "little") + b'{"x": 1} ' + img.png(),
        "invalid_input",
        None,
    ),
    # a header length beyond the message
    (lambda img: FRAME_MAGIC + (99999).to_bytes(4, "little") + img.png(), "invalid_input", None),
    # a NaN capture time
    (
        lambda img: FRAME_MAGIC + (19).to_bytes(4, "little") + b'{"timestamp_s":NaN}' + img.png(),
        "invalid_input",
        None,
    ),
    # the fake model fails on this image: an inference error fails this frame only
    (
        lambda img: encode_frame(img.png(color=img.fail_color), frame_id=1, timestamp_s=0.0),
        "internal_error",
        1,
    ),
]


@pytest.mark.parametrize(("data", "code", "frame_id"), RECOVERABLE)
def test_recoverable_frame_errors(
    server: RunningServer,
    images: SimpleNamespace,
    data: Any,
    code: str,
    frame_id: int | None,
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(data(images))
        error = recv_json(ws)
        ws.send(encode_frame(images.png(), frame_id=2, timestamp_s=5.0))
        after = recv_json(ws)
    assert error["type"] == "error" and error["code"] == code and not error["is_fatal"]
    assert error["client_frame_id"] == frame_id
    assert after["type"] == "frame" and after["client_frame_id"] == 2 and after["frame"] == 0
    assert_ready(server)


def test_too_many_pixels_is_a_frame_error(serve: Any, images: SimpleNamespace) -> None:
    with serve(max_frame_pixels=100 * 100) as server, closing(open_stream(server)) as ws:
        ws.send(encode_frame(images.png(200, 200), frame_id=1, timestamp_s=0.0))
        error = recv_json(ws)
        ws.send(encode_frame(images.png(90, 90), frame_id=2, timestamp_s=1.0))
        assert recv_json(ws)["type"] == "frame"
    assert error["code"] == "too_large" and "too large" in error["message"]


def test_non_increasing_timestamp_is_an_error_not_a_crash(
    server: RunningServer, images: SimpleNamespace
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(encode_frame(images.png(), frame_id=0, timestamp_s=1.0))
        assert recv_json(ws)["type"] == "frame"
        ws.send(encode_frame(images.png(), frame_id=1, timestamp_s=1.0))
        error = recv_json(ws)
        ws.send(encode_frame(images.png(), frame_id=2, timestamp_s=1.5))
        assert recv_json(ws)["frame"] == 1
    assert error["code"] == "invalid_input" and error["client_frame_id"] == 1
    assert "must increase" in error["message"]


# Fatal problems: an error message (is_fatal) and a close code.
FATAL = [
    # text that is not a control message
    ("hello", 1003, "unsupported_media_type"),
    ('{"type": "frame"}', 1003, "unsupported_media_type"),
    # binary that is not an image
    (b"GIF89a not supported", 1003, "unsupported_media_type"),
    (encode_frame(b"%PDF-1.4", frame_id=1), 1003, "unsupported_media_type"),
    # configs that fail validation
    ('{"type": "config", "colour": "blue"}', 1008, "invalid_input"),
    ('{"type": "config", "skeleton": "nope"}', 1008, "invalid_input"),
    ('{"type": "config", "fov_deg": 200}', 1008, "invalid_input"),
    ('{"type": "config", "fov_deg": NaN}', 1008, "invalid_input"),
    (
        '{"type": "config", "fov_deg": 50, "intrinsics": {"K": [[1,0,0],[0,1,0],[0,0,1]]}}',
        1008,
        "invalid_input",
    ),
    ('{"type": "config", "intrinsics": {"K": [[-5,0,0],[0,5,0],[0,0,1]]}}', 1008, "invalid_input"),
    ('{"type": "config", "intrinsics": {"K": [[1,2],[3,4]]}}', 1008, "invalid_input"),
    ('{"type": "config", "tracker": {"confirm_hits": 0}}', 1008, "invalid_input"),
    ('{"type": "config", "tracker": {"association": "unknown"}}', 1008, "invalid_input"),
    ('{"type": "config", "output": "xml"}', 1008, "invalid_input"),
]


@pytest.mark.parametrize(("message", "close_code", "code"), FATAL)
def test_fatal_errors_close_with_code(
    server: RunningServer, message: str | bytes, close_code: int, code: str
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(message)
        got_code, _, messages = close_of(ws)
    assert got_code == close_code
    assert messages[-1]["type"] == "error" and messages[-1]["code"] == code
    assert messages[-1]["is_fatal"]
    assert_ready(server)


def test_config_after_frames_is_a_policy_violation(
    server: RunningServer, images: SimpleNamespace
) -> None:
    with closing(open_stream(server)) as ws:
        ws.send(encode_frame(images.png(), frame_id=0, timestamp_s=0.0))
        assert recv_json(ws)["type"] == "frame"
        ws.send(json.dumps({"type": "config", "skeleton": "coco_17"}))
        code, _, messages = close_of(ws)
    assert code == 1008 and messages[-1]["code"] == "protocol_error"


def test_message_too_big_closes_1009(serve: Any) -> None:
    with serve(max_frame_bytes=4096) as server, closing(open_stream(server)) as ws:
        ws.send(b"\xff\xd8\xff" + bytes(200_000))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(RECV_TIMEOUT_S)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        # Between max_frame_bytes and uvicorn's limit: the app refuses it with 1009 too.
        with closing(open_stream(server)) as second:
            second.send(b"\xff\xd8\xff" + bytes(8000))
            code, _, messages = close_of(second)
        assert code == 1009 and messages[-1]["code"] == "too_large"
        assert_ready(server)


def test_too_many_streams_closes_1008_and_disconnect_frees_the_slot(
    images: SimpleNamespace, serve: Any
) -> None:
    with serve(max_streams=2) as server:
        first, second = open_stream(server), open_stream(server)
        for ws in (first, second):
            ws.send(encode_frame(images.png(), frame_id=0, timestamp_s=0.0))
            recv_json(ws)
        with closing(open_stream(server)) as third:
            code, reason, messages = close_of(third)
        assert code == 1008 and "too many streams" in reason
        assert messages[-1]["code"] == "too_many_streams"
        first.close()
        wait_for(lambda: len(server.state.streams) == 1)
        with closing(open_stream(server)) as again:  # reconnect takes the freed slot
            again.send(encode_frame(images.png(), frame_id=0, timestamp_s=0.0))
            assert recv_json(again)["frame"] == 0  # a new session: counters start over
        second.close()
        wait_for(lambda: len(server.state.streams) == 0)
        metrics = httpx.get(server.http_url + "/metrics").text
        assert "posecast_active_streams 0.0" in metrics
        assert "posecast_active_tracks 0.0" in metrics


def test_two_concurrent_streams_keep_separate_tracks(
    server: RunningServer, images: SimpleNamespace
) -> None:
    results: dict[str, list[dict]] = {}

    def run(name: str, count: int) -> None:
        with closing(open_stream(server)) as ws:
            ws.send(json.dumps({"type": "config", "stream": name}))
            recv_json(ws)
            replies = []
            for i in range(count):
                ws.send(encode_frame(images.png(), frame_id=i, timestamp_s=0.05 * i))
                replies.append(recv_json(ws))
            results[name] = replies

    threads = [threading.Thread(target=run, args=(name, n)) for name, n in (("a", 6), ("b", 4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for name, count in (("a", 6), ("b", 4)):
        replies = results[name]
        assert [r["frame"] for r in replies] == list(range(count))
        assert {r["stream"] for r in replies} == {name}
        # Each stream has its own tracker: both first tracks get id 1.
        assert {r["persons"][0]["track_id"] for r in replies} == {1}


def test_backpressure_drops_oldest_frames_and_reports_them(
    images: SimpleNamespace, serve: Any, fake_engines: Any
) -> None:
    engines = fake_engines(delay_s=0.2)
    with serve(engines, stream_queue_size=2) as server, closing(open_stream(server)) as ws:
        sent = 12
        for i in range(sent):
            ws.send(encode_frame(images.png(), frame_id=i, timestamp_s=0.1 * i))
        ws.send(json.dumps({"type": "end"}))
        _, _, messages = close_of(ws)
        frames = [m for m in messages if m["type"] == "frame"]
        end = messages[-1]
        dropped = sum(m["dropped_frames"] for m in frames) + end["dropped_frames"]
        assert end["type"] == "end"
        assert len(frames) + dropped == sent
        assert dropped >= sent - 5  # a slow model sees only the newest frames
        assert frames[-1]["client_frame_id"] == sent - 1  # the newest frame always wins
        assert engines.calls <= len(frames) + 2
        metrics = httpx.get(server.http_url + "/metrics").text
        assert f'posecast_frames_dropped_total{{reason="queue_full"}} {float(dropped)}' in metrics


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class NonReadingClient:
    """A WebSocket client (websockets' sans-I/O protocol over a raw socket) that sends and
    never reads after the handshake, with a tiny TCP receive window."""

    def __init__(self, url: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        self.sock.settimeout(5.0)
        self.sock.connect(("127.0.0.1", port))
        self.protocol = ClientProtocol(parse_uri(url))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and not self.protocol.events_received():
            self.protocol.receive_data(self.sock.recv(65536))
        assert self.protocol.state is State.OPEN

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def send(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        self._flush()

    def close(self) -> None:
        self.sock.close()


def test_slow_reader_keeps_memory_bounded_and_is_closed(
    serve: Any, images: SimpleNamespace, fake_engines: Any
) -> None:
    """A client that keeps sending 360 kB frames and reads nothing: the server drops frames
    instead of buffering them, and closes the stream once its reader has stalled for
    send_timeout_s."""
    image = images.noise_png(400, 300)
    engines = fake_engines(num_persons=20)  # ~60 kB messages fill the socket buffers soon
    with serve(engines, send_queue_size=2, send_timeout_s=1.0) as server:
        client = NonReadingClient(server.ws_url, server.port)
        start_rss = _rss_bytes()
        deadline = time.monotonic() + 20.0
        frame_id = 0
        try:
            while time.monotonic() < deadline:  # until the server gives up on this reader
                client.send(encode_frame(image, frame_id=frame_id, timestamp_s=frame_id * 0.1))
                frame_id += 1
                time.sleep(0.005)
        except OSError:  # the server closed the connection
            pass
        finally:
            client.close()
        growth = _rss_bytes() - start_rss
        wait_for(lambda: len(server.state.streams) == 0, timeout_s=10)
        assert frame_id > 30  # > 10 MB sent
        assert growth < 30e6, f"RSS grew by {growth / 1e6:.1f} MB"
        metrics = httpx.get(server.http_url + "/metrics").text
        assert 'posecast_errors_total{code="slow_reader"} 1.0' in metrics
        assert_ready(server)


def test_drain_finishes_in_flight_frames_then_closes_1001(
    images: SimpleNamespace, serve: Any, fake_engines: Any
) -> None:
    engines = fake_engines(delay_s=0.5)
    with serve(engines) as server:
        ws = open_stream(server)
        ws.send(encode_frame(images.png(), frame_id=0, timestamp_s=0.0))
        wait_for(lambda: engines.calls == 1)
        server.server.should_exit = True  # what SIGTERM does
        wait_for(lambda: server.state.is_draining)
        ready = httpx.get(server.http_url + "/v2/health/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "shutting_down"
        code, _, messages = close_of(ws)
        assert messages[0]["type"] == "frame" and messages[0]["client_frame_id"] == 0
        assert messages[-1]["code"] == "shutting_down"
        assert code == 1001
        server.thread.join(10)
        assert not server.thread.is_alive()
