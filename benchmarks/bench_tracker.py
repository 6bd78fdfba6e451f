"""Tracker vs a greedy nearest-root baseline on synthetic scenes, and update time per frame
(with and without appearance descriptors, and the time to compute those descriptors).

Scores with py-motmetrics (MOTA, IDF1, ID switches, fragmentations): a hypothesis matches a
ground-truth person when their pelvis (root) positions are within 0.5 m in 3D. The tracker's
hypotheses are its confirmed tracks and its searching tracks' predicted poses while in view;
the baseline's are all its matched detections.

    python benchmarks/bench_tracker.py           # 3 levels x 6 scenes of 10 s (about a minute)
    python benchmarks/bench_tracker.py --quick   # a few seconds
    python benchmarks/bench_tracker.py --before a5c0eeb   # also time an older tracker
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import motmetrics as mm
import numpy as np

from posecast.engines.appearance import AppearanceConfig, appearance_descriptors
from posecast.engines.frames import FramePoses
from posecast.tracker.config import TrackerConfig
from posecast.tracker.tracker import Tracker

# The synthetic scenes are test data (tests/synthetic), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic import people as people_images
from synthetic.scenes import (
    HIP_JOINTS,
    Scene,
    SceneConfig,
    generate_scene,
    project_to_image,
    walking_skeleton,
)

MATCH_DISTANCE_M = 0.5
LEVELS = {
    "easy (1.0 m apart, no misses, 1 cm noise)": SceneConfig(
        min_separation_m=1.0,
        miss_rate=0.0,
        occlusion_rate_per_s=0.0,
        false_detections_per_frame=0.0,
        joint_noise_m=0.01,
        low_score_rate=0.0,
        drop_rate=0.0,
    ),
    "target (0.5 m, 10 % misses + occlusions <= 1 s, 3 cm, false dets, 5 % drops)": SceneConfig(
        min_separation_m=0.5
    ),
    "hard (8 people, 0.3 m, 20 % misses, 5 cm, more false dets, 10 % drops)": SceneConfig(
        num_people=8,
        min_separation_m=0.3,
        miss_rate=0.2,
        joint_noise_m=0.05,
        false_detections_per_frame=0.3,
        low_score_rate=0.2,
        drop_rate=0.1,
    ),
}


def _roots(joints_cam_m: np.ndarray) -> np.ndarray:
    return joints_cam_m[:, list(HIP_JOINTS)].mean(axis=1)


class GreedyBaseline:
    """Nearest root, greedily, within 0.5 m of a track's last root seen in the last second;
    every detection scored >= 0.5 that is left starts a track."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[np.ndarray, float]] = {}
        self._next_id = 1

    def update(self, poses: FramePoses, timestamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        self._last = {k: v for k, v in self._last.items() if timestamp_s - v[1] <= 1.0}
        roots = _roots(poses.joints_cam_m)
        ids = np.full(len(poses), -1)
        pairs = sorted(
            (float(np.linalg.norm(root - last_root)), track_id, index)
            for track_id, (last_root, _) in self._last.items()
            for index, root in enumerate(roots)
        )
        taken: set[int] = set()
        for distance_m, track_id, index in pairs:
            if distance_m <= MATCH_DISTANCE_M and track_id not in taken and ids[index] < 0:
                ids[index] = track_id
                taken.add(track_id)
        for index in np.flatnonzero((ids < 0) & (poses.scores >= 0.5)):
            ids[index], self._next_id = self._next_id, self._next_id + 1
        for index in np.flatnonzero(ids >= 0):
            self._last[int(ids[index])] = (roots[index], timestamp_s)
        keep = ids >= 0
        return ids[keep], roots[keep]


class TrackerUnderTest:
    """Confirmed tracks, and searching ones (predicted poses) while their root is in view."""

    def __init__(self, config: TrackerConfig, scene: Scene) -> None:
        self._tracker = Tracker(config)
        self._intrinsics = scene.intrinsics
        self._image_size_px = np.array(scene.config.image_size_px)

    def update(self, poses: FramePoses, timestamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        out = self._tracker.update(poses, timestamp_s)
        roots = _roots(out.joints_cam_m)
        pixels = project_to_image(roots, self._intrinsics)
        in_view = (roots[:, 2] > 1.0) & (pixels >= 0).all(axis=1)
        in_view &= (pixels < self._image_size_px).all(axis=1)
        keep = (out.track_states == "confirmed") | ((out.track_states == "searching") & in_view)
        return out.track_ids[keep], roots[keep]


def _accumulate(scene: Scene, method) -> mm.MOTAccumulator:
    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame in scene.frames:
        hyp_ids, hyp_roots = method.update(frame.detections, frame.timestamp_s)
        distances = mm.distances.norm2squared_matrix(
            frame.roots_cam_m, hyp_roots, max_d2=MATCH_DISTANCE_M**2
        )
        accumulator.update(frame.person_ids.tolist(), hyp_ids.tolist(), distances)
    return accumulator


@dataclass
class _Row:
    level: str
    method: str
    summary: dict


def _score(levels: dict[str, SceneConfig], seeds: range, duration_s: float) -> list[_Row]:
    metrics = ["mota", "idf1", "num_switches", "num_fragmentations", "num_false_positives"]
    metrics += ["num_misses"]
    host = mm.metrics.create()
    rows = []
    for level, base in levels.items():
        scenes = [generate_scene(replace(base, seed=seed, duration_s=duration_s)) for seed in seeds]
        for name, make in (
            ("greedy nearest root", lambda scene: GreedyBaseline()),
            ("posecast tracker", lambda scene: TrackerUnderTest(TrackerConfig(), scene)),
        ):
            accumulators = [_accumulate(scene, make(scene)) for scene in scenes]
            names = [str(seed) for seed in seeds]
            frame = host.compute_many(
                accumulators, metrics=metrics, names=names, generate_overall=True
            )
            summary = frame.loc["OVERALL"].to_dict()
            summary["min_distance_m"] = min(scene.min_distance_m for scene in scenes)
            rows.append(_Row(level, name, summary))
    return rows


def _crowd_frames(
    num_people: int, num_frames: int, with_appearance: bool
) -> list[tuple[FramePoses, float]]:
    """People on a grid walking sideways together (every one detected in every frame), with
    their projected 2D joints and, if asked, appearance descriptors (one look per person,
    a little noise per frame)."""
    rng = np.random.default_rng(0)
    columns = int(np.ceil(np.sqrt(num_people)))
    intrinsics = np.array([[900.0, 0.0, 640.0], [0.0, 900.0, 360.0], [0.0, 0.0, 1.0]])
    looks = rng.random((num_people, AppearanceConfig().size))
    frames = []
    for k in range(num_frames):
        t = k / 30
        joints = np.stack(
            [
                walking_skeleton(
                    np.array(
                        [1.0 * (i % columns) - columns / 2 + 1.2 * t, 3.0 + 1.0 * (i // columns)]
                    ),
                    0.0,
                    2 * np.pi * t,
                    1.0,
                    1.6,
                )
                for i in range(num_people)
            ]
        ) + rng.normal(0, 0.03, (num_people, 17, 3))
        joints2d = project_to_image(joints, intrinsics)
        appearance = looks + rng.normal(0, 0.02, looks.shape) if with_appearance else None
        frames.append(
            (
                FramePoses(
                    skeleton="synthetic_17",
                    boxes_xyxy=np.concatenate([joints2d.min(axis=1), joints2d.max(axis=1)], 1),
                    scores=np.full(num_people, 0.9),
                    joints2d_px=joints2d,
                    joints_cam_m=joints,
                    joint_scores=np.ones((num_people, 17)),
                    appearance=appearance,
                ),
                t,
            )
        )
    return frames


def _update_times_ms(
    people: tuple[int, ...], num_frames: int, with_appearance: bool, make_tracker=Tracker
) -> dict[int, float]:
    """Mean update time per frame (ms) of trackers made by ``make_tracker()``, by crowd size;
    the measurements of all crowd sizes and trackers interleave so that load on a shared
    machine falls on all of them alike."""
    times = {}
    for num_people in people:
        tracker = make_tracker()
        frames = _crowd_frames(num_people, num_frames, with_appearance)
        for poses, t in frames[:5]:  # warm up, and confirm the tracks
            tracker.update(poses, t)
        start = time.perf_counter()
        for poses, t in frames[5:]:
            tracker.update(poses, t)
        times[num_people] = (time.perf_counter() - start) / (num_frames - 5) * 1000
    return times


def _descriptor_times_ms(people: tuple[int, ...], repeats: int) -> dict[int, float]:
    """Appearance descriptors of N people drawn on a 1280 x 720 image (their time per frame)."""
    size_wh = (1280, 720)
    k = people_images.intrinsics(size_wh)
    outfits = [people_images.RED_ON_BLUE, people_images.GREEN_ON_GREY]
    times = {}
    for num_people in people:
        columns = int(np.ceil(np.sqrt(num_people)))
        points = [
            people_images.project(
                people_images.standing_person_m(
                    0.8 * (i % columns) - columns / 2.5, 5.0 + i // columns
                ),
                k,
            )
            for i in range(num_people)
        ]
        image = people_images.draw_people(
            size_wh, points, [outfits[i % 2] for i in range(num_people)]
        )
        joints2d, scores = np.array(points), np.ones((num_people, 33))
        appearance_descriptors(image, joints2d, scores, "blazepose_33")  # warm up
        start = time.perf_counter()
        for _ in range(repeats):
            appearance_descriptors(image, joints2d, scores, "blazepose_33")
        times[num_people] = (time.perf_counter() - start) / repeats * 1000
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short scene per level")
    parser.add_argument(
        "--before", metavar="COMMIT", help="also time the tracker of this commit (git show)"
    )
    args = parser.parse_args()
    seeds, duration_s, num_frames = (range(1), 4.0, 30) if args.quick else (range(6), 10.0, 200)
    start = time.perf_counter()
    rows = _score(LEVELS, seeds, duration_s)
    print(
        f"{len(seeds)} scene(s) of {duration_s:.0f} s per level, 30 Hz; match: 3D root <= 0.5 m\n"
    )
    print("| level | method | MOTA | IDF1 | ID sw. | frag. | FP | FN | min dist. (m) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        s = row.summary
        print(
            f"| {row.level} | {row.method} | {s['mota']:.3f} | {s['idf1']:.3f} | "
            f"{int(s['num_switches'])} | {int(s['num_fragmentations'])} | "
            f"{int(s['num_false_positives'])} | {int(s['num_misses'])} | "
            f"{s['min_distance_m']:.2f} |"
        )
    people = (1, 10, 50)
    before = None
    if args.before:
        # The tracker of another commit, on the same frames in the same run (realdata.streams).
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from realdata.streams import tracker_at_commit

        before = tracker_at_commit(args.before).Tracker
    plain, with_appearance, old = {}, {}, {}
    for _ in range(3):  # interleaved repeats; the best of each (least disturbed by load)
        for name, times in (
            ("plain", _update_times_ms(people, num_frames, with_appearance=False)),
            ("appearance", _update_times_ms(people, num_frames, with_appearance=True)),
            ("before", _update_times_ms(people, num_frames, False, before) if before else {}),
        ):
            target = {"plain": plain, "appearance": with_appearance, "before": old}[name]
            for num_people, ms in times.items():
                target[num_people] = min(target.get(num_people, np.inf), ms)
    descriptors = _descriptor_times_ms(people, repeats=3 if args.quick else 20)
    before_header = f" | update, tracker at {args.before} (ms)" if before else ""
    print(
        f"\n| people per frame{before_header} | update (ms) | update with appearance (ms) "
        f"| appearance descriptors (ms) |\n|---|---|---|---|{'---|' if before else ''}"
    )
    for num_people in people:
        old_ms = f" | {old[num_people]:.2f}" if before else ""
        print(
            f"| {num_people}{old_ms} | {plain[num_people]:.2f} | "
            f"{with_appearance[num_people]:.2f} | {descriptors[num_people]:.2f} |"
        )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
