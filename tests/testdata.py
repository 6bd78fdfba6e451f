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
