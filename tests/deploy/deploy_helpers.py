"""Processes of the deployment tests: a real Triton server (PyTriton, in its own virtual
environment: PyTriton pins numpy < 2, posecast uses numpy 2) and ``posecast serve``, both on
loopback ports; the generator script as a module."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
from serve_process import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PYTRITON_VENV = Path(os.environ.get("POSECAST_PYTRITON_VENV", REPO / ".venv-pytriton"))
PYTRITON_REQUIREMENTS = ("nvidia-pytriton==0.7.0", "onnxruntime", "numpy<2")
SERVER_SCRIPT = Path(__file__).with_name("pytriton_server.py")
READY_MARKER = "POSECAST-PYTRITON-READY"
"""What the server prints once serving: tritonserver logs to the same pipe and its unbuffered
writes can enclose the marker mid-line, so it is looked for inside lines, and is unique."""
TRITON_START_TIMEOUT_S = 240.0


def load_script(path: Path) -> ModuleType:
    """Import a script of deploy/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def make_pytriton_venv(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", *PYTRITON_REQUIREMENTS],
        check=True,
        timeout=900,
    )


@dataclass
class TritonServer:
    """A PyTriton server process group on loopback ports."""

    process: subprocess.Popen
    grpc_port: int
    http_port: int
    metrics_port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def metrics(self) -> dict[tuple[str, str], float]:
        """Triton's Prometheus counters: (metric, model) -> value."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        values = {}
        for line in text.splitlines():
            found = re.match(r'^(\w+)\{.*model="([^"]+)".*\} (\S+)$', line)
            if found:
                values[(found.group(1), found.group(2))] = float(found.group(3))
        return values

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole group (the Python process, tritonserver, stubs)."""
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(10)

    def kill(self) -> None:
        """Kill every process of the server at once (a crashed host)."""
        self.signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def triton_server(
    python: Path, repository: Path, models: str | None = None
) -> Iterator[TritonServer]:
    """A real Triton server (PyTriton) serving ``repository``, ready when entered."""
    ports = [free_port() for _ in range(3)]
    command = [
        str(python),
        str(SERVER_SCRIPT),
        str(repository),
        "--grpc-port",
        str(ports[0]),
        "--http-port",
        str(ports[1]),
        "--metrics-port",
        str(ports[2]),
        "--ready-marker",
        READY_MARKER,
    ]
    if models:
        command += ["--models", models]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped and killed as a whole
    )
    server = TritonServer(process, *ports)
    ready = threading.Event()

    def read_output() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            server.output.append(line)
            if READY_MARKER in line:
                ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    try:
        deadline = time.monotonic() + TRITON_START_TIMEOUT_S
        while not ready.wait(0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Triton did not start:\n" + "".join(server.output[-40:]))
        yield server
    finally:
        server.stop()
