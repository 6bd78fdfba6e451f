"""The shared part of posecast's detectors: anchor-free heads over stride grids.

A subclass says how one frame becomes an input tensor (``preprocess``), how one item's
outputs become boxes on its canvas (``decode``) and how its outputs are laid out over the
grid cells (``output_strides``); this class letterboxes, batches frames of different sizes at
their common canvas, maps boxes back to frame pixels and suppresses duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import ClassVar, Self

import numpy as np

from posecast.engines.detectors.base import BatchItem, DetectorConfig, PersonBoxes
from posecast.engines.detectors.letterbox import (
    Letterbox,
    boxes_canvas_to_frame,
    check_canvas_size,
    crop_grid_cells,
    letterbox_for_frame,
    letterbox_to_canvas,
    pad_bottom_right,
)
from posecast.engines.geometry.boxes import non_max_suppression
from posecast.engines.images import check_rgb_image
from posecast.engines.runtimes import Runtime, RuntimeOptions
from posecast.engines.runtimes.base import PROFILE_PROVIDERS
from posecast.errors import InvalidInputError, ModelError

WARM_UP_FRAME_WH = (1920, 1080)
"""Frame size whose input ``warm_up`` runs when none is given: the largest usual one."""


class GridPersonDetector:
    """Letterboxing, batching and box mapping for a grid detector (see module docstring).

    Class attributes a subclass sets:
        name: the detector's name (``load_detector``, CLI).
        input_name: the model's input tensor.
        strides_px: the grid strides, in the order the outputs concatenate them.
        smallest_person_input_px: height, in input pixels, of the smallest person the
            model reliably finds (measured, docs/estimation.md); the input size rule
            scales frames so that ``config.min_person_height_px`` becomes this.
        default_max_input_side_px: the cap on the input's longer side when the config
            gives none (where the model's recall on 1080p street frames stops growing).
        is_channels_last: input items are (H, W, C) if True, (C, H, W) if False.
    """

    name: ClassVar[str]
    input_name: ClassVar[str]
    strides_px: ClassVar[tuple[int, ...]] = (8, 16, 32)
    smallest_person_input_px: ClassVar[float]
    default_max_input_side_px: ClassVar[int]
    is_channels_last: ClassVar[bool]

    def __init__(self, runtime: Runtime, config: DetectorConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or DetectorConfig()
        self.check_signature(runtime)
        self.input_size_wh = self._fixed_input_size_wh(runtime)

    def _fixed_input_size_wh(self, runtime: Runtime) -> tuple[int, int] | None:
        """The one input size this detector uses, or None for the input size rule: the
        config's ``input_size_wh``, else the model's own if its input has fixed height and
        width (e.g. a model built before the input became dynamic)."""
        wanted = self.config.input_size_wh
        if wanted is not None:
            check_canvas_size(wanted, self.largest_stride_px)
        (spec,) = (spec for spec in runtime.inputs if spec.name == self.input_name)
        height, width = spec.shape[1:3] if self.is_channels_last else spec.shape[2:4]
        if height is None or width is None:
            return wanted
        if wanted is not None and wanted != (width, height):
            raise ModelError(
                f"{self.name}: the model's input is fixed at {width} x {height} px, the config "
                f"asks for input_size_wh={wanted}"
            )
        return width, height

    @property
    def largest_stride_px(self) -> int:
        return max(self.strides_px)

    @classmethod
    def runtime_options(
        cls, options: RuntimeOptions | None, config: DetectorConfig | None
    ) -> RuntimeOptions:
        """``options`` for this detector's model: TensorRT (native or the onnxruntime EP)
        builds for one input shape, so there the input is ``config.input_size_wh``.

        Raises:
            InvalidInputError: TensorRT without ``input_size_wh``.
        """
        options = options or RuntimeOptions()
        if options.provider not in PROFILE_PROVIDERS:
            return options
        if config is None or config.input_size_wh is None:
            raise InvalidInputError(
                f"provider {options.provider!r} runs the {cls.name} detector at one input size: "
                "set DetectorConfig.input_size_wh (e.g. (640, 384) for 16:9 frames)"
            )
        width, height = config.input_size_wh
        item_shape = (height, width, 3) if cls.is_channels_last else (3, height, width)
        return replace(options, item_shapes=((cls.input_name, item_shape),))

    # -- what a subclass provides ---------------------------------------------------------

    @property
    def pad_value(self) -> np.ndarray:
        """(C,) the input tensor's value for padding (the letterbox colour, preprocessed)."""
        raise NotImplementedError

    def check_signature(self, runtime: Runtime) -> None:
        """Raise ModelError unless ``runtime`` has the inputs and outputs this class decodes."""
        raise NotImplementedError

    def preprocess(self, image_rgb: np.ndarray, letterbox: Letterbox) -> np.ndarray:
        """One (H, W, 3) uint8 RGB frame -> its input tensor (no batch axis) on its canvas."""
        raise NotImplementedError

    def decode(
        self, outputs: Mapping[str, np.ndarray], canvas_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One item's outputs on a canvas -> (K, 4) xyxy canvas-pixel boxes and (K,) person
        scores above the threshold, before NMS."""
        raise NotImplementedError

    def output_strides(self, output_name: str) -> tuple[int, ...]:
        """The strides whose grid cells an output's first axis concatenates."""
        raise NotImplementedError

    # -- input size -----------------------------------------------------------------------

    def input_letterbox(self, frame_size_wh: tuple[int, int]) -> Letterbox:
        """Where a frame of this size goes: into the fixed input size if there is one
        (``config.input_size_wh`` or a fixed-size model), else by the input size rule."""
        if self.input_size_wh is not None:
            return letterbox_to_canvas(frame_size_wh, self.input_size_wh, self.largest_stride_px)
        return letterbox_for_frame(
            frame_size_wh,
            self.config.min_person_height_px,
            self.smallest_person_input_px,
            self.config.max_input_side_px or self.default_max_input_side_px,
            self.largest_stride_px,
        )

    # -- running --------------------------------------------------------------------------

    def detect(self, images_rgb: Sequence[np.ndarray]) -> list[PersonBoxes]:
        """Person boxes of every image, in one model call.

        Frames of different sizes run together at their common canvas (each padded right and
        bottom to the largest width and height among them).

        Raises:
            InvalidInputError: an image that is not (H, W, 3) uint8.
        """
        if not images_rgb:
            return []
        for image in images_rgb:
            check_rgb_image(image)
        letterboxes = [
            self.input_letterbox((image.shape[1], image.shape[0])) for image in images_rgb
        ]
        items = [
            self.preprocess(image, letterbox)
            for image, letterbox in zip(images_rgb, letterboxes, strict=True)
        ]
        canvas_hw = _common_canvas_hw([letterbox.canvas_shape_hw for letterbox in letterboxes])
        batch = np.stack([self._pad_item(item, canvas_hw) for item in items])
        outputs = self.runtime.infer({self.input_name: batch})
        results = []
        for index, letterbox in enumerate(letterboxes):
            item_outputs = self._crop_outputs(
                {name: value[index] for name, value in outputs.items()},
                canvas_hw,
                letterbox.canvas_shape_hw,
            )
            boxes_canvas, scores = self.decode(item_outputs, letterbox.canvas_shape_hw)
            results.append(self.suppress(boxes_canvas_to_frame(boxes_canvas, letterbox), scores))
        return results

    def run_batch(self, items: list[BatchItem]) -> list[dict[str, np.ndarray]]:
        """``DynamicBatcher`` run function over this detector's runtime.

        Items are ``{input_name: tensor}`` on canvases of any sizes (multiples of the
        largest stride); they are padded right/bottom with ``pad_value`` to the batch's
        largest canvas, run in one call, and each item's outputs are cut back to its own
        canvas's grid cells, so every caller gets outputs of the shape it sent.

        Raises:
            InvalidInputError: a missing input or a canvas that is not a stride multiple.
            ModelError: outputs whose cell counts do not match the canvas.
        """
        try:
            tensors = [item[self.input_name] for item in items]
        except KeyError as error:
            raise InvalidInputError(f"batch item without input {self.input_name!r}") from error
        shapes_hw = [self._canvas_hw(tensor) for tensor in tensors]
        canvas_hw = _common_canvas_hw(shapes_hw)
        batch = np.stack([self._pad_item(tensor, canvas_hw) for tensor in tensors])
        outputs = self.runtime.infer({self.input_name: batch})
        for name, value in outputs.items():
            if value.shape[:1] != (len(items),):
                raise ModelError(f"output {name}: expected batch {len(items)}, got {value.shape}")
        return [
            self._crop_outputs(
                {name: value[index] for name, value in outputs.items()}, canvas_hw, item_hw
            )
            for index, item_hw in enumerate(shapes_hw)
        ]

    def with_runtime(self, runtime: Runtime) -> Self:
        """The same detector over another runtime (e.g. a ``BatchedRuntime``)."""
        return type(self)(runtime, self.config)

    def with_config(self, config: DetectorConfig) -> Self:
        """The same model (shared runtime) with other thresholds or input size rule."""
        return type(self)(self.runtime, config)

    def warm_up(
        self, batch_sizes: Sequence[int], frame_size_wh: tuple[int, int] | None = None
    ) -> None:
        """Run every batch size once on the input of ``frame_size_wh`` (default: the fixed
        input size, else a 1920 x 1080 frame's input): a new shape's first run is slow."""
        letterbox = self.input_letterbox(frame_size_wh or WARM_UP_FRAME_WH)
        item = self._pad_item(self._empty_item(), letterbox.canvas_shape_hw)
        for batch_size in batch_sizes:
            self.runtime.infer({self.input_name: np.stack([item] * batch_size)})

    # -- helpers --------------------------------------------------------------------------

    def _empty_item(self) -> np.ndarray:
        """A 0 x 0 item: padded to a canvas, it is all padding."""
        channels = len(self.pad_value)
        return np.zeros((0, 0, channels) if self.is_channels_last else (channels, 0, 0), np.float32)

    def _canvas_hw(self, tensor: np.ndarray) -> tuple[int, int]:
        if tensor.ndim != 3:
            raise InvalidInputError(
                f"{self.input_name}: expected one item (3 axes), got {tensor.shape}"
            )
        height, width = tensor.shape[:2] if self.is_channels_last else tensor.shape[1:]
        check_canvas_size((width, height), self.largest_stride_px)
        return height, width

    def _pad_item(self, tensor: np.ndarray, canvas_hw: tuple[int, int]) -> np.ndarray:
        if self.is_channels_last:
            return pad_bottom_right(tensor, canvas_hw, self.pad_value)
        padded = pad_bottom_right(np.moveaxis(tensor, 0, -1), canvas_hw, self.pad_value)
        return np.ascontiguousarray(np.moveaxis(padded, -1, 0))

    def _crop_outputs(
        self,
        outputs: Mapping[str, np.ndarray],
        from_canvas_hw: tuple[int, int],
        to_canvas_hw: tuple[int, int],
    ) -> dict[str, np.ndarray]:
        try:
            return {
                name: crop_grid_cells(
                    value, from_canvas_hw, to_canvas_hw, self.output_strides(name)
                )
                for name, value in outputs.items()
            }
        except InvalidInputError as error:
            raise ModelError(f"{self.name}: outputs do not match the input: {error}") from error

    def suppress(self, boxes_xyxy: np.ndarray, scores: np.ndarray) -> PersonBoxes:
        """Candidate boxes (one per grid cell above the threshold) -> persons: empty boxes
        dropped, NMS, the ``max_persons`` best kept (cut after NMS).
        """
        has_area = (boxes_xyxy[:, 2] > boxes_xyxy[:, 0]) & (boxes_xyxy[:, 3] > boxes_xyxy[:, 1])
        boxes_xyxy = boxes_xyxy[has_area].astype(np.float32)
        scores = scores[has_area].astype(np.float32)
        kept = non_max_suppression(
            boxes_xyxy,
            scores,
            self.config.nms_iou_threshold,
            self.config.score_threshold,
            self.config.max_persons,
        )
        return PersonBoxes(boxes_xyxy[kept], scores[kept])


def _common_canvas_hw(shapes_hw: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The smallest canvas holding every one: the largest height and the largest width."""
    return max(height for height, _ in shapes_hw), max(width for _, width in shapes_hw)
