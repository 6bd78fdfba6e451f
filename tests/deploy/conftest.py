"""Fixtures of the deployment tests: the repository generator, a real Triton server (PyTriton,
in its own virtual environment: PyTriton pins numpy < 2, posecast uses numpy 2).

The ``triton`` tests need that environment (450 MB from PyPI) and minutes, so they run only
when asked, ``POSECAST_TRITON_TESTS=1`` (``deploy/test-triton.sh``), and skip otherwise, CI
included (``.ci/run`` does not make the environment). Asked, they use ``.venv-pytriton`` (or
``POSECAST_PYTRITON_VENV``), made first if missing (about 2 minutes), and fail if it cannot
be made.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from deploy_helpers import (
    DEPLOY,
    PYTRITON_VENV,
    TritonServer,
    load_script,
    make_pytriton_venv,
    triton_server,
)


@pytest.fixture(scope="session")
def make_repository() -> ModuleType:
    """``deploy/triton/make_repository.py`` as a module."""
    return load_script(DEPLOY / "triton" / "make_repository.py")


@pytest.fixture(scope="session")
def pytriton_python() -> Path:
    """The Python of the PyTriton virtual environment (made if missing)."""
    if os.environ.get("POSECAST_TRITON_TESTS") != "1":
        pytest.skip("the Triton server tests run through deploy/test-triton.sh (minutes)")
    python = PYTRITON_VENV / "bin" / "python"
    probe = [str(python), "-c", "import pytriton, onnxruntime, tritonclient.grpc"]
    if not python.is_file() or subprocess.run(probe, capture_output=True).returncode != 0:
        make_pytriton_venv(PYTRITON_VENV)
    return python


@pytest.fixture(scope="session")
def triton_repository(
    make_repository: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A repository of every shipped model, CPU instances, max batch 8, 20 ms queue delay
    (long enough for concurrent requests to meet on a loaded 2-core machine)."""
    out = tmp_path_factory.mktemp("triton-repository")
    config = make_repository.RepositoryConfig(kind="cpu", max_queue_delay_us=20_000)
    make_repository.make_repository(out, config)
    return out


@pytest.fixture(scope="session")
def triton(pytriton_python: Path, triton_repository: Path) -> Iterator[TritonServer]:
    """One Triton server for the session's tests that leave it running."""
    with triton_server(pytriton_python, triton_repository) as server:
        yield server
