"""Model speed on this machine: detector ms per frame, pose and alignment ms per crop by batch.

All figures come from one run, so they are comparable with each other (not across machines).

    python benchmarks/bench_models.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from clip import read_frames

from posecast.engines.assets import model_path
from posecast.engines.blazepose import BlazePoseLandmarkModel
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.geometry.rois import roi_from_box
from posecast.engines.runtimes import RuntimeOptions, create_runtime, warm_up

CLIP = Path(__file__).parent.parent / "samples" / "vtest_excerpt.mp4"
BATCH_SIZES = (1, 4, 8, 16)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    options = RuntimeOptions(intra_op_threads=args.threads)
    frames = read_frames(str(CLIP), 10)
    detector = NanoDetPersonDetector(create_runtime(model_path("nanodet_416"), options))
    warm_up(detector.runtime, [1])
    detect_ms = median_ms(lambda: [detector.detect([frame]) for frame in frames], args.repeats)
    print(f"detector nanodet_416: {detect_ms / len(frames):.1f} ms per frame (768 x 576)")

    # Real person crops from the clip, repeated up to the largest batch.
    boxes = [box for frame in frames for box in detector.detect([frame])[0].boxes_xyxy[:2]]
    crops = np.concatenate(
        [
            BlazePoseLandmarkModel(None).preprocess(frame, roi_from_box(box[None]))  # type: ignore[arg-type]
            for frame, box in zip(frames, boxes, strict=False)
        ]
    )
    crops = np.resize(crops, (max(BATCH_SIZES), *crops.shape[1:]))
    print("| model | " + " | ".join(f"batch {size}" for size in BATCH_SIZES) + " |")
    print("|---|" + "---|" * len(BATCH_SIZES))
    for variant in ("lite", "full"):
        runtime = create_runtime(model_path(f"pose_landmark_{variant}"), options)
        warm_up(runtime, BATCH_SIZES)
        cells = []
        for size in BATCH_SIZES:
            batch = crops[:size]
            total_ms = median_ms(
                lambda batch=batch, runtime=runtime: runtime.infer({"image": batch}), args.repeats
            )
            cells.append(f"{total_ms / size:.1f} ms/crop")
        print(f"| pose_landmark_{variant} | " + " | ".join(cells) + " |")
    aligner = create_runtime(model_path("pose_detection"), options)
    warm_up(aligner, BATCH_SIZES)
    cells = []
    for size in BATCH_SIZES:
        batch = np.zeros((size, 224, 224, 3), np.float32)
        total_ms = median_ms(lambda batch=batch: aligner.infer({"image": batch}), args.repeats)
        cells.append(f"{total_ms / size:.1f} ms/crop")
    print("| pose_detection (alignment) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
