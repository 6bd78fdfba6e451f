"""Model manifest and sha256 checks."""

from __future__ import annotations

import json
import shutil

import pytest

from posecast.engines.assets import DEFAULT_MODEL_DIR, file_sha256, model_path, read_manifest
from posecast.errors import ModelError


@pytest.fixture()
def model_dir(tmp_path):
    """A copy of the lite model and the manifest, to damage."""
    shutil.copy(DEFAULT_MODEL_DIR / "manifest.json", tmp_path)
    shutil.copy(DEFAULT_MODEL_DIR / "pose_landmark_lite.onnx", tmp_path)
    return tmp_path


def test_every_shipped_model_matches_its_manifest() -> None:
    for name, entry in read_manifest().items():
        path = DEFAULT_MODEL_DIR / entry["file"]
        assert path.is_file(), name
        assert file_sha256(path) == entry["sha256"], name
        assert entry["license"] if "license" in entry else entry["licence"]


def test_manifest_records_provenance() -> None:
    for name, entry in read_manifest().items():
        source = json.dumps(entry.get("source", {}))
        assert "mediapipe" in source or "human-models" in source, name


def test_corrupted_model_is_refused(model_dir) -> None:
    path = model_dir / "pose_landmark_lite.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupted or replaced"):
        model_path("pose_landmark_lite", model_dir)


def test_missing_model_file_is_refused(model_dir) -> None:
    with pytest.raises(ModelError, match="missing"):
        model_path("pose_landmark_full", model_dir)


def test_unknown_model_name_lists_the_known_ones(model_dir) -> None:
    with pytest.raises(ModelError, match="pose_landmark_lite"):
        model_path("pose_landmark_giant", model_dir)


def test_missing_manifest_is_refused(tmp_path) -> None:
    with pytest.raises(ModelError, match="manifest not found"):
        model_path("pose_landmark_lite", tmp_path)
