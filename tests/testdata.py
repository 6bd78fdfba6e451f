"""Paths of the committed test media, and readers for them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA_DIR = Path(__file__).parent / "data"
IMAGES_DIR = DATA_DIR / "images"
REPO_DIR = Path(__file__).parent.parent
SAMPLE_CLIP = REPO_DIR / "samples" / "vtest_excerpt.mp4"


def read_rgb(name: str) -> np.ndarray:
    """A test image from tests/data/images as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(IMAGES_DIR / name), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {name}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_clip_frames(count: int, start: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames of the sample clip from frame ``start``."""
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, frame_bgr = capture.read()
        assert ok, f"the sample clip has fewer than {start + count} frames"
        frames.append(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames
