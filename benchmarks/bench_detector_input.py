"""Person detection against detector input size: recall, precision and time per frame.

On the MOT17 street frames of the development data (``DATA/mot17/MOT17-*/img1`` with
``gt/gt.txt``), at their own 1920 x 1080 and resized to 1280 x 720 and 1024 x 576 (labels
scaled alike), and on PETS09-S2L1 (768 x 576, every 10th of frames 1-250 of
``DATA/../vtest.avi``): NanoDet stretched to 416 x 416 (the detector input before
letterboxing, the anchor), NanoDet letterboxed with the longer side capped at several sizes,
YOLOX-Nano at the same sizes (with ``--yolox FILE``, the official export; it is prepared in a
temporary directory, which needs the onnx package), the defaults (``DetectorConfig()``), and
MOT17's public Faster R-CNN detections (det.txt, 1080p only). Scores at IoU 0.5 by
``realdata.detection``: recall of all counted persons, recall of the visible ones (visibility
>= 0.5; PETS09 labels none), precision with predictions on don't-care boxes (MOT17 classes 2,
7, 8, 12; PETS09 ``consider == 0``) left out. Time: the detector's ``detect`` on one frame,
one onnxruntime thread, median over the frames. A second table gives the recall of visible
MOT17 persons by their height in detector-input pixels (what ``smallest_person_input_px`` of
each detector is read from).

    python benchmarks/bench_detector_input.py --data ../shared/data/real [--yolox FILE]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from realdata.detection import FrameMatch, match_frame, score_detections
from realdata.mot import load_mot17, load_pets09
from realdata.pipeline import sequence_images

from posecast.engines.assets import model_path
from posecast.engines.detectors.base import DetectorConfig, PersonDetector
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.runtimes import RuntimeOptions, create_runtime

MOT17_SIZES_WH = ((1920, 1080), (1280, 720), (1024, 576))
INPUT_SIDES_PX = (416, 512, 640, 768, 960, 1280)
PETS09_EVERY = 10
HEIGHT_BINS_PX = (0, 16, 24, 32, 40, 48, 64, 96, 10_000)
ONE_THREAD = RuntimeOptions(provider="cpu", intra_op_threads=1, inter_op_threads=1)


@dataclass(frozen=True)
class Frame:
    """One labelled frame: image (RGB) and labels (xyxy pixels)."""

    image_rgb: np.ndarray
    target_xyxy: np.ndarray  # (G, 4)
    target_is_visible: np.ndarray  # (G,)
    dont_care_xyxy: np.ndarray  # (D, 4)
    public_xyxy: np.ndarray  # (P, 4) det.txt, empty where there is none
    public_scores: np.ndarray  # (P,)

    def match(self, boxes_xyxy: np.ndarray, scores: np.ndarray) -> FrameMatch:
        return match_frame(
            boxes_xyxy, scores, self.target_xyxy, self.dont_care_xyxy, self.target_is_visible
        )


def load_frames(root: Path) -> tuple[list[Frame], list[Frame]]:
    """The MOT17 frames and every PETS09_EVERY-th PETS09 frame."""
    mot17 = []
    for sequence in load_mot17(root):
        for number, image in sequence_images(sequence):
            truth = sequence.truth[number]
            public = sequence.detections[number] if sequence.detections else None
            mot17.append(
                Frame(
                    image,
                    truth.target_xyxy,
                    truth.is_visible,
                    truth.dont_care_xyxy,
                    public.boxes_xyxy if public else np.zeros((0, 4)),
                    public.scores if public else np.zeros(0),
                )
            )
    pets = load_pets09(root)
    wanted = pets.frames[::PETS09_EVERY]
    pets = type(pets)(**{**pets.__dict__, "frames": wanted})
    pets09 = [
        Frame(
            image,
            pets.truth[number].target_xyxy,
            pets.truth[number].is_visible,
            pets.truth[number].dont_care_xyxy,
            np.zeros((0, 4)),
            np.zeros(0),
        )
        for number, image in sequence_images(pets)
    ]
    return mot17, pets09


def resized(frame: Frame, size_wh: tuple[int, int]) -> Frame:
    """The frame and its labels at another size."""
    height, width = frame.image_rgb.shape[:2]
    if (width, height) == size_wh:
        return frame
    scale = np.tile(np.array(size_wh, np.float64) / (width, height), 2)
    return Frame(
        cv2.resize(frame.image_rgb, size_wh, interpolation=cv2.INTER_AREA),
        frame.target_xyxy * scale,
        frame.target_is_visible,
        frame.dont_care_xyxy * scale,
        frame.public_xyxy * scale,
        frame.public_scores,
    )


@dataclass
class HeightTally:
    """Visible targets found / present per input-pixel height bin, over frames and runs."""

    found: np.ndarray = field(default_factory=lambda: np.zeros(len(HEIGHT_BINS_PX) - 1, int))
    total: np.ndarray = field(default_factory=lambda: np.zeros(len(HEIGHT_BINS_PX) - 1, int))

    def add(self, frame: Frame, match: FrameMatch, input_scale: float) -> None:
        heights = (frame.target_xyxy[:, 3] - frame.target_xyxy[:, 1]) * input_scale
        bins = np.digitize(heights[match.is_visible], HEIGHT_BINS_PX) - 1
        np.add.at(self.total, bins, 1)
        np.add.at(self.found, bins, match.is_found[match.is_visible].astype(int))


Run = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def detector_run(detector: PersonDetector) -> Run:
    def run(image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (boxes,) = detector.detect([image_rgb])
        return boxes.boxes_xyxy, boxes.scores

    return run


def stretched_run(detector: PersonDetector, size_px: int) -> Run:
    """The detector input before letterboxing: the frame stretched to a square."""

    def run(image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image_rgb.shape[:2]
        square = cv2.resize(image_rgb, (size_px, size_px), interpolation=cv2.INTER_LINEAR)
        (boxes,) = detector.detect([square])
        scale = np.array([width, height, width, height], np.float32) / size_px
        return boxes.boxes_xyxy * scale, boxes.scores

    return run


def measure(
    frames: list[Frame], run: Run, input_scale: float, heights: HeightTally | None = None
) -> tuple[str, float]:
    """Score a detector over frames: the table cells, and the median ms per frame."""
    run(frames[0].image_rgb)  # warm-up: first run of a shape is slow
    matches, times_ms = [], []
    for frame in frames:
        start = time.perf_counter()
        boxes_xyxy, scores = run(frame.image_rgb)
        times_ms.append((time.perf_counter() - start) * 1e3)
        matches.append(frame.match(boxes_xyxy, scores))
        if heights is not None:
            heights.add(frame, matches[-1], input_scale)
    return cells(matches), statistics.median(times_ms)


def cells(matches: list[FrameMatch]) -> str:
    scores = score_detections(matches)
    return f"{scores.recall:.2f} | {scores.recall_visible:.2f} | {scores.precision:.2f}"


def configs(
    detectors: dict[str, Callable[[DetectorConfig], PersonDetector]],
    frame_size_wh: tuple[int, int],
) -> Iterator[tuple[str, str, Run, float]]:
    """(detector, input, run, input pixels per frame pixel) of every row for one frame size."""
    nanodet = detectors["nanodet"](DetectorConfig(input_size_wh=(416, 416)))
    yield "nanodet", "416x416 stretched", stretched_run(nanodet, 416), 416 / frame_size_wh[1]
    for make in detectors.values():
        for side_px in INPUT_SIDES_PX:
            if side_px > max(frame_size_wh):
                continue
            # A tiny min_person_height_px: the cap on the longer side sets the size.
            config = DetectorConfig(min_person_height_px=1.0, max_input_side_px=side_px)
            yield row(make(config), frame_size_wh)
        yield row(make(DetectorConfig()), frame_size_wh, "default ")


def row(
    detector: PersonDetector, frame_size_wh: tuple[int, int], label: str = ""
) -> tuple[str, str, Run, float]:
    """(detector, input, run, input pixels per frame pixel) of a detector as configured."""
    letterbox = detector.input_letterbox(frame_size_wh)
    width, height = letterbox.canvas_size_wh
    scale = float(letterbox.scale_xy[1])
    return detector.name, f"{label}{width}x{height}", detector_run(detector), scale


def yolox_maker(source: Path, work_dir: Path) -> Callable[[DetectorConfig], PersonDetector]:
    from posecast.engines.detectors.yolox import (
        SOURCE_FILE,
        YoloxPersonDetector,
        load_yolox_nano,
        prepare_yolox_nano,
    )

    shutil.copy(source, work_dir / SOURCE_FILE)
    prepare_yolox_nano(work_dir)
    runtime = load_yolox_nano(work_dir, ONE_THREAD).runtime
    return lambda config: YoloxPersonDetector(runtime, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the real-data root")
    parser.add_argument("--yolox", type=Path, help="the official yolox_nano.onnx")
    args = parser.parse_args()
    mot17, pets09 = load_frames(args.data)
    nanodet_runtime = create_runtime(model_path("nanodet_416"), ONE_THREAD)
    detectors: dict[str, Callable[[DetectorConfig], PersonDetector]] = {
        "nanodet": lambda config: NanoDetPersonDetector(nanodet_runtime, config)
    }
    with tempfile.TemporaryDirectory(prefix="posecast-yolox-") as work_dir:
        if args.yolox is not None:
            detectors["yolox-nano"] = yolox_maker(args.yolox, Path(work_dir))
        print(f"{len(mot17)} MOT17 frames, {len(pets09)} PETS09 frames, IoU 0.5, one thread")
        print("| frames | detector | input | recall | recall visible | precision | ms/frame |")
        print("|---|---|---|---|---|---|---|")
        heights = {name: HeightTally() for name in detectors}
        sets = [(f"MOT17 {w}x{h}", [resized(f, (w, h)) for f in mot17]) for w, h in MOT17_SIZES_WH]
        for label, frames in [*sets, ("PETS09 768x576", pets09)]:
            if label.startswith("MOT17 1920"):
                matches = [f.match(f.public_xyxy, f.public_scores) for f in frames]
                print(f"| {label} | det.txt (Faster R-CNN) | - | {cells(matches)} | - |")
            height, width = frames[0].image_rgb.shape[:2]
            for name, input_label, run, scale in configs(detectors, (width, height)):
                is_swept = label.startswith("MOT17") and " " not in input_label
                tally = heights[name] if is_swept else None
                table_cells, ms = measure(frames, run, scale, tally)
                print(
                    f"| {label} | {name} | {input_label} | {table_cells} | {ms:.0f} |", flush=True
                )
        print("\nrecall of visible MOT17 persons by height in detector-input pixels (letterboxed)")
        edges = HEIGHT_BINS_PX
        names = [f"{edges[i]}-{edges[i + 1]}" for i in range(len(edges) - 2)] + [f">={edges[-2]}"]
        print("| detector | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for name, tally in heights.items():
            values = [
                f"{found / count:.2f} ({count})" if count else "-"
                for found, count in zip(tally.found, tally.total, strict=True)
            ]
            print(f"| {name} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
