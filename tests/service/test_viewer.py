"""End-to-end tests of the browser viewer (``/viewer/``, service/viewer/, docs/viewer.md).

Headless Chromium (Debian's ``chromium``, driven by Playwright with ``executable_path``; no
browser download) loads the page from a real server on loopback: fake engines where the model
is beside the point, the real models (``posecast serve``) on the sample clip. The page's
``window.posecastViewer.state()`` says what it shows; screenshots check the drawing.

Without Chromium or Playwright these tests skip, except in CI (``CI`` set), where they fail.
``POSECAST_VIEWER_SCREENSHOTS=DIR`` makes the real-model test save the page's screenshots
there (docs/figures/ holds the committed ones).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from testdata import REPO_DIR

SAMPLE_CLIP = REPO_DIR / "samples" / "vtest_excerpt.mp4"
CHROMIUM = Path(os.environ.get("POSECAST_CHROMIUM", "/usr/bin/chromium"))
# Headless Chromium on a closed network: no background connections, no sandbox (root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # WebGL in software (three.js) without a GPU
    "--autoplay-policy=no-user-gesture-required",
]
WAIT_S = 30.0
API_KEY = "viewer-test-key"


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    problem = _browser_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the viewer tests need a browser in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def sample_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 8 s of the sample clip (all of it when screenshots are asked for) as WebM
    (VP8): the clip itself is MPEG-4 Part 2 (OpenCV's mp4v), which browsers do not play."""
    path = tmp_path_factory.mktemp("viewer") / "vtest_excerpt.webm"
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write VP8"
    max_frames = 10**6 if os.environ.get("POSECAST_VIEWER_SCREENSHOTS") else int(8 * fps)
    for _ in range(max_frames):
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(frame)
    writer.release()
    capture.release()
    return path


@dataclass
class ViewerPage:
    """One page of the viewer and what its console said."""

    page: Any
    console_errors: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("() => window.posecastViewer.state()")

    def wait_for(self, condition: str, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """Wait until the JS ``condition`` on ``s`` (the page state) holds; its state then."""
        script = (
            f"() => {{ const s = window.posecastViewer?.state(); return !!s && ({condition}); }}"
        )
        try:
            self.page.wait_for_function(script, timeout=timeout_s * 1000, polling=100)
        except Exception as error:
            state = self.page.evaluate("() => window.posecastViewer?.state()")
            raise AssertionError(f"{condition!r} not reached: {error}\nstate: {state}") from None
        return self.state()

    def open_video(self, path: Path) -> None:
        self.page.set_input_files("#file-input", str(path))

    def apply_settings(self, **values: str) -> None:
        """Open the settings, fill ``{element id: value}``, submit (a new stream)."""
        if self.page.locator("#settings").is_hidden():
            self.page.click("#settings-button")
        for element_id, value in values.items():
            locator = self.page.locator(f"#{element_id.replace('_', '-')}")
            if locator.evaluate("e => e.tagName") == "SELECT":
                locator.select_option(value)
            else:
                locator.fill(value)
        self.page.click("#apply-button")


@contextmanager
def viewer_page(browser: Any, url: str) -> Iterator[ViewerPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 720})
    page = context.new_page()
    viewer = ViewerPage(page)
    page.on("console", lambda m: m.type == "error" and viewer.console_errors.append(m.text))
    page.on("pageerror", lambda error: viewer.console_errors.append(f"page error: {error}"))
    page.goto(url)
    page.wait_for_function("() => window.posecastViewer !== undefined", timeout=WAIT_S * 1000)
    try:
        yield viewer
    finally:
        context.close()


def viewer_url(server: Any, fragment: str = "") -> str:
    return f"{server.http_url}/viewer/{fragment}"


def overlay_pixels_changed(viewer: ViewerPage) -> np.ndarray:
    """Screenshots of the paused video with and without the overlay: the pixels the 2D
    skeletons changed (a boolean mask at the shown size)."""
    box = viewer.page.locator("#video-box")
    shown = box.screenshot()
    viewer.page.evaluate(
        "() => { document.getElementById('overlay').style.visibility = 'hidden'; }"
    )
    hidden = box.screenshot()
    viewer.page.evaluate("() => { document.getElementById('overlay').style.visibility = ''; }")
    with_overlay = cv2.imdecode(np.frombuffer(shown, np.uint8), cv2.IMREAD_COLOR)
    without = cv2.imdecode(np.frombuffer(hidden, np.uint8), cv2.IMREAD_COLOR)
    return np.abs(with_overlay.astype(int) - without.astype(int)).max(axis=2) > 40


