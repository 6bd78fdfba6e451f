"""A real ``posecast serve`` process (real models, real uvicorn) against hostile clients:
decompression bombs, floods of them, API keys in URLs, absurd stream configs. Each is
refused before it costs anything, and the server stays ready."""

from __future__ import annotations

import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

API_KEY = "hostile-test-key-7"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
BOMB_SIDE_PX = 12000
SINGLE_BOMB_BUDGET_KIB = 20 * 1024
FLOOD_REQUESTS = 200
FLOOD_BUDGET_KIB = 60 * 1024
"""Stated bound of the peak-memory growth under 200 concurrent bombs: the server holds at
most ``max_image_requests`` (4) bodies of 0.4 MB at a time and decodes none of them."""


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of ``width`` x ``height`` black RGB pixels: a few hundred KB that decode
    to width * height * 3 bytes."""
    rows = zlib.compress(b"".join(b"\x00" + bytes(width * 3) for _ in range(height)), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb(BOMB_SIDE_PX, BOMB_SIDE_PX)


@pytest.fixture(scope="module")
def server(serve_process: Any) -> Iterator[Any]:
    env = {"POSECAST_API_KEYS": API_KEY, "POSECAST_POSE_MODEL": "lite", "POSECAST_THREADS": "1"}
    with serve_process(env, "--log-level", "info") as running:
        yield running


def post_bomb(server: Any, bomb: bytes) -> int | str:
    try:
        response = httpx.post(
            server.http_url + "/v1/poses",
            content=bomb,
            headers={**AUTH, "Content-Type": "image/png"},
            timeout=60,
        )
    except httpx.HTTPError as error:
        return type(error).__name__
    return response.status_code


@pytest.mark.slow
def test_a_png_bomb_is_refused_from_its_header(server: Any, bomb: bytes) -> None:
    before_kib = server.peak_rss_kib()
    response = httpx.post(
        server.http_url + "/v1/poses",
        content=bomb,
        headers={**AUTH, "Content-Type": "image/png"},
        timeout=60,
    )
    assert response.status_code == 413
    assert f"{BOMB_SIDE_PX} x {BOMB_SIDE_PX}" in response.json()["error"]["message"]
    assert server.peak_rss_kib() - before_kib < SINGLE_BOMB_BUDGET_KIB


@pytest.mark.slow
def test_a_flood_of_bombs_is_answered_within_a_memory_bound(server: Any, bomb: bytes) -> None:
    before_kib = server.peak_rss_kib()
    with ThreadPoolExecutor(FLOOD_REQUESTS) as pool:
        outcomes = Counter(pool.map(lambda _: post_bomb(server, bomb), range(FLOOD_REQUESTS)))
    # every request is refused: too large (413) or, beyond the concurrent-request limit, 503
    assert set(outcomes) <= {413, 503}, outcomes
    assert outcomes[413] >= 1
    assert server.peak_rss_kib() - before_kib < FLOOD_BUDGET_KIB
    refused = httpx.post(
        server.http_url + "/v1/poses", content=bomb, headers={**AUTH, "Content-Type": "image/png"}
    )
    assert refused.status_code == 413  # the slots were all given back
    assert httpx.get(server.http_url + "/v2/health/ready").status_code == 200


@pytest.mark.slow
def test_query_tokens_are_for_websocket_handshakes_only(server: Any) -> None:
    response = httpx.get(server.http_url + f"/v1/skeletons?token={API_KEY}")
    assert response.status_code == 401
    assert httpx.get(server.http_url + "/v1/skeletons", headers=AUTH).status_code == 200
    with connect(f"{server.ws_url}?token={API_KEY}", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "config", "stream": "token-in-url"}))
        assert json.loads(ws.recv(10))["type"] == "ready"


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"tracker": {"confirm_hits": 10**12}}, "tracker.confirm_hits"),
        ({"tracker": {"searching_timeout_s": 1e300}}, "tracker.searching_timeout_s"),
        ({"tracker": {"max_tracks": 10**9}}, "tracker.max_tracks"),
        ({"smoothing": {"beta_per_m": 1e308}}, "smoothing.beta_per_m"),
        ({"detect_every": 10**30}, "detect_every"),
        (
            {"references": [{"id": 10**30, "joints2d": [[1, 2]], "confidence": [1]}]},
            "references.0.id",
        ),
        (
            {"references": [{"id": 1, "joints2d": [[1e300, 2]], "confidence": [1]}]},
            "references.0.joints2d",
        ),
        ({"fov_deg": 1e-300}, "fov_deg"),
        ({"intrinsics": {"K": [[1e400, 0, 1], [0, 1, 1], [0, 0, 1]]}}, "intrinsics"),
    ],
)
@pytest.mark.slow
def test_absurd_stream_configs_are_invalid_input(
    server: Any, config: dict[str, Any], where: str
) -> None:
    with connect(server.ws_url, additional_headers=AUTH, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "config", **config}).replace("Infinity", "1e400"))
        error = json.loads(ws.recv(10))
        assert error["type"] == "error" and error["code"] == "invalid_input", error
        assert error["is_fatal"]
        if where != "intrinsics":
            assert where in error["message"]
        with pytest.raises(Exception) as closed:
            ws.recv(10)
        assert getattr(closed.value, "rcvd", None) is not None
        assert closed.value.rcvd.code == 1008
    assert httpx.get(server.http_url + "/v2/health/ready").status_code == 200


@pytest.mark.slow
def test_access_log_lines_are_whole_and_keys_redacted(server: Any) -> None:
    """uvicorn's real access formatter runs over the redacted records (no traceback), and
    the key in a URL never reaches the log. Runs last in this module: it stops the server."""
    httpx.get(server.http_url + f"/v1/skeletons?token={API_KEY}")
    with connect(f"{server.ws_url}?token={API_KEY}", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "end"}))
    server.process.terminate()
    server.log = server.process.communicate(timeout=30)[0]
    assert "Traceback" not in server.log and "Logging error" not in server.log
    assert API_KEY not in server.log
    assert '"GET /v1/skeletons?token=*** HTTP/1.1" 401' in server.log
