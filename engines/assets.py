"""The embedded models: where they are, and proof that they are the files we converted.

Every model is listed in ``models/manifest.json`` with its sha256; loading checks it, so a
truncated download, a git-lfs pointer or a swapped file fails with a clear message instead
of wrong poses.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from posecast.errors import ModelError

DEFAULT_MODEL_DIR = Path(__file__).parent / "models"
REBUILD_HINT = "reinstall posecast, or rebuild the models with tools/convert_models.py"


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks once per file version: a model's runtimes, engine
    cache keys and manifest check all ask for it (path, size and mtime key the cache)."""
    stat = Path(path).stat()
    return _sha256_of_version(Path(path).resolve(), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256_of_version(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(model_dir: Path = DEFAULT_MODEL_DIR) -> dict:
    """The manifest's ``models`` table: model name -> entry (file, sha256, source, licence...)."""
    manifest_path = Path(model_dir) / "manifest.json"
    try:
        return json.loads(manifest_path.read_text())["models"]
    except FileNotFoundError as error:
        raise ModelError(f"model manifest not found: {manifest_path}; {REBUILD_HINT}") from error
    except (json.JSONDecodeError, KeyError) as error:
        raise ModelError(f"model manifest {manifest_path} is malformed: {error}") from error


def _verified(path: Path, expected_sha256: str) -> None:
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ModelError(
            f"model file {path} is corrupted or replaced: sha256 {actual}, manifest says "
            f"{expected_sha256}; {REBUILD_HINT}"
        )


def model_path(name: str, model_dir: Path = DEFAULT_MODEL_DIR) -> Path:
    """Path of model ``name`` after checking it against the manifest.

    Raises:
        ModelError: unknown name, missing file, or sha256 mismatch.
    """
    models = read_manifest(model_dir)
    if name not in models:
        hint = ""
        if name == "pose_landmark_heavy":
            hint = (
                "; the heavy model is not shipped: build all models with "
                "'python tools/convert_models.py --heavy --out DIR' and pass that model folder"
            )
        raise ModelError(f"unknown model {name!r}; {model_dir} provides {sorted(models)}{hint}")
    entry = models[name]
    path = Path(model_dir) / entry["file"]
    if not path.is_file():
        raise ModelError(f"model file missing: {path}; {REBUILD_HINT}")
    _verified(path, entry["sha256"])
    return path


def lists_model(name: str, model_dir: Path) -> bool:
    """Whether ``model_dir`` has a manifest that lists model ``name``."""
    manifest_path = Path(model_dir) / "manifest.json"
    return manifest_path.is_file() and name in read_manifest(model_dir)


def resolve_model_path(name: str, model_dir: Path = DEFAULT_MODEL_DIR) -> Path:
    """Path of model ``name`` from a user's model directory, else the shipped one.

    A user's directory (``--model-dir``) may hold only the models it adds or replaces (the
    heavy landmark model, a prepared YOLOX-Nano); everything its manifest does not list comes
    from the shipped models.

    Raises:
        ModelError: neither directory lists it, a missing file, or a sha256 mismatch.
    """
    if Path(model_dir) != DEFAULT_MODEL_DIR and lists_model(name, model_dir):
        return model_path(name, model_dir)
    if not lists_model(name, DEFAULT_MODEL_DIR):
        return model_path(name, model_dir)  # raises with the user's directory in the message
    return model_path(name, DEFAULT_MODEL_DIR)
