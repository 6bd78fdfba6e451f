"""RGB images: decoding them from files and bytes, and checking the arrays every model
wrapper takes, with clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from posecast.errors import InvalidInputError

DEFAULT_MAX_PIXELS = 8192 * 8192


def check_rgb_image(image: np.ndarray) -> None:
    """Raise InvalidInputError unless ``image`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidInputError(f"expected a uint8 RGB image, got {getattr(image, 'dtype', image)}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidInputError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, anything OpenCV reads) -> (H, W, 3) uint8 RGB.

    The header is checked before the full decode, so a gigantic image is refused without
    allocating it.

    Raises:
        InvalidInputError: empty, undecodable, or more than ``max_pixels`` pixels.
    """
    if not data:
        raise InvalidInputError("empty image data")
    buffer = np.frombuffer(data, dtype=np.uint8)
    _check_size_from_header(buffer, max_pixels)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InvalidInputError("image data could not be decoded (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _check_size_from_header(buffer: np.ndarray, max_pixels: int) -> None:
    """Refuse images whose header declares more than ``max_pixels`` (decompression bombs)."""
    try:
        # IMREAD_REDUCED_GRAYSCALE_8 decodes at 1/8 scale: cheap, and gives the true size / 8.
        small = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error as error:
        raise InvalidInputError(f"image data could not be decoded: {error}") from error
    if small is None:
        raise InvalidInputError("image data could not be decoded (corrupt or not an image)")
    if small.shape[0] * small.shape[1] * 64 > max_pixels:
        raise InvalidInputError(
            f"image too large: about {small.shape[1] * 8} x {small.shape[0] * 8} pixels, "
            f"limit {max_pixels} pixels"
        )


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB.

    Raises:
        InvalidInputError: missing, unreadable, or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    try:
        return decode_image(path.read_bytes(), max_pixels)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}") from None
