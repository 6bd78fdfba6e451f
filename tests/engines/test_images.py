"""Image decoding: clear errors for everything that is not a sane image."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from posecast.engines.images import declared_size_wh, decode_image, read_image
from posecast.errors import InvalidInputError, PayloadTooLargeError
from testdata import IMAGES_DIR


def test_jpeg_decodes_to_rgb() -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in BGR order
    _, png = cv2.imencode(".png", bgr)
    rgb = decode_image(png.tobytes())
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"definitely not an image", "could not be decoded"),
        ((IMAGES_DIR / "messi5.jpg").read_bytes()[:300], "could not be decoded"),  # truncated
    ],
)
def test_bad_bytes_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_image(data)


def _encoded(suffix: str, height: int, width: int, *params: int) -> bytes:
    ok, encoded = cv2.imencode(suffix, np.zeros((height, width, 3), np.uint8), list(params))
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize(
    ("data", "size_wh"),
    [
        (_encoded(".png", 7, 9), (9, 7)),
        (_encoded(".jpg", 7, 9), (9, 7)),
        (_encoded(".jpg", 33, 17, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), (17, 33)),  # SOF2
        ((IMAGES_DIR / "messi5.jpg").read_bytes(), (548, 342)),  # EXIF/JFIF before SOF0
        (b"BM not parsed", None),  # other formats: no header parsing
    ],
)
def test_declared_size_is_read_from_the_header(data: bytes, size_wh: tuple | None) -> None:
    assert declared_size_wh(data) == size_wh


@pytest.mark.parametrize(
    "data",
    [
        _encoded(".png", 7, 9)[:20],  # IHDR cut short
        _encoded(".jpg", 7, 9)[:12],  # cut before the frame header
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 6 + b"\x12\x34",  # no marker
    ],
)
def test_truncated_headers_are_clear_errors(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match="header"):
        declared_size_wh(data)


def test_gigantic_image_is_refused_from_its_header() -> None:
    # The IHDR of a 30000 x 30000 PNG, and nothing else: decoding would need 2.7 GB.
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4
    with pytest.raises(PayloadTooLargeError, match="30000 x 30000"):
        decode_image(header, max_pixels=1000 * 1000)


def test_read_image_names_the_file(tmp_path) -> None:
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    with pytest.raises(InvalidInputError, match=r"notes\.jpg"):
        read_image(not_image)
    with pytest.raises(InvalidInputError, match="no such file"):
        read_image(tmp_path / "absent.png")
