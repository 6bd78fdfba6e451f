"""Frame sources for offline runs: a video file, a folder of images, or a camera index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecast.engines.images import read_image
from posecast.errors import InvalidInputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Frame:
    """One frame: its index in the source, its time in seconds, and the RGB image."""

    index: int
    timestamp_s: float
    image_rgb: np.ndarray


class FrameSource:
    """Frames of a video file, an image folder (sorted by name) or a camera (``"0"``).

    Attributes:
        fps: the source's frame rate (image folders: the ``fps`` asked for).
        frame_count: number of frames, or None for cameras.
    """

    def __init__(self, spec: str, fps: float = 10.0) -> None:
        self.spec = spec
        path = Path(spec)
        self._images: list[Path] | None = None
        self._capture: cv2.VideoCapture | None = None
        self._is_camera = spec.isdigit() and not path.exists()
        if path.is_dir():
            self._images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                raise InvalidInputError(f"{spec}: folder holds no images ({suffixes})")
            self.fps, self.frame_count = fps, len(self._images)
            return
        if not self._is_camera and not path.is_file():
            raise InvalidInputError(f"{spec}: no such file, folder or camera index")
        self._capture = cv2.VideoCapture(int(spec) if self._is_camera else str(path))
        if not self._capture.isOpened():
            raise InvalidInputError(f"{spec}: cannot open as a video or camera")
        source_fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = source_fps if source_fps and np.isfinite(source_fps) and source_fps > 0 else fps
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if self._is_camera or count <= 0 else count

    def __iter__(self) -> Iterator[Frame]:
        if self._images is not None:
            for index, image_path in enumerate(self._images):
                yield Frame(index, index / self.fps, read_image(image_path))
            return
        assert self._capture is not None
        start_s = time.monotonic()
        index = 0
        while True:
            ok, frame_bgr = self._capture.read()
            if not ok:
                if index == 0:
                    raise InvalidInputError(f"{self.spec}: no frame could be decoded")
                return
            timestamp_s = time.monotonic() - start_s if self._is_camera else index / self.fps
            yield Frame(index, timestamp_s, cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_frames(spec: str, count: int, every: int = 1) -> list[np.ndarray]:
    """Up to ``count`` RGB frames of a source, taking every ``every``-th (for benchmarks)."""
    frames: list[np.ndarray] = []
    with FrameSource(spec) as source:
        for frame in source:
            if len(frames) >= count:
                break
            if frame.index % every == 0:
                frames.append(frame.image_rgb)
    return frames
