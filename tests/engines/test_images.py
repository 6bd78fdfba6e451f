"""Image decoding: clear errors for everything that is not a sane image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posecast.engines.images import decode_image, read_image
from posecast.errors import InvalidInputError
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


def test_gigantic_image_is_refused_before_decoding() -> None:
    _, png = cv2.imencode(".png", np.zeros((4000, 4000), np.uint8))
    with pytest.raises(InvalidInputError, match="too large"):
        decode_image(png.tobytes(), max_pixels=1000 * 1000)


def test_read_image_names_the_file(tmp_path) -> None:
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    with pytest.raises(InvalidInputError, match=r"notes\.jpg"):
        read_image(not_image)
    with pytest.raises(InvalidInputError, match="no such file"):
        read_image(tmp_path / "absent.png")
