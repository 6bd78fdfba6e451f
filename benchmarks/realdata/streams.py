"""Running the per-frame pipeline (``StreamPipeline``) over real video, with the models' output
cached per frame.

Placement, appearance descriptors, tracking and the output policy run for real on every call;
only the models' output (decoded BlazePose poses, which do not depend on the camera) is
cached, keyed by the frame and a tag naming the estimator's settings, and placed in camera
space for whatever camera the stream asks with (self-calibration changes the focal length
mid-stream). A tracker change re-scores in seconds.

``tracker_at_commit`` loads the ``tracker/`` package of another commit (``git show``), so a
"before" row runs the old tracker on exactly the same estimator output.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from posecast.engines.blazepose import BlazePoses
from posecast.engines.estimator import EstimatorConfig, FrameEstimate, PoseEstimator
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.rois import Roi
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame
from realdata.pipeline import build_estimator, read_rgb
from realdata.report import REPO_ROOT

logger = logging.getLogger(__name__)

StreamFrame = tuple[str, np.ndarray, float]
"""A frame of a stream: its cache key, the (H, W, 3) uint8 RGB image, its time in seconds."""


_POSE_FIELDS = (
    "landmarks_px",
    "landmarks_crop_px",
    "world_landmarks_crop_m",
    "visibility",
    "presence",
    "pose_presence",
)
_ROI_FIELDS = ("centers_px", "sides_px", "rotations_rad", "is_flipped")


@dataclass(frozen=True)
class CachedFrame:
    """What the models made of one image, before the camera is applied: the decoded BlazePose
    poses (``PoseEstimator.to_camera_space`` turns them into camera-space people for any K),
    the image size and the estimator's timings."""

    blazeposes: BlazePoses
    image_size_wh: tuple[int, int]
    timing_ms: dict[str, float]


def save_frames(path: Path, frames: dict[str, CachedFrame], metadata: dict) -> None:
    """Write cached frames (key -> frame) and the run's metadata to one ``.npz``."""
    keys = list(frames)
    header = {
        "metadata": metadata,
        "keys": keys,
        "image_size_wh": [list(frames[k].image_size_wh) for k in keys],
        "timing_ms": [frames[k].timing_ms for k in keys],
    }
    poses = [frames[k].blazeposes for k in keys]
    arrays = {name: np.concatenate([getattr(p, name) for p in poses]) for name in _POSE_FIELDS}
    arrays |= {
        f"roi_{name}": np.concatenate([getattr(p.rois, name) for p in poses])
        for name in _ROI_FIELDS
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        header=np.array(json.dumps(header)),
        counts=np.array([len(p) for p in poses]),
        **arrays,
    )


def load_frames(path: Path) -> tuple[dict[str, CachedFrame], dict]:
    """The frames and metadata written by :func:`save_frames`."""
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
        ends = np.cumsum(data["counts"])
        arrays = {name: data[name] for name in data.files if name not in ("header", "counts")}
    frames = {}
    for index, key in enumerate(header["keys"]):
        rows = slice(ends[index - 1] if index else 0, ends[index])
        rois = Roi(**{name: arrays[f"roi_{name}"][rows] for name in _ROI_FIELDS})
        poses = BlazePoses(rois=rois, **{name: arrays[name][rows] for name in _POSE_FIELDS})
        frames[key] = CachedFrame(
            poses, tuple(header["image_size_wh"][index]), header["timing_ms"][index]
        )
    return frames, header["metadata"]