def pause_and_settle(viewer: ViewerPage) -> dict[str, Any]:
    """Pause the video (unless it ended) and wait until every frame sent is answered."""
    if not viewer.state()["source"]["isPaused"]:
        viewer.page.click("#play-button")
    viewer.wait_for("s.source.isPaused && s.inFlight === 0")
    time.sleep(0.3)
    return viewer.wait_for("s.inFlight === 0")


# ---- static files --------------------------------------------------------------------------


def test_the_page_and_three_js_are_served_without_a_key(serve: Callable[..., Any]) -> None:
    with serve(api_keys=API_KEY) as server:
        redirect = httpx.get(f"{server.http_url}/viewer")
        assert redirect.status_code in (301, 302, 307, 308)
        assert redirect.headers["location"].endswith("/viewer/")
        page = httpx.get(viewer_url(server))
        assert page.status_code == 200
        assert "importmap" in page.text and "js/main.js" in page.text
        # three.js is served from the package, never a CDN
        assert "https://" not in page.text
        for path in ("vendor/three/three.module.js", "vendor/three/three.core.js", "js/main.js"):
            response = httpx.get(viewer_url(server) + path)
            assert response.status_code == 200, path
            assert "javascript" in response.headers["content-type"], path
        licence = httpx.get(viewer_url(server) + "vendor/three/LICENSE")
        assert "MIT License" in licence.text
        # the data still needs the key
        assert httpx.get(f"{server.http_url}/v1/skeletons").status_code == 401


# ---- fake engines: the page's own behaviour ------------------------------------------------


def test_the_page_loads_without_console_errors(browser: Any, serve: Callable[..., Any]) -> None:
    with serve() as server, viewer_page(browser, viewer_url(server)) as viewer:
        state = viewer.wait_for("s.skeletons.length > 0")
        assert "smpl_24" in state["skeletons"]
        assert state["scene3d"]["hasWebGL"]
        assert state["connection"] == "idle"
        assert state["errorText"] == ""
        viewer.page.wait_for_timeout(500)
        assert viewer.console_errors == []


def test_a_video_file_streams_and_draws_one_skeleton_per_person(
    browser: Any, serve: Callable[..., Any], fake_engines: Any, sample_webm: Path
) -> None:
    with (
        serve(fake_engines(num_persons=2)) as server,
        viewer_page(browser, viewer_url(server)) as viewer,
    ):
        viewer.wait_for("s.skeletons.length > 0")
        viewer.open_video(sample_webm)
        state = viewer.wait_for(
            "s.stats.received >= 10 && s.lastFrame.trackIds.every((id) => id !== null)"
        )
        assert state["connection"] == "ready"
        assert state["source"] == {**state["source"], "kind": "file", "name": sample_webm.name}
        assert (state["lastFrame"]["width"], state["lastFrame"]["height"]) == (768, 576)
        assert state["stats"]["fps"] > 0 and state["stats"]["latencyMs"] is not None
        state = pause_and_settle(viewer)
        # one skeleton per tracked person, in 2D and in 3D, with a trail each
        track_ids = state["lastFrame"]["trackIds"]
        assert len(track_ids) == 2
        assert state["overlay"]["skeletons"] == 2 and state["overlay"]["edges"] > 20
        assert sorted(state["scene3d"]["trackIds"]) == sorted(track_ids)
        assert state["scene3d"]["trails"] == 2
        assert state["scene3d"]["frameMode"] == "camera"
        changed = overlay_pixels_changed(viewer)
        assert changed.sum() > 500, "the overlay drew nothing visible"
        # step: exactly one more frame, one frame later in the video
        sent, time_s = state["stats"]["sent"], state["source"]["currentTimeS"]
        viewer.page.click("#step-button")
        state = viewer.wait_for(f"s.stats.received >= {state['stats']['received'] + 1}")
        assert state["stats"]["sent"] == sent + 1
        assert state["source"]["currentTimeS"] > time_s
        assert state["source"]["isPaused"]
        assert viewer.console_errors == []


