"""NanoDet person detector on real images."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.detector import DetectorConfig
from posecast.errors import InvalidInputError
from testdata import read_rgb


@pytest.mark.parametrize(
    "image_name, persons",
    [
        ("vtest_frame000.jpg", 3),  # hand-counted, tests/data/images/README.md
        ("vtest_frame300.jpg", 6),
        ("vtest_frame450.jpg", 3),
        ("basketball1_left.jpg", 1),
    ],
)
def test_finds_the_hand_counted_persons(detector, image_name, persons) -> None:
    (boxes,) = detector.detect([read_rgb(image_name)])
    # At most one extra low-score box (frame 450: a traffic cone, score 0.38); BlazePose's
    # presence check removes it (tests/engines/test_estimator.py counts persons end to end).
    assert persons <= len(boxes) <= persons + 1
    assert np.sum(boxes.scores > 0.5) == persons
    heights = boxes.boxes_xyxy[:, 3] - boxes.boxes_xyxy[:, 1]
    widths = boxes.boxes_xyxy[:, 2] - boxes.boxes_xyxy[:, 0]
    assert np.all(heights > widths), "person boxes are taller than wide"
    assert np.all((boxes.scores >= 0.35) & (boxes.scores <= 1.0))


def test_batch_gives_the_same_boxes_as_single_images(detector) -> None:
    images = [read_rgb("vtest_frame000.jpg"), read_rgb("messi5.jpg")]
    batched = detector.detect(images)
    for image, together in zip(images, batched, strict=True):
        (alone,) = detector.detect([image])
        np.testing.assert_allclose(together.boxes_xyxy, alone.boxes_xyxy, atol=1e-2)


def test_boxes_are_in_image_pixels_of_any_size(detector) -> None:
    image = read_rgb("vtest_frame300.jpg")
    (full,) = detector.detect([image])
    (half,) = detector.detect([image[::2, ::2].copy()])
    assert len(half) >= len(full) - 1
    # every half-size box lies on a full-size box at half the coordinates
    for box in half.boxes_xyxy:
        distance = np.abs(full.boxes_xyxy / 2 - box).max(axis=1).min()
        assert distance < 4.0


def test_blank_image_has_no_persons(detector) -> None:
    (boxes,) = detector.detect([np.full((480, 640, 3), 127, np.uint8)])
    assert len(boxes) == 0 and boxes.boxes_xyxy.shape == (0, 4)


def test_higher_threshold_keeps_a_subset(detector_runtime) -> None:
    from posecast.engines.detector import NanoDetPersonDetector

    image = read_rgb("vtest_frame300.jpg")
    (loose,) = NanoDetPersonDetector(detector_runtime, DetectorConfig(0.3)).detect([image])
    (strict,) = NanoDetPersonDetector(detector_runtime, DetectorConfig(0.7)).detect([image])
    assert len(strict) < len(loose)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 10, 3), np.uint8),  # zero-size
        np.zeros((10, 10), np.uint8),  # grey
        np.zeros((10, 10, 3), np.float32),  # not uint8
        np.zeros((10, 10, 4), np.uint8),  # RGBA
    ],
)
def test_bad_images_are_clear_errors(detector, bad) -> None:
    with pytest.raises(InvalidInputError):
        detector.detect([bad])


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="score_threshold"):
        DetectorConfig(score_threshold=1.5)
