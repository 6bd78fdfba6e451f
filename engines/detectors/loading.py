"""Detectors by name: a table of lazy loaders, so a detector's module is imported only when
it is chosen."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal, get_args

from posecast.engines.assets import DEFAULT_MODEL_DIR, resolve_model_path
from posecast.engines.detectors.base import DetectorConfig, PersonDetector
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.errors import InvalidInputError

DetectorName = Literal["nanodet", "yolox-nano"]
DETECTOR_NAMES: tuple[str, ...] = get_args(DetectorName)


def load_nanodet(
    model_dir: Path = DEFAULT_MODEL_DIR,
    runtime_options: RuntimeOptions | None = None,
    config: DetectorConfig | None = None,
) -> PersonDetector:
    """NanoDet: ``nanodet_416`` of the model directory's manifest, else the shipped one."""
    from posecast.engines.detectors.nanodet import NanoDetPersonDetector

    options = NanoDetPersonDetector.runtime_options(runtime_options, config)
    runtime = create_runtime(resolve_model_path("nanodet_416", model_dir), options)
    return NanoDetPersonDetector(runtime, config)


LOADERS = {
    "nanodet": "posecast.engines.detectors.loading:load_nanodet",
    "yolox-nano": "posecast.engines.detectors.yolox:load_yolox_nano",
}


def load_detector(
    name: str,
    model_dir: Path = DEFAULT_MODEL_DIR,
    runtime_options: RuntimeOptions | None = None,
    config: DetectorConfig | None = None,
) -> PersonDetector:
    """Load a person detector by name from a model directory.

    Args:
        name: ``nanodet`` (shipped, the default model directory) or ``yolox-nano``
            (user-supplied: a directory prepared with ``posecast models prepare-yolox DIR``).
        model_dir: where its model file and manifest.json are.
        runtime_options: how to run it.
        config: thresholds and input size.

    Raises:
        InvalidInputError: an unknown name.
        ModelError: a missing, unprepared, changed or wrong model.
    """
    if name not in LOADERS:
        raise InvalidInputError(f"unknown detector {name!r}; choose one of {list(LOADERS)}")
    module_name, function_name = LOADERS[name].split(":")
    loader = getattr(importlib.import_module(module_name), function_name)
    return loader(Path(model_dir), runtime_options, config)