def test_every_frame_mode_sends_every_frame_of_a_file(
    browser: Any, serve: Callable[..., Any], fake_engines: Any, sample_webm: Path
) -> None:
    capture = cv2.VideoCapture(str(sample_webm))
    num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    # a server slower than the video (about 6 frames/s for a 10 fps clip)
    with (
        serve(fake_engines(delay_s=0.15)) as server,
        viewer_page(browser, viewer_url(server)) as viewer,
    ):
        viewer.wait_for("s.skeletons.length > 0")
        viewer.page.check("#every-frame")
        viewer.open_video(sample_webm)
        state = viewer.wait_for("s.source.isStepping")
        state = viewer.wait_for("s.source.hasEnded && s.inFlight === 0", timeout_s=120)
        # the first frames play in real time until the frame duration is known
        assert state["stats"]["sent"] >= num_frames - 3, state["stats"]
        assert state["stats"]["sent"] == state["stats"]["received"], state
        assert state["stats"]["serverDropped"] == 0
        assert state["lastFrame"]["timestamp"] == pytest.approx((num_frames - 1) / 10, abs=0.05)
        assert viewer.console_errors == []


def _write_y4m(video: Path, destination: Path, max_frames: int) -> None:
    """The first frames of ``video`` as YUV4MPEG2 (4:2:0), Chromium's fake-camera format."""
    capture = cv2.VideoCapture(str(video))
    fps = round(capture.get(cv2.CAP_PROP_FPS)) or 10
    with destination.open("wb") as output:
        for index in range(max_frames):
            ok, frame = capture.read()
            if not ok:
                break
            if index == 0:
                height, width = frame.shape[:2]
                output.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            output.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    capture.release()


def test_the_webcam_streams(playwright: Any, serve: Callable[..., Any], tmp_path: Path) -> None:
    camera_file = tmp_path / "camera.y4m"
    _write_y4m(SAMPLE_CLIP, camera_file, max_frames=30)
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}",
        ],
    )
    try:
        with serve() as server, viewer_page(browser, viewer_url(server)) as viewer:
            viewer.wait_for("s.skeletons.length > 0")
            viewer.page.click("#webcam-button")
            state = viewer.wait_for("s.stats.received >= 5")
            assert state["source"]["kind"] == "webcam"
            assert (state["lastFrame"]["width"], state["lastFrame"]["height"]) == (768, 576)
            assert state["scene3d"]["skeletons"] == state["lastFrame"]["persons"] == 1
            assert viewer.console_errors == []
    finally:
        browser.close()


def test_the_settings_are_the_stream_config(
    browser: Any, serve: Callable[..., Any], tmp_path: Path, sample_webm: Path
) -> None:
    intrinsics = {"K": [[900.0, 0.0, 384.0], [0.0, 900.0, 288.0], [0.0, 0.0, 1.0]]}
    camera_file = tmp_path / "camera.json"
    camera_file.write_text(json.dumps(intrinsics))
    with serve() as server, viewer_page(browser, viewer_url(server)) as viewer:
        viewer.wait_for("s.skeletons.length > 0")
        viewer.apply_settings(skeleton="smpl_24", detect_every="3", fov_deg="70")
        viewer.open_video(sample_webm)
        state = viewer.wait_for("s.stats.received >= 3")
        assert state["config"] == {
            "type": "config",
            "stream": "viewer",
            "output": "json",
            "skeleton": "smpl_24",
            "detect_every": 3,
            "fov_deg": 70,
        }
        assert state["lastFrame"]["skeleton"] == "smpl_24"
        # an intrinsics file replaces the field of view
        viewer.page.set_input_files("#intrinsics-file", str(camera_file))
        viewer.page.wait_for_function("() => document.getElementById('fov-deg').disabled")
        viewer.apply_settings()
        state = viewer.wait_for("s.streamsOpened === 2 && s.stats.received >= 6")
        assert state["config"]["intrinsics"] == intrinsics
        assert "fov_deg" not in state["config"]
        assert viewer.console_errors == []


def test_the_servers_error_messages_are_shown(
    browser: Any, serve: Callable[..., Any], sample_webm: Path
) -> None:
    with serve() as server, viewer_page(browser, viewer_url(server)) as viewer:
        viewer.wait_for("s.skeletons.length > 0")
        viewer.apply_settings(fov_deg="500")
        viewer.open_video(sample_webm)
        state = viewer.wait_for("s.connection === 'failed'")
        assert state["lastClose"]["code"] == 1008
        assert state["lastClose"]["errorCode"] == "invalid_input"
        text = viewer.page.locator("#error").inner_text()
        assert "invalid_input" in text and "fov_deg" in text and "179" in text
        assert viewer.page.locator("#connection").inner_text() == "disconnected"


