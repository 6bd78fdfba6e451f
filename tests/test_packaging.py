"""What ``pip install posecast`` puts on a machine: one top-level package, and a thin client."""

from __future__ import annotations

import shutil
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


def _source_copy(destination: Path) -> Path:
    """The files git would ship (tracked, and new ones it does not ignore), copied: building
    in the checkout would leave a ``build/`` folder whose stale files later wheels take in."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO_DIR / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.mark.slow
def test_the_wheel_holds_only_the_posecast_package(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=source,
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
        f"{prefix}/{path.relative_to(source / folder).as_posix()}"
        for folder, prefix in MAPPED_FOLDERS.items()
        for path in (source / folder).rglob("*.py")
    }
    assert expected - set(names) == set()
    assert not [name for name in names if "synthetic" in name or "/tests/" in name]
    assert {"posecast/engines/models/manifest.json", "posecast/engines/models/NOTICE"} <= set(names)
    # the browser viewer with its vendored three.js and licence (docs/viewer.md)
    viewer = {
        f"posecast/service/{path.relative_to(source / 'service').as_posix()}"
        for path in (source / "service" / "viewer").rglob("*")
        if path.is_file()
    }
    assert "posecast/service/viewer/vendor/three/LICENSE" in viewer
    assert "posecast/service/viewer/index.html" in viewer
    assert viewer - set(names) == set()
