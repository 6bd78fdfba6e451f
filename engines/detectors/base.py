"""What every person detector provides: the boxes record, the thresholds and input size rule,
and the ``PersonDetector`` protocol the estimator and the service program against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from posecast.engines.detectors.letterbox import Letterbox
from posecast.engines.runtimes import Runtime, TensorSpec
from posecast.errors import InvalidInputError

BatchItem = Mapping[str, np.ndarray]


def describe_specs(specs: Sequence[TensorSpec]) -> str:
    """``name dtype shape`` of each tensor, for errors that say what a model has."""
    return ", ".join(f"{spec.name} {np.dtype(spec.dtype).name} {spec.shape}" for spec in specs)


@dataclass(frozen=True)
class DetectorConfig:
    """Person detection thresholds and the detector's input size.

    The input size rule (``posecast.engines.detectors.letterbox``): the frame is shrunk so
    that a person ``min_person_height_px`` tall becomes as tall as the smallest person the
    model finds in its input (``smallest_person_input_px``: 40 px for NanoDet, 48 px for
    YOLOX-Nano, where their recall of visible MOT17 pedestrians passes half its plateau;
    it reaches about 0.8 from 48-64 px up), never enlarged, its longer side capped at
    ``max_input_side_px``, placed top-left on a canvas rounded up to multiples of the
    model's largest stride (32 px), padded right and bottom. With the defaults NanoDet runs
    1920 x 1080 frames at 768 x 448, 1280 x 720 at 640 x 384, 1024 x 576 at 512 x 288 and
    768 x 576 (PETS09) at 384 x 288; YOLOX-Nano runs 1920 x 1080 at 960 x 544 and
    1280 x 720 at 768 x 448 (docs/estimation.md, "Detectors", has the measurements).

    Attributes:
        score_threshold: minimum person score; lower finds more distant or occluded people
            and more false boxes (BlazePose's presence check removes most of those).
        nms_iou_threshold: boxes overlapping more than this are merged; higher keeps
            people who stand close together apart, and more duplicates.
        max_persons: keep at most this many boxes per image (highest scores, after NMS).
        min_person_height_px: height in FRAME pixels of the smallest person to find. Lower
            finds smaller (more distant) people with a larger input: detector time grows
            with the input's area, about 1 / this squared, until ``max_input_side_px`` caps
            it. Raise it for close-up scenes (studio, webcam) to save time.
        max_input_side_px: cap on the longer side of the resized frame, input pixels; None:
            the detector's own (``default_max_input_side_px``: NanoDet 768, YOLOX-Nano 960,
            where their recall on 1080p street frames stops growing). Bounds detector time
            and memory for large frames; raising it finds smaller people in 720p and larger
            frames at quadratic cost.
        input_size_wh: a fixed detector input (width, height) in pixels, multiples of 32,
            instead of the rule: every frame is fitted into it (shrunk or enlarged, aspect
            kept). Needed where the engine has one input size (TensorRT); None: the rule.
    """

    score_threshold: float = 0.35
    nms_iou_threshold: float = 0.45
    max_persons: int = 64
    min_person_height_px: float = 80.0
    max_input_side_px: int | None = None
    input_size_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0:
            raise InvalidInputError(
                f"score_threshold must be in (0, 1), got {self.score_threshold}"
            )
        if not 0.0 < self.nms_iou_threshold <= 1.0:
            raise InvalidInputError(
                f"nms_iou_threshold must be in (0, 1], got {self.nms_iou_threshold}"
            )
        if self.max_persons < 1:
            raise InvalidInputError(f"max_persons must be >= 1, got {self.max_persons}")
        if not self.min_person_height_px > 0:
            raise InvalidInputError(
                f"min_person_height_px must be > 0, got {self.min_person_height_px}"
            )
        if self.max_input_side_px is not None and self.max_input_side_px < 32:
            raise InvalidInputError(
                f"max_input_side_px must be >= 32, got {self.max_input_side_px}"
            )
        if self.input_size_wh is not None:
            size = tuple(self.input_size_wh)
            if len(size) != 2 or not all(isinstance(side, int) and side > 0 for side in size):
                raise InvalidInputError(
                    f"input_size_wh must be (width, height) in pixels, got {self.input_size_wh}"
                )
            object.__setattr__(self, "input_size_wh", size)


def parse_input_size_wh(text: str) -> tuple[int, int]:
    """``"960x544"`` -> (960, 544): a detector input size as users write it.

    Raises:
        InvalidInputError: not two positive integers joined by ``x``.
    """
    width, separator, height = text.strip().lower().partition("x")
    if not separator or not width.isdigit() or not height.isdigit():
        raise InvalidInputError(
            f"expected an input size WIDTHxHEIGHT such as 960x544, got {text!r}"
        )
    size = (int(width), int(height))
    if min(size) <= 0:
        raise InvalidInputError(f"input size must be positive, got {text!r}")
    return size


@dataclass(frozen=True)
class PersonBoxes:
    """Persons of one image.

    Attributes:
        boxes_xyxy: (N, 4) float32 boxes in image pixels.
        scores: (N,) float32 person scores in [0, 1], best first after NMS.
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.boxes_xyxy.ndim != 2 or self.boxes_xyxy.shape[1] != 4:
            raise InvalidInputError(f"boxes_xyxy: expected (N, 4), got {self.boxes_xyxy.shape}")
        if self.scores.shape != (len(self.boxes_xyxy),):
            raise InvalidInputError(
                f"scores: expected ({len(self.boxes_xyxy)},), got {self.scores.shape}"
            )

    @classmethod
    def empty(cls) -> PersonBoxes:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.scores)


class PersonDetector(Protocol):
    """A person detector as the estimator and the service use it.

    ``detect`` runs a batch of frames (any sizes) in one ``runtime.infer`` call. For a shared
    dynamic batcher, give the batcher ``run_batch`` (it pads the items of a batch to their
    common canvas and cuts each result back) and the estimator ``with_runtime(batched)``.
    """

    name: str
    """The detector's name, as ``load_detector`` and the CLI take it."""
    runtime: Runtime
    config: DetectorConfig
    input_name: str
    strides_px: tuple[int, ...]

    def input_letterbox(self, frame_size_wh: tuple[int, int]) -> Letterbox:
        """Where a frame of this size goes in the detector input (the input size rule)."""
        ...

    def detect(self, images_rgb: Sequence[np.ndarray]) -> list[PersonBoxes]:
        """Person boxes of every (H, W, 3) uint8 RGB image, in its own pixels."""
        ...

    def run_batch(self, items: list[BatchItem]) -> list[dict[str, np.ndarray]]:
        """``DynamicBatcher`` run function: per-item inputs of any canvas sizes -> per-item
        outputs, each for its own canvas."""
        ...

    def with_runtime(self, runtime: Runtime) -> PersonDetector:
        """The same detector (config, decoding) over another runtime, e.g. a batched one."""
        ...

    def with_config(self, config: DetectorConfig) -> PersonDetector:
        """The same model (shared runtime) with other thresholds or input size rule."""
        ...

    def warm_up(
        self, batch_sizes: Sequence[int], frame_size_wh: tuple[int, int] | None = None
    ) -> None:
        """Run every batch size once at the input size of ``frame_size_wh``."""
        ...