class CachingEstimator:
    """A ``FrameEstimator`` that answers from a cache and runs the real estimator on a miss.

    The cache holds each frame's decoded BlazePose poses, which do not depend on the camera;
    ``PoseEstimator.to_camera_space`` places them for whatever camera the stream asks with
    (self-calibration changes the focal length mid-stream), so a cached frame serves every
    camera exactly. Set ``frame_key`` before each ``StreamPipeline.process``; the cache key is
    ``frame_key # tag``. Only detection on every frame is supported (no followed ROIs).
    """

    def __init__(
        self,
        path: Path,
        threads: int = 1,
        config: EstimatorConfig | None = None,
        tag: str = "default",
        is_read_only: bool = False,
    ) -> None:
        # np.savez adds .npz to a name without it: read where it writes
        self.path = Path(path).with_suffix(".npz")
        self.threads = threads
        self.config = config or EstimatorConfig()
        self.tag = tag
        self.is_read_only = is_read_only
        self.frame_key: str | None = None
        self.frames: dict[str, CachedFrame] = {}
        self.metadata: dict = {}
        self.misses = 0
        self._estimator: PoseEstimator | None = None
        # Placing cached poses needs no model: an estimator with the config and no models.
        self._geometry = PoseEstimator.__new__(PoseEstimator)
        self._geometry.config = self.config
        if self.path.exists():
            self.frames, self.metadata = load_frames(self.path)
            logger.info("read %d cached frames from %s", len(self.frames), self.path)

    def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera | None = None,
        followed_rois: Roi | None = None,
        detect: bool = True,
    ) -> FrameEstimate:
        if self.frame_key is None or camera is None or followed_rois is not None or not detect:
            raise ValueError("CachingEstimator needs frame_key, a camera and detection")
        key = f"{self.frame_key}#{self.tag}"
        if key not in self.frames:
            if self.is_read_only:
                raise KeyError(f"{key} is not in {self.path} (run without --from-cache)")
            self.frames[key] = self._run(image_rgb, camera)
            self.misses += 1
        frame = self.frames[key]
        poses, _, dropped = self._geometry.to_camera_space(
            frame.blazeposes, camera, frame.image_size_wh
        )
        return FrameEstimate(poses, dict(frame.timing_ms), dropped, Roi.empty())

    def _run(self, image_rgb: np.ndarray, camera: Camera) -> CachedFrame:
        if self._estimator is None:
            self._estimator = build_estimator(self.threads, self.config)
            self._estimator.estimate(image_rgb, camera)  # warm-up: first runs are slow
        estimator = self._estimator
        captured: list[BlazePoses] = []
        place = estimator.to_camera_space

        def capture(blazeposes: BlazePoses, *args: object) -> object:
            captured.append(blazeposes)
            return place(blazeposes, *args)  # type: ignore[arg-type]

        estimator.to_camera_space = capture  # type: ignore[method-assign]
        try:
            estimate = estimator.estimate(image_rgb, camera)
        finally:
            del estimator.to_camera_space
        height, width = image_rgb.shape[:2]
        return CachedFrame(captured[-1], (width, height), dict(estimate.timing_ms))

    def save(self, metadata: dict) -> None:
        """Write the cache when anything was added."""
        if self.misses and self.frames:
            save_frames(self.path, self.frames, metadata)
            logger.info("wrote %d frames (%d new) to %s", len(self.frames), self.misses, self.path)
            self.misses = 0


def video_frames(
    path: Path, frame_rate_hz: float, max_frames: int | None = None
) -> Iterator[StreamFrame]:
    """A video's frames with keys ``NAME/000123`` (0-based) and times at ``frame_rate_hz``."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        index = 0
        while max_frames is None or index < max_frames:
            is_read, image = capture.read()
            if not is_read:
                return
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            yield f"{Path(path).name}/{index:06d}", rgb, index / frame_rate_hz
            index += 1
    finally:
        capture.release()


def image_frames(paths: Iterable[tuple[str, Path]], frame_rate_hz: float) -> Iterator[StreamFrame]:
    """Image files (key, path) in order, timed at ``frame_rate_hz``."""
    for index, (key, path) in enumerate(paths):
        yield key, read_rgb(path), index / frame_rate_hz


@dataclass(frozen=True)
class StreamRun:
    """A pipeline's output over a stream, the mean time per frame of the tracker's update and
    of the appearance descriptors, and the pipeline (its scene at the end)."""

    frames: list[TrackedFrame]
    track_ms: float
    appearance_ms: float
    pipeline: StreamPipeline


def run_stream(
    frames: Iterable[StreamFrame],
    estimator: CachingEstimator,
    config: StreamConfig,
    tracker: object | None = None,
) -> StreamRun:
    """``StreamPipeline(estimator, config)`` over the frames (``tracker``: a replacement
    tracker object with the same ``update``, e.g. one from ``tracker_at_commit``)."""
    pipeline = StreamPipeline(estimator, config)
    if tracker is not None:
        pipeline.tracker = tracker  # type: ignore[assignment]
    tracked, track_ms, appearance_ms = [], [], []
    for key, image_rgb, timestamp_s in frames:
        estimator.frame_key = key
        frame = pipeline.process(image_rgb, timestamp_s)
        tracked.append(frame)
        track_ms.append(frame.timing_ms["track"])
        appearance_ms.append(frame.timing_ms.get("appearance", 0.0))
    return StreamRun(tracked, float(np.mean(track_ms)), float(np.mean(appearance_ms)), pipeline)


def tracker_at_commit(commit: str) -> ModuleType:
    """The ``tracker/`` package of ``commit`` (``git show``), importable on its own: its
    ``posecast.tracker.*`` imports are rewritten to the loaded copy, everything else
    (``posecast.engines``, ``posecast.errors``, ...) is today's. Returns its ``tracker``
    module (``module.Tracker``, ``module.TrackerConfig`` via ``config``)."""
    name = f"tracker_{commit}".replace("-", "_")
    if name in sys.modules:
        return importlib.import_module(f"{name}.tracker")
    files = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "tracker/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    root = Path(tempfile.mkdtemp(prefix="posecast-tracker-"))
    package = root / name
    package.mkdir()
    for file in files:
        if not file.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "show", f"{commit}:{file}"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        source = source.replace("posecast.tracker.", f"{name}.").replace(
            "from posecast.tracker import", f"from {name} import"
        )
        (package / Path(file).name).write_text(source)
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{name}.tracker")
