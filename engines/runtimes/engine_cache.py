"""On-disk cache of TensorRT engines.

A serialized engine is only valid for the TensorRT version, GPU model and build settings it
was built with, so every one of those goes into the cache key; a change of any rebuilds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from posecast.engines.runtimes.base import BatchProfile

Precision = Literal["fp32", "fp16"]


@dataclass(frozen=True)
class EngineCacheKey:
    """Everything a built engine depends on."""

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: Precision
    profile: BatchProfile
    item_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def digest(self) -> str:
        """A stable hex digest of the key (canonical JSON, sorted keys). Empty
        ``item_shapes`` are left out, so engines cached before that field keep their key."""
        fields = asdict(self)
        if not fields["item_shapes"]:
            del fields["item_shapes"]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def engine_path(self, cache_dir: Path, model_name: str) -> Path:
        """``{cache_dir}/{model_name}-{precision}-{digest[:16]}.engine``."""
        return Path(cache_dir) / f"{model_name}-{self.precision}-{self.digest()[:16]}.engine"

    def write_sidecar(self, engine_path: Path) -> None:
        """Describe the engine in a JSON file beside it, for people inspecting the cache."""
        engine_path.with_suffix(".json").write_text(
            json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
        )


def timing_cache_path(cache_dir: Path, tensorrt_version: str, gpu_name: str) -> Path:
    """One timing cache per TensorRT version and GPU: kernel timings carry over between models."""
    safe_gpu = "".join(ch if ch.isalnum() else "_" for ch in gpu_name)
    return Path(cache_dir) / f"timing-{tensorrt_version}-{safe_gpu}.cache"
