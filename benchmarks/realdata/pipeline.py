"""Running today's default pipeline over the real data (or reading a run back from its cache).

The estimator is the default one, ``PoseEstimator.from_config(EstimatorConfig(),
RuntimeOptions(provider="cpu", intra_op_threads=threads))`` (or the ``config`` given), run
on one image at a time with the person detector on every frame (the default stream setting).
:func:`previous_default_config` is the estimator's default before the person-finding work of
2026-12 (docs/estimation.md "Finding every person"), for before/after figures in one run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from posecast.engines.detectors.base import DetectorConfig
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.geometry.camera import Camera
from posecast.engines.pose_search import PoseSearchConfig
from posecast.engines.runtimes import RuntimeOptions
from realdata.cache import FrameRecord, load_records, save_records
from realdata.mot import MotSequence

logger = logging.getLogger(__name__)

Item = tuple[str, np.ndarray, Camera | None]
"""A frame to estimate: its cache key, the (H, W, 3) uint8 RGB image, its camera (None:
posecast's default 55 degree field of view)."""


def previous_default_config() -> EstimatorConfig:
    """The default estimator of commit f523c37 (before docs/estimation.md "Finding every
    person"): detector score >= 0.35, no pose-detector proposals, the alignment ROI
    whether or not it covers the box, one ROI per person (no retries)."""
    return EstimatorConfig(
        pose_detector_proposals="off",
        detector=DetectorConfig(score_threshold=0.35),
        search=PoseSearchConfig(min_alignment_coverage=0.0, retries=()),
    )


def build_estimator(threads: int = 1, config: EstimatorConfig | None = None) -> PoseEstimator:
    """The default estimator (or ``config``'s) on CPU with ``threads`` threads per operator."""
    options = RuntimeOptions(provider="cpu", intra_op_threads=threads, inter_op_threads=1)
    return PoseEstimator.from_config(config or EstimatorConfig(), options)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def sequence_images(sequence: MotSequence) -> Iterator[tuple[int, np.ndarray]]:
    """(MOT frame number, RGB image) of every labelled frame, in order."""
    if sequence.image_paths is not None:
        for frame in sequence.frames:
            yield frame, read_rgb(sequence.image_paths[frame])
        return
    if sequence.video_path is None:
        raise ValueError(f"{sequence.name}: neither images nor a video")
    capture = cv2.VideoCapture(str(sequence.video_path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {sequence.video_path}")
    try:
        wanted = {frame + sequence.video_frame_offset: frame for frame in sequence.frames}
        for index in range(max(wanted) + 1):
            is_read, image = capture.read()
            if not is_read:
                raise ValueError(f"{sequence.video_path}: ends before frame {index}")
            if index in wanted:
                yield wanted[index], cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def mot_frame_key(sequence_name: str, frame: int) -> str:
    """Cache key of a MOT frame."""
    return f"mot/{sequence_name}/{frame:06d}"


def sequence_items(sequence: MotSequence) -> Iterator[Item]:
    """The labelled frames of a sequence to estimate (default camera)."""
    for frame, image_rgb in sequence_images(sequence):
        yield mot_frame_key(sequence.name, frame), image_rgb, None


CPU_TOTAL, CPU_DETECTOR = "cpu_total", "cpu_detector"
"""``FrameRecord.timing_ms`` keys of the process CPU time of the whole estimate and of the
raw detector call: on a shared, loaded machine wall times of the same run vary by up to 3x,
the CPU time of a single-threaded run far less (absent from caches written before them)."""


def mean_ms(records: dict[str, FrameRecord], keys: Iterable[str], step: str = "total") -> float:
    """Mean time of one of the estimator's steps (``detect``, ``pose``, ``total``, ...; or
    ``CPU_TOTAL``, ``CPU_DETECTOR``) over the frames ``keys``; ``step="detector"`` is the raw
    detector timed on its own. NaN where a frame lacks it."""
    values = [
        records[key].detector_ms
        if step == "detector"
        else records[key].timing_ms.get(step, float("nan"))
        for key in keys
    ]
    return float(np.mean(values)) if values else float("nan")


def estimate_image(
    estimator: PoseEstimator,
    image_rgb: np.ndarray,
    camera: Camera | None,
    with_detector: bool,
    with_trace: bool = False,
) -> FrameRecord:
    """The estimator's persons (and trace, if asked), and the raw detector's boxes timed on
    their own if asked; with the CPU times (``CPU_TOTAL``, ``CPU_DETECTOR``)."""
    cpu_start = time.process_time()
    estimate = estimator.estimate(image_rgb, camera, with_trace=with_trace)
    timing_ms = {**estimate.timing_ms, CPU_TOTAL: (time.process_time() - cpu_start) * 1e3}
    boxes, scores, detector_ms = np.zeros((0, 4)), np.zeros(0), float("nan")
    if with_detector:
        start, cpu_start = time.perf_counter(), time.process_time()
        (detected,) = estimator.detector.detect([image_rgb])
        detector_ms = (time.perf_counter() - start) * 1e3
        timing_ms[CPU_DETECTOR] = (time.process_time() - cpu_start) * 1e3
        boxes, scores = detected.boxes_xyxy, detected.scores
    return FrameRecord(
        poses=estimate.poses,
        timing_ms=timing_ms,
        detector_xyxy=np.asarray(boxes, np.float64).reshape(-1, 4),
        detector_scores=np.asarray(scores, np.float64).reshape(-1),
        detector_ms=detector_ms,
        trace=estimate.trace,
    )


def run_or_load(
    items: Callable[[], Iterable[Item]],
    total: int,
    cache_path: Path,
    from_cache: bool,
    metadata: dict[str, Any],
    threads: int = 1,
    with_detector: bool = False,
    estimator: PoseEstimator | None = None,
    with_trace: bool = False,
) -> tuple[dict[str, FrameRecord], dict[str, Any]]:
    """The estimator's records of every item, and the metadata of the run that made them.

    Args:
        items: makes the frames (called only when the models run).
        total: their number, for the progress bar.
        cache_path: where the records are written after a run, or read from.
        from_cache: read ``cache_path`` instead of running the models.
        metadata: this run's metadata, stored with the records.
        threads: operator threads of the models.
        with_detector: also run and time the raw person detector on each frame.
        estimator: the estimator to run (default: ``build_estimator(threads)``).
        with_trace: keep the estimator's trace of each frame (``FrameRecord.trace``).
    """
    if from_cache:
        records, cached_metadata = load_records(cache_path)
        logger.info("read %d frames from %s", len(records), cache_path)
        return records, cached_metadata
    estimator = estimator or build_estimator(threads)
    records = {}
    for key, image_rgb, camera in tqdm(items(), total=total, desc="estimating", unit="frame"):
        if key in records:
            raise ValueError(f"two frames with the cache key {key!r}")
        if not records:  # warm-up: the first run of each model is slow
            estimate_image(estimator, image_rgb, camera, with_detector)
        records[key] = estimate_image(estimator, image_rgb, camera, with_detector, with_trace)
    save_records(cache_path, records, metadata)
    logger.info("wrote %d frames to %s", len(records), cache_path)
    return records, metadata
