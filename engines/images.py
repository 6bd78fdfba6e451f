"""RGB images: decoding them from files and bytes, and checking the arrays every model
wrapper takes, with clear errors for bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from posecast.errors import InvalidInputError, PayloadTooLargeError

DEFAULT_MAX_PIXELS = 8192 * 8192
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8"
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})
"""Markers without a length field: TEM, RST0-7, SOI, EOI."""


def check_rgb_image(image: np.ndarray) -> None:
    """Raise InvalidInputError unless ``image`` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidInputError(f"expected a uint8 RGB image, got {getattr(image, 'dtype', image)}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidInputError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, anything OpenCV reads) -> (H, W, 3) uint8 RGB.

    The size is checked before anything is decoded: JPEG and PNG declare it in their header
    (SOF segment, IHDR chunk), so an image of too many pixels costs nothing but reading those
    bytes (a 12000 x 12000 PNG "bomb" of 0.4 MB would otherwise take 430 MB to decode).
    Other formats (local files of the command line) are decoded at 1/8 scale first.

    Raises:
        InvalidInputError: empty, undecodable, or more than ``max_pixels`` pixels.
    """
    if not data:
        raise InvalidInputError("empty image data")
    size_wh = declared_size_wh(data)
    buffer = np.frombuffer(data, dtype=np.uint8)
    if size_wh is None:
        size_wh = _size_from_reduced_decode(buffer)
    width, height = size_wh
    if width * height > max_pixels:
        raise PayloadTooLargeError(
            f"image too large: {width} x {height} pixels, limit {max_pixels} pixels"
        )
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InvalidInputError("image data could not be decoded (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def declared_size_wh(data: bytes) -> tuple[int, int] | None:
    """(width, height) a PNG or JPEG declares in its header; None for other formats.

    Raises:
        InvalidInputError: a PNG or JPEG whose header is truncated or declares no size.
    """
    if data.startswith(PNG_SIGNATURE):
        # The IHDR chunk comes first: length (4), type (4), width (4), height (4), big-endian.
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InvalidInputError("PNG header truncated or without IHDR")
        width, height = struct.unpack(">II", data[16:24])
        return _checked_size(width, height, "PNG")
    if data.startswith(JPEG_SIGNATURE):
        return _jpeg_size_wh(data)
    return None


def _jpeg_size_wh(data: bytes) -> tuple[int, int]:
    """Walk the JPEG segments to the first start-of-frame (SOF0-15 but DHT, JPG, DAC)."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            raise InvalidInputError("JPEG header corrupt: expected a marker")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if offset + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return _checked_size(width, height, "JPEG")
        if marker == 0xDA or length < 2:  # image data before any frame header
            break
        offset += 2 + length
    raise InvalidInputError("JPEG header truncated or without a frame size")


def _checked_size(width: int, height: int, kind: str) -> tuple[int, int]:
    if width == 0 or height == 0:
        raise InvalidInputError(f"{kind} header declares an empty image ({width} x {height})")
    return width, height


def _size_from_reduced_decode(buffer: np.ndarray) -> tuple[int, int]:
    """About the size of an image in a format without a parsed header, from a 1/8 decode."""
    try:
        small = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error as error:
        raise InvalidInputError(f"image data could not be decoded: {error}") from error
    if small is None:
        raise InvalidInputError("image data could not be decoded (corrupt or not an image)")
    return small.shape[1] * 8, small.shape[0] * 8


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
