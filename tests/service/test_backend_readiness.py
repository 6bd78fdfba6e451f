"""Provider triton: its settings reach the runtime options, and readiness reports a model
server that cannot serve (503 ``backend_unavailable``) while liveness stays 200."""

from __future__ import annotations

import socket
import time

import httpx

from posecast.engines.runtimes.base import TritonOptions
from posecast.service.engines_factory import backend_check, runtime_options
from posecast.service.settings import load_settings


def test_triton_settings_reach_the_runtime_options() -> None:
    settings = load_settings(
        provider="triton",
        triton_url="triton.example:8001",
        triton_timeout_s=3,
        triton_startup_timeout_s=30,
    )
    assert runtime_options(settings).triton == TritonOptions("triton.example:8001", 3.0, 30.0)
    assert backend_check(load_settings()) is None  # local providers: nothing to ask


def test_backend_check_reports_an_unreachable_server_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens
    check = backend_check(load_settings(provider="triton", triton_url=url))
    assert check is not None
    start = time.monotonic()
    problem = check()
    assert problem is not None and f"cannot reach Triton at {url}" in problem
    assert time.monotonic() - start < 5


def test_readiness_follows_the_backend(serve) -> None:
    with serve() as server:
        url = server.http_url + "/v2/health/ready"
        assert httpx.get(url).json() == {"status": "ready"}
        server.state.backend_check = lambda: "Triton at host:8001: unreachable"
        response = httpx.get(url)
        assert response.status_code == 503
        assert response.json() == {
            "status": "backend_unavailable",
            "detail": "Triton at host:8001: unreachable",
        }
        assert httpx.get(server.http_url + "/v2/health/live").status_code == 200
        server.state.backend_check = lambda: None  # the server is back
        assert httpx.get(url).status_code == 200
