"""What ``pip install posecast`` puts on a machine: one top-level package, and a thin client."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testdata import REPO_DIR

MAPPED_FOLDERS = {
    "posecast": "posecast",
    "engines": "posecast/engines",
    "tracker": "posecast/tracker",
    "service": "posecast/service",
    "clients": "posecast/clients",
}
HEAVY_MODULES = ("cv2", "onnxruntime", "scipy", "fastapi", "uvicorn", "starlette", "torch")


def _modules_loaded_by(statement: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after running ``statement``."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    return {name.split(".")[0] for name in output.split()}


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        # the thin client: httpx, websockets, pydantic and the wire schema only
        ("import posecast.clients", ()),
        ("from posecast.clients import PosecastClient, AsyncPosecastClient", ()),
        # the wire schema: pydantic and numpy only
        ("import posecast.wire.messages, posecast.wire.protocol", ()),
        # the tracker: numpy and scipy, no model or web code
        ("import posecast.tracker.tracker", ("scipy",)),
    ],
)
def test_light_imports_load_no_heavy_module(statement: str, allowed: tuple[str, ...]) -> None:
    loaded = _modules_loaded_by(statement)
    heavy = sorted((loaded & set(HEAVY_MODULES)) - set(allowed))
    assert heavy == [], f"{statement!r} loads {heavy}"


@pytest.mark.slow
def test_the_wheel_holds_only_the_posecast_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=REPO_DIR,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("posecast-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {"posecast"}
    # every module of the mapped folders is in it, test data is not
    expected = {
        f"{prefix}/{path.relative_to(REPO_DIR / folder).as_posix()}"
        for folder, prefix in MAPPED_FOLDERS.items()
        for path in (REPO_DIR / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected - set(names) == set()
    assert not [name for name in names if "synthetic" in name or "/tests/" in name]
    assert {"posecast/engines/models/manifest.json", "posecast/engines/models/NOTICE"} <= set(names)
