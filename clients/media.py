"""Frame sources for offline runs and streaming: a video file, a folder of images, a camera.

One ``FrameSource`` serves both uses: ``frames()`` decodes each frame to RGB (``posecast
track``), ``encoded_frames()`` gives bytes to send (``posecast stream``: image files that are
already JPEG or PNG go as they are, everything else is JPEG-encoded).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecast.engines.images import read_image
from posecast.errors import InvalidInputError
from posecast.wire.protocol import image_kind

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
JPEG_QUALITY = 90
DEFAULT_FPS = 10.0


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the source, its time in seconds, the RGB image."""

    index: int
    timestamp_s: float
    image_rgb: np.ndarray


@dataclass(frozen=True)
class EncodedFrame:
    """One frame to send: its index, its time in seconds, and JPEG or PNG bytes."""

    index: int
    timestamp_s: float
    data: bytes


def encode_jpeg(image_bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """(H, W, 3) uint8 BGR -> JPEG bytes.

    Raises:
        InvalidInputError: OpenCV could not encode it.
    """
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidInputError("JPEG encoding failed")
    return encoded.tobytes()


class FrameSource:
    """Frames of a video file, an image folder (sorted by name) or a camera (``"0"``).

    Attributes:
        fps: the source's frame rate (image folders and videos without one: ``fps``).
        frame_count: number of frames, or None for cameras.

    Raises:
        InvalidInputError: no such file, folder or camera; a folder without images.
    """

    def __init__(self, spec: str | Path, fps: float | None = None) -> None:
        self.spec = str(spec)
        path = Path(spec)
        self._images: list[Path] | None = None
        self._capture: cv2.VideoCapture | None = None
        self._is_camera = self.spec.isdigit() and not path.exists()
        if path.is_dir():
            self._images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                raise InvalidInputError(f"{spec}: folder holds no images ({suffixes})")
            self.fps, self.frame_count = fps or DEFAULT_FPS, len(self._images)
            return
        if not self._is_camera and not path.is_file():
            raise InvalidInputError(f"{spec}: no such file, folder or camera index")
        self._capture = cv2.VideoCapture(int(self.spec) if self._is_camera else str(path))
        if not self._capture.isOpened():
            raise InvalidInputError(f"{spec}: cannot open as a video or camera")
        source_fps = self._capture.get(cv2.CAP_PROP_FPS)
        is_known = source_fps and np.isfinite(source_fps) and source_fps > 0
        self.fps = fps or (source_fps if is_known else DEFAULT_FPS)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if self._is_camera or count <= 0 else count

    def frames(self) -> Iterator[Frame]:
        """Every frame decoded to (H, W, 3) uint8 RGB, in order."""
        if self._images is not None:
            for index, image_path in enumerate(self._images):
                yield Frame(index, index / self.fps, read_image(image_path))
            return
        for index, timestamp_s, image_bgr in self._video_frames():
            yield Frame(index, timestamp_s, cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))

    def encoded_frames(self) -> Iterator[EncodedFrame]:
        """Every frame as JPEG or PNG bytes, in order (image files sent as they are)."""
        if self._images is not None:
            for index, image_path in enumerate(self._images):
                yield EncodedFrame(index, index / self.fps, _read_encoded(image_path))
            return
        for index, timestamp_s, image_bgr in self._video_frames():
            yield EncodedFrame(index, timestamp_s, encode_jpeg(image_bgr))

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def _video_frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
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
            yield index, timestamp_s, frame_bgr
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidInputError(f"{path}: {error}") from error


def _read_encoded(path: Path) -> bytes:
    data = _read_bytes(path)
    if image_kind(data) is not None:
        return data
    return encode_jpeg(cv2.cvtColor(read_image(path), cv2.COLOR_RGB2BGR))
