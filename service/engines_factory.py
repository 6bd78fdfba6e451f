"""The one place where the service builds its ``PoseEngines`` from settings.

One dynamic batcher per model, limited by ``settings.max_batch_size``,
``settings.max_batch_delay_s`` and ``settings.max_queue_size``, reporting to the observer
(``posecast.engines.batcher.BatcherObserver``); the app's lifespan starts (and warms up)
and stops them. The engines' batch profile comes from the same ``max_batch_size``, so every
batch the batchers send fits the TensorRT engines (and the torch provider's CUDA graphs).
"""

from __future__ import annotations

from collections.abc import Callable

from posecast.engines.batcher import BatcherConfig, BatcherObserver
from posecast.engines.detectors.base import DetectorConfig, parse_input_size_wh
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.geometry.skeletons import conversion_matrix
from posecast.engines.metrabs.estimator import MetrabsConfig, MetrabsEstimator
from posecast.engines.runtimes import BatchProfile, RuntimeOptions
from posecast.engines.runtimes.base import TritonOptions
from posecast.service.engines import PoseEngines
from posecast.service.settings import ServiceSettings


def build_pose_engines(settings: ServiceSettings, observer: BatcherObserver) -> PoseEngines:
    """Load the models the settings name (blocking: call it off the event loop).

    Raises:
        ModelError: a model is missing or cannot be loaded.
        ProviderUnavailableError: the provider is not available on this machine.
        InvalidInputError: a MeTRAbs model that does not offer ``default_skeleton``.
    """
    options = runtime_options(settings)
    input_size_wh = (
        None if settings.detector_input is None else parse_input_size_wh(settings.detector_input)
    )
    detector = DetectorConfig(
        min_person_height_px=settings.min_person_height_px, input_size_wh=input_size_wh
    )
    estimator: PoseEstimator | MetrabsEstimator
    if settings.engine == "metrabs":
        metrabs = MetrabsConfig(detector_model=settings.detector, detector=detector)
        estimator = MetrabsEstimator.from_model_dir(settings.model_dir, metrabs, options)
        # The model's formats are known now: the default must be one it converts to.
        conversion_matrix(estimator.skeleton, settings.default_skeleton)
    else:
        config = EstimatorConfig(
            pose_model=settings.pose_model, detector_model=settings.detector, detector=detector
        )
        estimator = PoseEstimator.from_config(config, options, settings.model_dir)
    return PoseEngines(estimator, batcher_config(settings), observer)


def runtime_options(settings: ServiceSettings) -> RuntimeOptions:
    """How every model runs: the provider settings, and a batch profile of 1 to
    ``max_batch_size`` (the largest batch a batcher sends)."""
    return RuntimeOptions(
        provider=settings.provider,
        intra_op_threads=settings.threads,
        engine_cache_dir=settings.engine_cache_dir,
        fp16=settings.fp16,
        cuda_graphs=settings.cuda_graphs,
        profile=BatchProfile.for_batcher(settings.max_batch_size),
        triton=TritonOptions(
            settings.triton_url, settings.triton_timeout_s, settings.triton_startup_timeout_s
        ),
    )


def backend_check(settings: ServiceSettings) -> Callable[[], str | None] | None:
    """What readiness asks besides the service's own state: with provider triton, whether
    the Triton server is ready (one gRPC call with a 2 s deadline, so a dead or stalled server
    turns readiness to 503 instead of hanging it); None for local providers."""
    if settings.provider != "triton":
        return None
    from posecast.engines.runtimes.triton import server_problem

    options = runtime_options(settings).triton
    return lambda: server_problem(options)


def batcher_config(settings: ServiceSettings) -> BatcherConfig:
    """Every model's batcher: batches of at most ``max_batch_size``, as the profile."""
    return BatcherConfig(
        max_batch_size=settings.max_batch_size,
        max_delay_s=settings.max_batch_delay_s,
        max_queue_size=max(settings.max_queue_size, settings.max_batch_size),
    )
