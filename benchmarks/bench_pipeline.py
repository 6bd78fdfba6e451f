"""Full pipeline speed on the pedestrian video, relative to its native frame rate.

For each pose model (lite, full) and detection interval (every frame, every 3rd frame: speed
mode), runs the tracked pipeline over the same frames and prints processed frames/s, the
ratio to the video's native 10 fps, the time split per stage, and, for speed mode, what it
costs in accuracy against detecting every frame (persons found, 2D offset of the same
persons). One run, so the rows compare.

    python benchmarks/bench_pipeline.py [VIDEO] [--frames N] [--threads T]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from clip import read_frames

from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.runtimes import RuntimeOptions, warm_up
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame

CLIP = Path(__file__).parent.parent / "samples" / "vtest_excerpt.mp4"
NATIVE_FPS = 10.0


def run_stream(estimator: PoseEstimator, frames: list[np.ndarray], detect_every: int):
    pipeline = StreamPipeline(estimator, StreamConfig(detect_every=detect_every))
    results: list[TrackedFrame] = []
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        results.append(pipeline.process(frame, index / NATIVE_FPS))
    return results, time.perf_counter() - start


def visible_persons(frame: TrackedFrame) -> np.ndarray:
    """2D joints of the persons estimated in this frame (not predicted searching tracks)."""
    poses = frame.poses
    return poses.joints2d_px[~np.isin(poses.track_states, ["searching", "terminated"])]


def accuracy_against(
    reference: list[TrackedFrame], fast: list[TrackedFrame]
) -> tuple[float, float]:
    """Share of reference persons found in speed mode, and median 2D offset (px) of those."""
    found, total, offsets = 0, 0, []
    for ref_frame, fast_frame in zip(reference, fast, strict=True):
        ref, got = visible_persons(ref_frame), visible_persons(fast_frame)
        total += len(ref)
        for joints in ref:
            if len(got) == 0:
                continue
            distance = np.linalg.norm(got - joints, axis=-1).mean(axis=1).min()
            height_px = np.ptp(joints[:, 1])
            if distance < 0.25 * height_px:
                found += 1
                offsets.append(distance)
    return found / max(total, 1), float(np.median(offsets)) if offsets else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=CLIP)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    frames = read_frames(str(args.video), args.frames)
    options = RuntimeOptions(intra_op_threads=args.threads)
    print(
        f"video {args.video}: {len(frames)} frames, native {NATIVE_FPS:.0f} fps, "
        f"{args.threads} threads"
    )
    print(
        "| model | detect every | frames/s | x real time | ms/frame detect / pose / "
        "geometry / track | persons/frame | persons found vs every frame | median 2D "
        "offset (px) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for model in ("lite", "full"):
        estimator = PoseEstimator.from_config(EstimatorConfig(pose_model=model), options)
        warm_up(estimator.detector.runtime, [1])
        warm_up(estimator.pose_model.runtime, range(1, 9))
        reference: list[TrackedFrame] = []
        for detect_every in (1, 3):
            results, elapsed_s = run_stream(estimator, frames, detect_every)
            stage_ms: dict[str, float] = defaultdict(float)
            for result in results:
                for stage, ms in result.timing_ms.items():
                    stage_ms[stage] += ms / len(results)
            fps = len(results) / elapsed_s
            persons = np.mean([len(visible_persons(result)) for result in results])
            if detect_every == 1:
                reference, recall, offset = results, 1.0, 0.0
            else:
                recall, offset = accuracy_against(reference, results)
            stages = " / ".join(
                f"{stage_ms[s]:.1f}" for s in ("detect", "pose", "geometry", "track")
            )
            print(
                f"| {model} | {detect_every} | {fps:.1f} | {fps / NATIVE_FPS:.2f} | {stages} | "
                f"{persons:.1f} | {recall:.1%} | {offset:.2f} |"
            )


if __name__ == "__main__":
    main()
