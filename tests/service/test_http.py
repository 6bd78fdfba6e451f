"""HTTP endpoints on a real uvicorn server with fake engines: health, skeletons, metrics,
POST /v1/poses with every kind of bad input, and auth."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from posecast.engines.geometry.skeletons import SKELETONS
from posecast.service.settings import load_settings
from posecast.wire.protocol import encode_frame

RunningServer = Any  # tests/service/conftest.py
K = [[500.0, 0.0, 32.0], [0.0, 500.0, 24.0], [0.0, 0.0, 1.0]]


def post_image(server: RunningServer, data: bytes, content_type: str = "image/png", **params):
    return httpx.post(
        server.http_url + "/v1/poses",
        content=data,
        headers={"Content-Type": content_type},
        params=params,
        timeout=10,
    )


def assert_ready(server: RunningServer) -> None:
    assert httpx.get(server.http_url + "/v2/health/ready").status_code == 200


def test_health(server: RunningServer) -> None:
    assert httpx.get(server.http_url + "/v2/health/live").json() == {"status": "live"}
    assert httpx.get(server.http_url + "/v2/health/ready").json() == {"status": "ready"}


def test_skeletons_lists_names_and_edges(server: RunningServer) -> None:
    skeletons = httpx.get(server.http_url + "/v1/skeletons").json()["skeletons"]
    assert set(skeletons) == set(SKELETONS)
    smpl = skeletons["smpl_24"]
    assert smpl["num_joints"] == len(smpl["joints"]) == 24
    assert all(0 <= a < 24 and 0 <= b < 24 for a, b in smpl["edges"])


def test_openapi_docs_are_served(server: RunningServer) -> None:
    assert httpx.get(server.http_url + "/docs").status_code == 200
    paths = httpx.get(server.http_url + "/openapi.json").json()["paths"]
    assert {"/v1/poses", "/v1/skeletons", "/metrics", "/v2/health/ready"} <= set(paths)


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream"])
def test_poses_raw_body(server: RunningServer, images: SimpleNamespace, content_type: str) -> None:
    response = post_image(server, images.png(), content_type, skeleton="coco_17", fov_deg=70)
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["type"] == "frame" and message["skeleton"] == "coco_17"
    assert (message["width"], message["height"]) == (64, 48)
    person = message["persons"][0]
    assert person["track_id"] is None and len(person["joints3d"]) == 17


def test_poses_multipart_jpeg_with_intrinsics(
    server: RunningServer, images: SimpleNamespace
) -> None:
    response = httpx.post(
        server.http_url + "/v1/poses",
        files={"image": ("a.jpg", images.jpeg(), "image/jpeg")},
        params={"intrinsics": json.dumps({"K": K})},
    )
    assert response.status_code == 200, response.text
    # The fake person stands 3 m away; with K its 2D joints are K's projection.
    person = response.json()["persons"][0]
    x, y, z = person["joints3d"][0]
    assert person["joints2d"][0] == pytest.approx([500 * x / z + 32, 500 * y / z + 24], abs=0.01)
    assert person["joints_world"] is None


def test_poses_with_extrinsics_carry_world_joints(
    server: RunningServer, images: SimpleNamespace
) -> None:
    camera = {"K": K, "R": [[1, 0, 0], [0, 0, 1], [0, -1, 0]], "t": [1.0, 2.0, 3.0]}
    response = post_image(server, images.png(), intrinsics=json.dumps(camera))
    assert response.status_code == 200, response.text
    for person in response.json()["persons"]:
        for (x, y, z), world in zip(person["joints3d"], person["joints_world"], strict=True):
            # world = R @ camera + t, with R taking the camera's z (forward) to the world's y
            assert world == pytest.approx([x + 1.0, z + 2.0, -y + 3.0], abs=2e-4)


# (body, content type, params, status, error code)
BAD_REQUESTS = [
    # corrupt JPEG
    (lambda img: b"\xff\xd8\xff\xe0" + b"x" * 100, "image/jpeg", {}, 422, "invalid_input"),
    # truncated PNG
    (lambda img: img.png()[:50], "image/png", {}, 422, "invalid_input"),
    # empty body
    (lambda img: b"", "image/png", {}, 422, "invalid_input"),
    # not an image at all
    (lambda img: b"GIF89a....", "image/png", {}, 415, "unsupported_media_type"),
    # wrong content types
    (lambda img: img.png(), "text/plain", {}, 415, "unsupported_media_type"),
    (lambda img: img.png(), "application/json", {}, 415, "unsupported_media_type"),
    # over max_frame_bytes (2 MB on this server)
    (lambda img: b"\xff\xd8\xff" + bytes(3_000_000), "image/jpeg", {}, 413, "too_large"),
    # intrinsics: not JSON, wrong shape, negative focal length, NaN, unknown key
    (lambda img: img.png(), "image/png", {"intrinsics": "{K:"}, 422, "invalid_input"),
    (lambda img: img.png(), "image/png", {"intrinsics": '{"K": [1, 2]}'}, 422, "invalid_input"),
    (
        lambda img: img.png(),
        "image/png",
        {"intrinsics": '{"K": [[-5,0,1],[0,5,1],[0,0,1]]}'},
        422,
        "invalid_input",
    ),
    (
        lambda img: img.png(),
        "image/png",
        {"intrinsics": '{"K": [[NaN,0,1],[0,5,1],[0,0,1]]}'},
        422,
        "invalid_input",
    ),
    (
        lambda img: img.png(),
        "image/png",
        {"intrinsics": json.dumps({"K": K, "lens": 1})},
        422,
        "invalid_input",
    ),
    (lambda img: img.png(), "image/png", {"intrinsics": "[1, 2]"}, 422, "invalid_input"),
    # fov: out of range, NaN, both fov and intrinsics
    (lambda img: img.png(), "image/png", {"fov_deg": 180}, 422, "invalid_request"),
    (lambda img: img.png(), "image/png", {"fov_deg": "nan"}, 422, "invalid_request"),
    (
        lambda img: img.png(),
        "image/png",
        {"fov_deg": 50, "intrinsics": json.dumps({"K": K})},
        422,
        "invalid_input",
    ),
    # unknown skeleton
    (lambda img: img.png(), "image/png", {"skeleton": "nope"}, 422, "invalid_input"),
    # the fake model fails on this image
    (lambda img: img.png(color=img.fail_color), "image/png", {}, 500, "internal_error"),
]


@pytest.fixture(scope="module")
def small_server(serve: Any) -> Any:
    with serve(max_frame_bytes=2_000_000, max_frame_pixels=500 * 500) as server:
        yield server


@pytest.mark.parametrize(("body", "content_type", "params", "status", "code"), BAD_REQUESTS)
def test_bad_requests_get_clear_errors(
    small_server: RunningServer,
    images: SimpleNamespace,
    body: Any,
    content_type: str,
    params: dict,
    status: int,
    code: str,
) -> None:
    response = post_image(small_server, body(images), content_type, **params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert_ready(small_server)


def test_too_many_pixels_and_bad_multipart(
    small_server: RunningServer, images: SimpleNamespace
) -> None:
    response = post_image(small_server, images.png(600, 600))
    assert response.status_code == 413 and "too large" in response.json()["error"]["message"]
    response = httpx.post(
        small_server.http_url + "/v1/poses", files={"photo": ("a.png", images.png(), "image/png")}
    )
    assert response.status_code == 422 and "'image'" in response.json()["error"]["message"]
    response = httpx.post(
        small_server.http_url + "/v1/poses",
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 422
    assert_ready(small_server)


def test_metrics_count_frames(serve: Any, images: SimpleNamespace) -> None:
    with serve() as server:
        post_image(server, images.png())
        post_image(server, b"junk")
        text = httpx.get(server.http_url + "/metrics").text
    assert 'posecast_frames_processed_total{source="http"} 1.0' in text
    assert 'posecast_errors_total{code="unsupported_media_type"} 1.0' in text
    assert 'posecast_frame_latency_seconds_count{source="http"} 1.0' in text
    for name in (
        "posecast_frames_received_total",
        "posecast_frames_dropped_total",
        "posecast_batch_size",
        "posecast_batch_queue_wait_seconds",
        "posecast_inference_seconds",
        "posecast_active_streams",
        "posecast_active_tracks",
    ):
        assert name in text


def test_batch_observer_feeds_metrics(server: RunningServer) -> None:
    metrics = server.state.metrics
    metrics.on_batch("pose_landmark_full", 4, [0.001, 0.002, 0.003, 0.004], 0.02)
    metrics.on_reject("pose_landmark_full", "queue_full")
    text = httpx.get(server.http_url + "/metrics").text
    assert 'posecast_batch_size_count{model="pose_landmark_full"} 1.0' in text
    assert 'posecast_batch_queue_wait_seconds_count{model="pose_landmark_full"} 4.0' in text
    assert 'posecast_batch_rejected_total{model="pose_landmark_full",reason="queue_full"} 1.0' in (
        text
    )


# -- auth ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(serve: Any) -> Any:
    with serve(api_keys="key-one,key-two") as server:
        yield server


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no key
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic key-one"}, 401),  # wrong scheme
        ({"Authorization": "Bearer key-one"}, 200),
        ({"Authorization": "bearer key-two"}, 200),
    ],
)
def test_http_auth(auth_server: RunningServer, headers: dict, status: int) -> None:
    for path in ("/v1/skeletons", "/metrics"):
        response = httpx.get(auth_server.http_url + path, headers=headers)
        assert response.status_code == status
        if status == 401:
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"


def test_auth_covers_poses_but_not_health(
    auth_server: RunningServer, images: SimpleNamespace
) -> None:
    assert post_image(auth_server, images.png()).status_code == 401
    response = httpx.post(
        auth_server.http_url + "/v1/poses",
        content=images.png(),
        headers={"Content-Type": "image/png", "Authorization": "Bearer key-one"},
    )
    assert response.status_code == 200
    assert httpx.get(auth_server.http_url + "/v2/health/live").status_code == 200
    assert httpx.get(auth_server.http_url + "/v2/health/ready").status_code == 200


@pytest.mark.parametrize(
    ("query", "headers", "is_accepted"),
    [
        ("", {}, False),
        ("?token=wrong", {}, False),
        ("?token=key-two", {}, True),
        ("", {"Authorization": "Bearer key-one"}, True),
    ],
)
def test_stream_auth(
    auth_server: RunningServer,
    images: SimpleNamespace,
    query: str,
    headers: dict,
    is_accepted: bool,
) -> None:
    with connect(auth_server.ws_url + query, additional_headers=headers, open_timeout=5) as ws:
        if is_accepted:
            ws.send(encode_frame(images.png(), frame_id=0, timestamp_s=0.0))
            assert json.loads(ws.recv(10))["type"] == "frame"
        else:
            error = json.loads(ws.recv(10))
            assert error["code"] == "unauthorized" and error["is_fatal"]
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1008


def test_keys_never_appear_in_settings_repr() -> None:
    settings = load_settings(api_keys="secret-key-123")
    assert "secret-key-123" not in repr(settings) and "secret-key-123" not in str(settings)
    assert settings.is_auth_enabled
