"""Fixtures for the MeTRAbs engine: the committed stand-in model (tests/data/metrabs/standin:
random weights behind MeTRAbs' interface, converted by tools/convert_metrabs.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecast.engines.metrabs.crop_model import MetrabsCropModel
from posecast.engines.metrabs.estimator import (
    MetrabsConfig,
    MetrabsEstimator,
    load_metrabs_crop_model,
)
from posecast.engines.runtimes import RuntimeOptions
from testdata import DATA_DIR

STANDIN_DIR = DATA_DIR / "metrabs" / "standin"
CPU_OPTIONS = RuntimeOptions(provider="cpu", intra_op_threads=2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture(scope="session")
def standin_dir() -> Path:
    return STANDIN_DIR


@pytest.fixture(scope="session")
def standin_crop_model() -> MetrabsCropModel:
    return load_metrabs_crop_model(STANDIN_DIR, CPU_OPTIONS)


@pytest.fixture
def standin_estimator(detector, standin_crop_model: MetrabsCropModel) -> MetrabsEstimator:
    """The stand-in behind the shipped NanoDet (the session's detector); per test, since
    making it registers its skeleton formats, which every test forgets after it."""
    return MetrabsEstimator(detector, standin_crop_model, MetrabsConfig())
