"""``posecast serve`` as a real subprocess on a loopback port, for the tests that need the
whole process (the service's hostile-input and client tests, the deployment tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackUrls:
    """The URLs of a server on a loopback ``port``."""

    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/stream"


@dataclass
class ServerProcess(LoopbackUrls):
    """A ``posecast serve`` process on loopback: its URL, pid, and its output (stdout and
    stderr: uvicorn's access log goes to stdout) once stopped."""

    process: subprocess.Popen
    port: int
    log: str = ""

    def ready_status(self) -> tuple[int, dict]:
        """Readiness: the status code and the body of ``/v2/health/ready``."""
        response = httpx.get(self.http_url + "/v2/health/ready", timeout=10)
        return response.status_code, response.json()

    def peak_rss_kib(self) -> int:
        """The process's peak resident memory (VmHWM) so far."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")


@contextmanager
def server_process(
    env: dict[str, str] | None = None, *args: str, ready_timeout_s: float = 60.0
) -> Iterator[ServerProcess]:
    """``posecast serve`` in a subprocess with the real models (``POSECAST_*`` from ``env``),
    ready when entered; stopped with SIGTERM on exit, its output then in ``log``."""
    port = free_port()
    command = [sys.executable, "-m", "posecast.clients.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = ServerProcess(process, port)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "server not ready in time"
            try:
                if running.ready_status()[0] == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            running.log = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            running.log = process.communicate()[0]
