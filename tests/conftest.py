"""Shared fixtures: real models and real images, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engines.assets import model_path
from engines.blazepose import BlazePoseLandmarkModel
from engines.detector import NanoDetPersonDetector
from engines.runtimes import Runtime, RuntimeOptions, create_runtime

DATA_DIR = Path(__file__).parent / "data"
IMAGES_DIR = DATA_DIR / "images"
REPO_DIR = Path(__file__).parent.parent
SAMPLE_CLIP = REPO_DIR / "samples" / "vtest_excerpt.mp4"
CPU_OPTIONS = RuntimeOptions(provider="cpu", intra_op_threads=2)


def read_rgb(name: str) -> np.ndarray:
    """A test image from tests/data/images as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(IMAGES_DIR / name), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {name}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def detector_runtime() -> Runtime:
    return create_runtime(model_path("nanodet_416"), CPU_OPTIONS)


@pytest.fixture(scope="session")
def pose_runtime_full() -> Runtime:
    return create_runtime(model_path("pose_landmark_full"), CPU_OPTIONS)


@pytest.fixture(scope="session")
def detector(detector_runtime: Runtime) -> NanoDetPersonDetector:
    return NanoDetPersonDetector(detector_runtime)


@pytest.fixture(scope="session")
def pose_model(pose_runtime_full: Runtime) -> BlazePoseLandmarkModel:
    return BlazePoseLandmarkModel(pose_runtime_full)
