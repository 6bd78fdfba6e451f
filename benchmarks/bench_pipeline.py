"""Full pipeline speed on the pedestrian video, relative to its native frame rate: the default
estimator against the previous default, detecting every frame and in speed mode, in one run.

For each estimator (the default, and the previous default of commit f523c37: docs/estimation.md
"Finding every person"), pose model and detection interval (every frame; every K-th frame:
speed mode, where the detector, the pose detector and the pose search run only on detection
frames and everyone known is followed by the ROI from their own landmarks in between), runs
the tracked pipeline over the same frames and prints processed frames/s, the ratio to the
video's native 10 fps, the time split per stage and, for speed mode, what it costs against
detecting every frame with the same estimator: persons found, their 2D offset, and how late
people who enter are found (frames from a track's first frame in the every-frame run until
speed mode has a person there; at most K - 1 where speed mode keeps its promise).

    python benchmarks/bench_pipeline.py [VIDEO] [--frames N] [--threads T] [--every K]
        [--models full,lite]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from clip import read_frames
from realdata.pipeline import previous_default_config

from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.frames import UNTRACKED_ID
from posecast.engines.runtimes import RuntimeOptions, warm_up
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame

CLIP = Path(__file__).parent.parent / "samples" / "vtest_excerpt.mp4"
NATIVE_FPS = 10.0
SAME_PERSON_HEIGHTS = 0.25
"""Two persons are the same when their joints are this many person heights apart, or less."""
ESTIMATORS: dict[str, Callable[[str], EstimatorConfig]] = {
    "previous (f523c37)": lambda model: replace(previous_default_config(), pose_model=model),
    "default": lambda model: EstimatorConfig(pose_model=model),
}


def run_stream(
    estimator: PoseEstimator, frames: list[np.ndarray], detect_every: int
) -> tuple[list[TrackedFrame], float]:
    pipeline = StreamPipeline(estimator, StreamConfig(detect_every=detect_every))
    results: list[TrackedFrame] = []
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        results.append(pipeline.process(frame, index / NATIVE_FPS))
    return results, time.perf_counter() - start


def _nearest_distance_px(joints: np.ndarray, others: np.ndarray) -> float:
    """Mean joint distance from (J, 2) ``joints`` to the nearest of (M, J, 2) ``others``."""
    if len(others) == 0:
        return float("inf")
    return float(np.linalg.norm(others - joints, axis=-1).mean(axis=1).min())


def _is_found(joints: np.ndarray, others: np.ndarray) -> bool:
    return _nearest_distance_px(joints, others) < SAME_PERSON_HEIGHTS * np.ptp(joints[:, 1])


def accuracy_against(
    reference: list[TrackedFrame], fast: list[TrackedFrame]
) -> tuple[float, float]:
    """Share of reference persons found in speed mode, and median 2D offset (px) of those."""
    found, total, offsets = 0, 0, []
    for ref_frame, fast_frame in zip(reference, fast, strict=True):
        got = fast_frame.poses.joints2d_px
        total += len(ref_frame.poses)
        for joints in ref_frame.poses.joints2d_px:
            if _is_found(joints, got):
                found += 1
                offsets.append(_nearest_distance_px(joints, got))
    return found / max(total, 1), float(np.median(offsets)) if offsets else float("nan")


def entry_delays(reference: list[TrackedFrame], fast: list[TrackedFrame]) -> list[int]:
    """Per track of the reference run (first frame after the first, so that it entered): the
    frames until speed mode has a person on it (the track's length if never)."""
    first_seen: dict[int, int] = {}
    for index, frame in enumerate(reference):
        for track_id in frame.poses.track_ids:
            if track_id != UNTRACKED_ID:
                first_seen.setdefault(int(track_id), index)
    delays = []
    for track_id, start in first_seen.items():
        if start == 0:
            continue
        delay = 0
        for index in range(start, len(reference)):
            rows = np.flatnonzero(reference[index].poses.track_ids == track_id)
            if len(rows) == 0:
                continue
            joints = reference[index].poses.joints2d_px[rows[0]]
            if _is_found(joints, fast[index].poses.joints2d_px):
                break
            delay += 1
        delays.append(delay)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=CLIP)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=3, help="speed mode's K (default 3)")
    parser.add_argument("--models", default="full", help="pose models, comma-separated")
    args = parser.parse_args()
    frames = read_frames(str(args.video), args.frames)
    options = RuntimeOptions(intra_op_threads=args.threads, inter_op_threads=1)
    print(
        f"video {args.video}: {len(frames)} frames, native {NATIVE_FPS:.0f} fps, "
        f"{args.threads} thread(s), speed mode K = {args.every}"
    )
    print(
        "| estimator | model | detect every | frames/s | x real time | ms/frame detect / pose"
        " / geometry / track | persons/frame | persons found vs every frame | median 2D "
        "offset (px) | entries found within K frames | worst entry delay (frames) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for name, config_for in ESTIMATORS.items():
            estimator = PoseEstimator.from_config(config_for(model), options)
            estimator.detector.warm_up([1], frames[0].shape[1::-1])
            warm_up(estimator.pose_model.runtime, range(1, 9))
            if estimator.aligner is not None:
                warm_up(estimator.aligner.runtime, range(1, 9))
            reference: list[TrackedFrame] = []
            for detect_every in (1, args.every):
                results, elapsed_s = run_stream(estimator, frames, detect_every)
                stage_ms: dict[str, float] = defaultdict(float)
                for result in results:
                    for stage, ms in result.timing_ms.items():
                        stage_ms[stage] += ms / len(results)
                fps = len(results) / elapsed_s
                persons = np.mean([len(result.poses) for result in results])
                entries = "-"
                worst = "-"
                if detect_every == 1:
                    reference, recall, offset = results, 1.0, 0.0
                else:
                    recall, offset = accuracy_against(reference, results)
                    delays = entry_delays(reference, results)
                    if delays:
                        within = np.mean(np.array(delays) <= detect_every - 1)
                        entries, worst = f"{within:.0%} of {len(delays)}", str(max(delays))
                stages = " / ".join(
                    f"{stage_ms[s]:.1f}" for s in ("detect", "pose", "geometry", "track")
                )
                print(
                    f"| {name} | {model} | {detect_every} | {fps:.1f} | {fps / NATIVE_FPS:.2f} "
                    f"| {stages} | {persons:.1f} | {recall:.1%} | {offset:.2f} | {entries} "
                    f"| {worst} |"
                )


if __name__ == "__main__":
    main()