def test_the_api_key(browser: Any, serve: Callable[..., Any], sample_webm: Path) -> None:
    with serve(api_keys=API_KEY) as server:
        # without the key: the server's refusal, plainly, and no reconnection loop
        with viewer_page(browser, viewer_url(server)) as viewer:
            viewer.wait_for("s.errorText.includes('unauthorized')")
            viewer.open_video(sample_webm)
            state = viewer.wait_for("s.connection === 'failed'")
            assert state["lastClose"] == {
                "code": 1008,
                "reason": "missing or invalid API key",
                "errorCode": "unauthorized",
            }
            assert "API key" in viewer.page.locator("#error").inner_text()
            # the key typed in the settings: a new stream
            viewer.apply_settings(api_key=API_KEY)
            state = viewer.wait_for(
                "s.connection === 'ready' && s.stats.received >= 3 && s.skeletons.length > 0"
            )
            assert state["errorText"] == ""
        # the key in the page's fragment (#token=...), never sent to the server by the browser
        with viewer_page(browser, viewer_url(server, f"#token={API_KEY}")) as viewer:
            viewer.wait_for("s.skeletons.length > 0")
            viewer.open_video(sample_webm)
            state = viewer.wait_for("s.stats.received >= 3")
            assert f"token={API_KEY}" in viewer.page.evaluate(
                "() => window.posecastViewer.connection.url"
            )
            assert viewer.console_errors == []


def test_the_page_reconnects_after_a_server_restart(
    browser: Any, serve: Callable[..., Any], sample_webm: Path
) -> None:
    first = serve()
    server = first.__enter__()
    port = server.port
    try:
        with viewer_page(browser, viewer_url(server)) as viewer:
            viewer.wait_for("s.skeletons.length > 0")
            viewer.open_video(sample_webm)
            viewer.wait_for("s.connection === 'ready' && s.stats.received >= 3")
            first.__exit__(None, None, None)
            first = None
            state = viewer.wait_for(
                "s.connection === 'reconnecting' || s.connection === 'connecting'"
            )
            assert state["lastClose"]["code"] in (1001, 1006)
            assert "Reconnecting" in viewer.page.locator("#error").inner_text()
            with serve(port=port):
                state = viewer.wait_for("s.streamsOpened === 2 && s.connection === 'ready'")
                received = state["stats"]["received"]
                state = viewer.wait_for(f"s.stats.received >= {received + 3}")
                assert state["errorText"] == ""
                assert state["scene3d"]["skeletons"] == state["lastFrame"]["persons"]
    finally:
        if first is not None:
            first.__exit__(None, None, None)


# ---- the real models on the sample clip ----------------------------------------------------


@pytest.mark.slow
def test_the_sample_clip_with_the_real_models(
    browser: Any, serve_process: Callable[..., Any], sample_webm: Path
) -> None:
    screenshots = os.environ.get("POSECAST_VIEWER_SCREENSHOTS")
    with (
        serve_process({"POSECAST_THREADS": "2"}) as server,
        viewer_page(browser, viewer_url(server)) as viewer,
    ):
        viewer.wait_for("s.skeletons.length > 0")
        # every frame: the video waits for the models, so the frames answered do not depend
        # on how busy the machine is
        viewer.page.check("#every-frame")
        viewer.open_video(sample_webm)
        viewer.wait_for(
            "s.stats.received >= 120" if screenshots else "s.stats.received >= 25",
            timeout_s=600 if screenshots else 150,
        )
        if screenshots:
            Path(screenshots).mkdir(parents=True, exist_ok=True)
            viewer.page.screenshot(path=str(Path(screenshots) / "viewer_vtest.png"))
        state = pause_and_settle(viewer)
        assert state["stats"]["clientSkipped"] <= state["stats"]["received"] // 2
        tracked = [track_id for track_id in state["lastFrame"]["trackIds"] if track_id is not None]
        assert len(tracked) == state["lastFrame"]["persons"] >= 3
        # one 3D skeleton per tracked person, drawn over the video too
        assert sorted(state["scene3d"]["trackIds"]) == sorted(tracked)
        assert state["overlay"]["skeletons"] == len(tracked)
        assert state["overlay"]["edges"] > 20 * len(tracked)
        assert state["scene3d"]["trails"] >= 3
        assert state["stats"]["latencyMs"] is not None
        changed = overlay_pixels_changed(viewer)
        assert changed.sum() > 1000, "the overlay drew nothing visible"
        assert viewer.console_errors == []
        if screenshots:
            viewer.page.locator(".scene-pane").screenshot(
                path=str(Path(screenshots) / "viewer_vtest_3d.png")
            )
