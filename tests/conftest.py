"""Shared fixtures: real models and real images, loaded once per session."""

from __future__ import annotations

import pytest

from posecast.engines.assets import model_path
from posecast.engines.blazepose import BlazePoseLandmarkModel
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.pose_alignment import PoseAlignmentDetector
from posecast.engines.runtimes import Runtime, RuntimeOptions, create_runtime

CPU_OPTIONS = RuntimeOptions(provider="cpu", intra_op_threads=2)


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


@pytest.fixture(scope="session")
def aligner() -> PoseAlignmentDetector:
    return PoseAlignmentDetector(create_runtime(model_path("pose_detection"), CPU_OPTIONS))


@pytest.fixture(scope="session")
def estimator(detector, pose_model, aligner) -> PoseEstimator:
    """The default single-image pipeline (alignment ROIs, full model)."""
    return PoseEstimator(detector, pose_model, EstimatorConfig(), aligner)


@pytest.fixture(autouse=True)
def _restore_skeleton_formats():
    """Skeleton formats are process-wide names; formats a test's model registers (MeTRAbs)
    are forgotten after it, so no test sees another's."""
    from posecast.engines.geometry import skeletons

    formats, conversions = dict(skeletons._FORMATS), dict(skeletons._CONVERSION_MATRICES)
    yield
    skeletons._FORMATS.clear()
    skeletons._FORMATS.update(formats)
    skeletons._CONVERSION_MATRICES.clear()
    skeletons._CONVERSION_MATRICES.update(conversions)
