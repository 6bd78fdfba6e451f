"""On-disk cache of TensorRT engines.

A serialized engine is only valid for the TensorRT version, GPU model and build settings it
was built with, and for the code that built it, so every one of those goes into the cache key;
a change of any builds a new engine. Files are written atomically (a temporary file in the
same folder, then a rename), and an engine is used only if the JSON sidecar beside it holds
its SHA-256: a truncated or foreign file is discarded and rebuilt, never loaded.

The pure parts (keys, paths, validation, atomic writes, ``load_or_build``) run anywhere and
are tested without a GPU; ``tensorrt.py`` plugs in the real build and deserialisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from posecast import __version__
from posecast.engines.runtimes.base import BatchProfile, RuntimeOptions
from posecast.errors import ModelError

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "fp16"]
EngineT = TypeVar("EngineT")

ENGINE_RECIPE_VERSION = 2
"""Bump whenever ``tensorrt.build_engine`` changes what it builds (flags, profile layout, ...):
engines cached by older code then get other keys and are rebuilt."""
CODE_VERSION = f"posecast-{__version__}+engine-recipe-{ENGINE_RECIPE_VERSION}"
ENGINE_CACHE_DIR_ENV = "POSECAST_ENGINE_CACHE_DIR"


def default_engine_cache_dir() -> Path:
    """``$POSECAST_ENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/posecast/engines``, else
    ``~/.cache/posecast/engines`` (read when called, never at import)."""
    explicit = os.environ.get(ENGINE_CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "posecast" / "engines"


def engine_cache_dir(options: RuntimeOptions) -> Path:
    """The folder ``options`` asks for, or the default one."""
    if options.engine_cache_dir is not None:
        return Path(options.engine_cache_dir).expanduser()
    return default_engine_cache_dir()


@dataclass(frozen=True)
class EngineCacheKey:
    """Everything a built engine depends on.

    Attributes:
        model_sha256: the ONNX file's hash.
        tensorrt_version: engines do not carry over TensorRT versions.
        gpu_name, compute_capability: nor GPU models.
        precision: ``fp16`` sets the builder's FP16 flag.
        profile: the optimization profile's batch sizes.
        item_shapes: the fixed shapes of inputs the model leaves dynamic (a detector's
            input size).
        workspace_bytes: the builder's workspace limit (changes the tactics it may pick).
        builder_flags: every ``trt.BuilderFlag`` set, by name, sorted.
        code_version: posecast's version and ``ENGINE_RECIPE_VERSION``.
    """

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: Precision
    profile: BatchProfile
    item_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    workspace_bytes: int = 1 << 30
    builder_flags: tuple[str, ...] = ()
    code_version: str = CODE_VERSION

    def digest(self) -> str:
        """A stable hex digest of every field (canonical JSON, sorted keys)."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def engine_path(self, cache_dir: Path, model_name: str) -> Path:
        """``{cache_dir}/{model_name}-{precision}-{digest[:16]}.engine``."""
        return Path(cache_dir) / f"{model_name}-{self.precision}-{self.digest()[:16]}.engine"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one,
    never a part: a temporary file in the same folder, flushed to disk, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class EngineCache:
    """Engines in one folder, each ``NAME-PRECISION-DIGEST.engine`` with a ``.json`` sidecar
    that records the key and the engine's SHA-256 and size."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def engine_path(self, key: EngineCacheKey, model_name: str) -> Path:
        return key.engine_path(self.cache_dir, model_name)

    def load(self, key: EngineCacheKey, model_name: str) -> bytes | None:
        """The cached engine for ``key``, or None if there is none or it is damaged (a
        damaged entry is removed, so the caller's rebuild replaces it)."""
        engine_path = self.engine_path(key, model_name)
        if not engine_path.exists():
            return None
        try:
            data = engine_path.read_bytes()
            sidecar = json.loads(engine_path.with_suffix(".json").read_text())
        except (OSError, ValueError) as error:
            self._discard_damaged(engine_path, f"unreadable engine or sidecar: {error}")
            return None
        problem = _sidecar_problem(sidecar, key, data)
        if problem is not None:
            self._discard_damaged(engine_path, problem)
            return None
        return data

    def store(self, key: EngineCacheKey, model_name: str, data: bytes) -> Path:
        """Write the engine, then its sidecar, each atomically; returns the engine path."""
        engine_path = self.engine_path(key, model_name)
        write_atomic(engine_path, data)
        sidecar = {
            "key": _jsonable(asdict(key)),
            "digest": key.digest(),
            "engine_sha256": hashlib.sha256(data).hexdigest(),
            "engine_bytes": len(data),
        }
        write_atomic(
            engine_path.with_suffix(".json"),
            (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode(),
        )
        return engine_path

    def discard(self, key: EngineCacheKey, model_name: str) -> None:
        """Remove an entry (engine and sidecar), if present."""
        engine_path = self.engine_path(key, model_name)
        for path in (engine_path, engine_path.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def timing_cache_path(self, tensorrt_version: str, gpu_name: str) -> Path:
        return timing_cache_path(self.cache_dir, tensorrt_version, gpu_name)

    def _discard_damaged(self, engine_path: Path, problem: str) -> None:
        logger.warning("discarding cached engine %s (%s); rebuilding", engine_path, problem)
        for path in (engine_path, engine_path.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _sidecar_problem(sidecar: Any, key: EngineCacheKey, data: bytes) -> str | None:
    if not isinstance(sidecar, dict):
        return "sidecar is not a JSON object"
    if sidecar.get("digest") != key.digest():
        return "sidecar belongs to another key"
    if sidecar.get("engine_bytes") != len(data):
        return f"engine has {len(data)} bytes, sidecar says {sidecar.get('engine_bytes')}"
    if sidecar.get("engine_sha256") != hashlib.sha256(data).hexdigest():
        return "engine SHA-256 differs from the sidecar's"
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _jsonable(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def load_or_build(
    cache: EngineCache,
    key: EngineCacheKey,
    model_name: str,
    build: Callable[[], bytes],
    deserialize: Callable[[bytes], EngineT | None],
) -> EngineT:
    """The engine for ``key``: from the cache if it is intact and deserialises, else built,
    deserialised and then cached (an engine that does not deserialise is never cached).

    Raises:
        ModelError: a freshly built engine does not deserialise.
    """
    cached = cache.load(key, model_name)
    if cached is not None:
        engine = deserialize(cached)
        if engine is not None:
            logger.info("loaded cached TensorRT engine %s", cache.engine_path(key, model_name))
            return engine
        logger.warning(
            "cached engine %s does not deserialise; rebuilding", cache.engine_path(key, model_name)
        )
        cache.discard(key, model_name)
    logger.info("building TensorRT engine for %s (minutes on first run)", model_name)
    data = build()
    engine = deserialize(data)
    if engine is None:
        raise ModelError(f"the TensorRT engine just built for {model_name} does not deserialise")
    cache.store(key, model_name, data)
    return engine


def timing_cache_path(cache_dir: Path, tensorrt_version: str, gpu_name: str) -> Path:
    """One timing cache per TensorRT version and GPU: kernel timings carry over between models."""
    safe_gpu = "".join(ch if ch.isalnum() else "_" for ch in gpu_name)
    return Path(cache_dir) / f"timing-{tensorrt_version}-{safe_gpu}.cache"
