"""Tracking of the per-frame pipeline on real video, scored against identity labels.

Every row runs ``StreamPipeline`` (placement, self-calibration, appearance descriptors,
tracker, output policy) over the frames; only the models' output is cached, per frame and
camera (``realdata.streams``), so the first run takes minutes and the others seconds.

PETS09-S2L1 frames 1-250 (video frames 0-249 of ``vtest.avi``, 7 fps) with MOTChallenge
identities: track boxes drawn from each row's landmarks, padded
(``realdata.boxes.DEFAULT_PADDING``), scored with py-motmetrics at IoU 0.5, don't-care
regions ignored (``realdata.tracking``). Rows: "seen" is the default output (the people seen
in each frame: tentative and confirmed tracks); "+ predicted" adds the searching tracks'
predicted rows (``include_predicted``); "confirmed" only confirmed tracks. "before" runs the
tracker of ``--before`` (default: the commit before the real-video cues) on the same
estimator output. Ablations switch one thing off in the default (seen) output; "world" gives
the stream, from its first frame, the scene the default run had calibrated by its end (or
``--scene FILE``); "camera" turns self-calibration off. "identity oracle": the same
detections with the true identities, the best any tracker could do with them.

The whole ``vtest.avi`` (795 frames, no labels): confirmed tracks against the ~20 people,
their length, short ones, gaps bridged. MOT17 excerpts (4-8 frames each at 30 fps): ID
switches and fragmentations.

    python benchmarks/bench_tracking_real.py --data ../shared/data/real [--json OUT]
        [--cache PATH] [--from-cache] [--threads N] [--video PATH] [--scene FILE]
        [--before COMMIT] [--no-vtest] [--no-mot17] [--no-low-presence]
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from realdata.boxes import DEFAULT_PADDING, box_iou, padded_landmark_boxes_xyxy
from realdata.cues import NOISE_HEADERS, cue_samples, labelled_ids, noise_rows
from realdata.mot import MotSequence, load_mot17, load_pets09
from realdata.report import (
    benchmark_arguments,
    configure_logging,
    describe_run,
    format_table,
    run_metadata,
    write_json,
)
from realdata.streams import (
    CachingEstimator,
    StreamFrame,
    StreamRun,
    image_frames,
    run_stream,
    tracker_at_commit,
    video_frames,
)
from realdata.tracking import (
    OVERALL,
    TrackingFrame,
    TrackingScores,
    score_sequences,
    tracking_frames,
)
from scipy.optimize import linear_sum_assignment

from posecast.engines.blazepose import BlazePoseConfig
from posecast.engines.estimator import EstimatorConfig
from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.engines.geometry.scene import Scene, SceneState
from posecast.engines.geometry.scene_config import CalibrationConfig
from posecast.pipeline.stream import StreamConfig
from posecast.tracker.config import TrackerConfig
from posecast.tracker.track import is_predicted
from posecast.tracker.tracker import Tracker

logger = logging.getLogger("realdata.bench_tracking_real")

DEFAULT_CACHE = "/tmp/posecast-realdata/tracking-streams.npz"
DEFAULT_BEFORE = "a5c0eeb"
"""The last commit with the tracker before the real-video cues (appearance, image, ground)."""
ROW_SETS = {
    "seen": ("tentative", "confirmed"),
    "+ predicted": ("tentative", "confirmed", "searching"),
    "confirmed": ("confirmed",),
}
"""Which of the pipeline's rows are scored: name -> track states ("seen" is the default
output; terminated rows are never scored)."""
LOW_PRESENCE = 0.1
"""BlazePose presence threshold of the second-stage row: poses in [0.1, 0.5) become the
tracker's low-score detections."""
HEADERS = ["data", "tracker", "rows", "MOTA", "IDF1", "IDsw", "frag", "recall", "precision"]
HEADERS += ["FP", "miss", "MT/ids", "track ms"]
VTEST_FRAME_RATE_HZ = 7.0


@dataclass(frozen=True)
class Variant:
    """A row: the stream settings, and an optional replacement tracker."""

    name: str
    config: StreamConfig
    before_commit: str | None = None
    estimator_tag: str = "default"


class RecordingTracker:
    """Today's tracker, keeping every frame's input (for the cue noise)."""

    def __init__(self, config: TrackerConfig) -> None:
        self.tracker = Tracker(config)
        self.inputs: list[tuple[FramePoses, float]] = []

    def update(self, poses: FramePoses, timestamp_s: float, references: Any = None) -> FramePoses:
        self.inputs.append((poses, timestamp_s))
        return self.tracker.update(poses, timestamp_s, references)


NOISE_SLICES = {
    "seen in the previous frame": (0.0, 0.2),
    "unseen 0.2-1.5 s": (0.2, 1.5),
    "unseen > 1.5 s (re-identification)": (1.5, 1e9),
}


def cue_noise_table(
    sequence: MotSequence, recorder: RecordingTracker, config: TrackerConfig
) -> list[list[Any]]:
    """The cue noise rows of a recorded run (``realdata.cues``)."""
    inputs = [poses for poses, _ in recorder.inputs]
    ids = [
        labelled_ids(poses, sequence.truth[frame])
        for poses, frame in zip(inputs, sequence.frames, strict=True)
    ]
    samples = cue_samples(inputs, [t for _, t in recorder.inputs], ids, config)
    return noise_rows(samples, NOISE_SLICES)


def _pets_frames(sequence: MotSequence, video: Path) -> Callable[[], Iterator[StreamFrame]]:
    """The labelled frames (video frame = MOT frame + offset, consecutive from 0)."""
    first = sequence.frames[0] + sequence.video_frame_offset
    if first != 0 or list(sequence.frames) != list(
        range(sequence.frames[0], max(sequence.frames) + 1)
    ):
        raise ValueError(f"{sequence.name}: expected consecutive frames from the video's first")
    return lambda: video_frames(video, sequence.frame_rate_hz, len(sequence.frames))


def _mot17_frames(sequence: MotSequence) -> Callable[[], Iterator[StreamFrame]]:
    assert sequence.image_paths is not None
    paths = [(f"mot17/{sequence.name}/{f:06d}", sequence.image_paths[f]) for f in sequence.frames]
    return lambda: image_frames(paths, sequence.frame_rate_hz)


def _run(
    variant: Variant,
    frames: Callable[[], Iterator[StreamFrame]],
    estimators: dict[str, CachingEstimator],
) -> StreamRun:
    tracker: object = RecordingTracker(variant.config.tracker)
    if variant.before_commit is not None:
        module = tracker_at_commit(variant.before_commit)
        config_module = __import__(module.__name__.rsplit(".", 1)[0] + ".config", fromlist=["x"])
        tracker = module.Tracker(config_module.TrackerConfig())
    estimator = estimators[variant.estimator_tag]
    run = run_stream(frames(), estimator, variant.config, tracker)
    estimator.save(estimator.metadata)  # new frames are kept even if a later step fails
    return run


def oracle_frames(sequence: MotSequence, tracked: Sequence[FramePoses]) -> list[TrackingFrame]:
    """The detections of the frames (rows that are not predicted) with the true identities:
    each takes the id of the target it overlaps most at IoU >= 0.5, the others a new id."""
    frames, next_id = [], 10**6
    for frame, poses in zip(sequence.frames, tracked, strict=True):
        truth = sequence.truth[frame]
        poses = poses[~is_predicted(poses)]
        boxes = padded_landmark_boxes_xyxy(poses.joints2d_px)
        ids = np.full(len(poses), -1, np.int64)
        if len(poses) and len(truth.target_ids):
            iou = box_iou(boxes, truth.target_xyxy)
            rows, cols = linear_sum_assignment(iou, maximize=True)
            good = iou[rows, cols] >= 0.5
            ids[rows[good]] = truth.target_ids[cols[good]]
        for index in np.flatnonzero(ids < 0):
            ids[index], next_id = next_id, next_id + 1
        frames.append(
            TrackingFrame(truth.target_ids, truth.target_xyxy, ids, boxes, truth.dont_care_xyxy)
        )
    return frames


def _row(data: str, tracker: str, rows: str, score: TrackingScores, ms: str) -> list[Any]:
    return [
        "MOT17 (all 4)" if data == OVERALL else data,
        tracker,
        rows,
        score.mota,
        score.idf1,
        score.num_switches,
        score.num_fragmentations,
        score.recall,
        score.precision,
        score.num_false_positives,
        score.num_misses,
        f"{score.mostly_tracked}/{score.num_unique_targets}",
        ms,
    ]


def score_runs(
    sequences: Sequence[MotSequence],
    runs: dict[str, dict[str, StreamRun]],
    row_sets: dict[str, tuple[str, ...]],
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """Table rows and JSON details per variant and row set (``runs[variant][sequence]``)."""
    rows, details = [], []
    for variant, by_sequence in runs.items():
        for label, states in row_sets.items():
            scores = score_sequences(
                {
                    s.name: tracking_frames(
                        s, [f.poses for f in by_sequence[s.name].frames], states
                    )
                    for s in sequences
                }
            )
            for name, score in scores.items():
                run = by_sequence.get(name)
                ms = f"{run.track_ms:.2f}+{run.appearance_ms:.2f}" if run else "-"
                rows.append(_row(name, variant, label, score, ms))
                details.append({"data": name, "tracker": variant, "rows": label, **vars(score)})
    return rows, details


def score_oracle(sequence: MotSequence, run: StreamRun) -> tuple[list[Any], dict[str, Any]]:
    score = score_sequences(
        {sequence.name: oracle_frames(sequence, [f.poses for f in run.frames])}
    )[sequence.name]
    return _row(sequence.name, "identity oracle", "seen", score, "-"), {
        "data": sequence.name,
        "tracker": "identity oracle",
        **vars(score),
    }


def video_statistics(run: StreamRun) -> dict[str, Any]:
    """Statistics of a stream without labels: confirmed tracks, frames with a detection per
    confirmed track, short ones, gaps bridged (a track seen again after missing frames),
    share of detections in confirmed tracks."""
    frames_per_track: dict[int, int] = defaultdict(int)
    confirmed: set[int] = set()
    last_seen: dict[int, int] = {}
    gaps: list[int] = []
    num_detections = num_in_confirmed = 0
    tracks_created: set[int] = set()
    for index, frame in enumerate(run.frames):
        poses = frame.poses[~is_predicted(frame.poses)]
        num_detections += len(poses)
        for track_id, state in zip(poses.track_ids, poses.track_states, strict=True):
            if track_id == UNTRACKED_ID:
                continue
            track_id = int(track_id)
            tracks_created.add(track_id)
            frames_per_track[track_id] += 1
            if state == "confirmed":
                confirmed.add(track_id)
            if track_id in last_seen and index - last_seen[track_id] > 1:
                gaps.append(index - last_seen[track_id] - 1)
            last_seen[track_id] = index
    lengths = np.array([frames_per_track[t] for t in confirmed]) if confirmed else np.zeros(1)
    for track_id in confirmed:
        num_in_confirmed += frames_per_track[track_id]
    gaps_array = np.array(gaps) if gaps else np.zeros(0)
    return {
        "frames": len(run.frames),
        "tracks_created": len(tracks_created),
        "confirmed_tracks": len(confirmed),
        "median_frames": float(np.median(lengths)),
        "p90_frames": float(np.percentile(lengths, 90)),
        "max_frames": int(lengths.max()),
        "confirmed_at_least_50": int((lengths >= 50).sum()),
        "confirmed_shorter_than_2s": int((lengths < 2 * VTEST_FRAME_RATE_HZ).sum()),
        "gaps_bridged": len(gaps),
        "gaps_over_1s": int((gaps_array > VTEST_FRAME_RATE_HZ).sum()),
        "detections_in_confirmed": num_in_confirmed / max(num_detections, 1),
        "track_ms": run.track_ms,
        "appearance_ms": run.appearance_ms,
    }


def _variants(args: Any, world_scene: Scene | None) -> list[Variant]:
    seen_only = StreamConfig(include_predicted=True)
    defaults = TrackerConfig()
    camera = replace(seen_only, calibration=CalibrationConfig(is_enabled=False))
    variants = [
        Variant("camera association", camera),
        Variant(
            "appearance off", replace(seen_only, tracker=replace(defaults, appearance_cue=False))
        ),
        Variant("image cue off", replace(seen_only, tracker=replace(defaults, image_cue=False))),
        Variant(
            "re-identification off",
            replace(seen_only, tracker=replace(defaults, reid_window_s=0.0)),
        ),
        Variant(
            "second stage off", replace(seen_only, tracker=replace(defaults, second_stage=False))
        ),
        Variant(
            "3D shape in the cost", replace(seen_only, tracker=replace(defaults, shape_weight=1.0))
        ),
    ]
    if world_scene is not None:
        world = replace(seen_only, scene=world_scene)
        variants.insert(1, Variant("world association", world))
        variants.insert(
            2,
            Variant(
                "world, appearance off",
                replace(world, tracker=replace(defaults, appearance_cue=False)),
            ),
        )
    if not args.no_low_presence:
        variants.append(
            Variant(f"second stage, presence >= {LOW_PRESENCE}", seen_only, None, "low")
        )
        variants.append(
            Variant(
                f"second stage off, presence >= {LOW_PRESENCE}",
                replace(seen_only, tracker=replace(defaults, second_stage=False)),
                None,
                "low",
            )
        )
    return variants


def _given_scene(scene: Scene) -> Scene:
    return replace(scene, state=SceneState.GIVEN, source="calibrated by the default run")


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    parser.add_argument("--video", type=Path, help="vtest.avi (default: DATA/../vtest.avi)")
    parser.add_argument("--scene", type=Path, help="scene file for the world row")
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="commit of the before tracker")
    parser.add_argument("--no-vtest", action="store_true", help="skip the whole video")
    parser.add_argument("--no-mot17", action="store_true", help="skip MOT17")
    parser.add_argument("--no-low-presence", action="store_true", help="skip the low rows")
    args = parser.parse_args()
    configure_logging()
    video = args.video or Path(args.data).parent / "vtest.avi"
    pets09 = load_pets09(args.data, video)
    estimators = {
        "default": CachingEstimator(args.cache, args.threads, is_read_only=args.from_cache),
    }
    low_config = EstimatorConfig(blazepose=BlazePoseConfig(presence_threshold=LOW_PRESENCE))
    estimators["low"] = CachingEstimator(
        Path(args.cache).with_name(Path(args.cache).stem + "-low.npz"),
        args.threads,
        low_config,
        tag=f"presence{LOW_PRESENCE}",
        is_read_only=args.from_cache,
    )
    metadata = estimators["default"].metadata or run_metadata(args.threads)
    for estimator in estimators.values():
        estimator.metadata = estimator.metadata or metadata
    pets_frames = _pets_frames(pets09, video)
    default = Variant("defaults", StreamConfig(include_predicted=True))
    before = Variant(
        f"before ({args.before})",
        StreamConfig(
            include_predicted=True, tracker=replace(TrackerConfig(), appearance_cue=False)
        ),
        args.before,
    )
    runs: dict[str, dict[str, StreamRun]] = {}
    runs[before.name] = {pets09.name: _run(before, pets_frames, estimators)}
    runs[default.name] = {pets09.name: _run(default, pets_frames, estimators)}
    final_scene = runs[default.name][pets09.name].pipeline.scene.current(*pets09.image_size_wh)
    world_scene = Scene.from_json(args.scene) if args.scene else None
    if world_scene is None and final_scene.state in (SceneState.CALIBRATED, SceneState.GIVEN):
        world_scene = _given_scene(final_scene)
    headline_rows, headline = score_runs([pets09], runs, ROW_SETS)
    oracle_row, oracle = score_oracle(pets09, runs[default.name][pets09.name])
    ablation_runs = {default.name: runs[default.name]}
    for variant in _variants(args, world_scene):
        ablation_runs[variant.name] = {pets09.name: _run(variant, pets_frames, estimators)}
    ablation_rows, ablations = score_runs([pets09], ablation_runs, {"seen": ROW_SETS["seen"]})
    print(describe_run(metadata, args.from_cache))
    print(f"boxes: landmark boxes padded {DEFAULT_PADDING}; track ms: update + appearance")
    if world_scene is not None:
        print(
            f"world scene: {world_scene.source or 'given'}, "
            f"focal {world_scene.camera.K[0, 0]:.0f} px"
        )
    print()
    title = "PETS09-S2L1 frames 1-250, 7 fps: tracking at IoU 0.5, don't-care ignored"
    print(format_table(title, HEADERS, [*headline_rows, oracle_row]))
    print()
    print(
        format_table("PETS09-S2L1 ablations (default output: people seen)", HEADERS, ablation_rows)
    )
    noise_run = ablation_runs.get("world association", runs[default.name])[pets09.name]
    recorder = noise_run.pipeline.tracker
    noise = cue_noise_table(pets09, recorder, TrackerConfig())  # type: ignore[arg-type]
    print()
    title = "PETS09-S2L1 cue noise (of the world run where there is one)"
    print(format_table(title, NOISE_HEADERS, noise))
    payload: dict[str, Any] = {
        "metadata": metadata,
        "padding": vars(DEFAULT_PADDING),
        "pets09": [*headline, oracle],
        "pets09_ablations": ablations,
        "pets09_cue_noise": [dict(zip(NOISE_HEADERS, row, strict=True)) for row in noise],
    }
    if not args.no_vtest:
        vtest = {}
        for variant in (before, default):
            run = _run(variant, lambda: video_frames(video, VTEST_FRAME_RATE_HZ), estimators)
            vtest[variant.name] = video_statistics(run)
        keys = list(next(iter(vtest.values())))
        print()
        print(
            format_table(
                "vtest.avi, whole video (no labels, about 20 people)",
                ["statistic", *vtest],
                [[key, *(vtest[name][key] for name in vtest)] for key in keys],
            )
        )
        payload["vtest"] = vtest
    if not args.no_mot17:
        mot17 = load_mot17(args.data)
        mot_runs = {
            variant.name: {s.name: _run(variant, _mot17_frames(s), estimators) for s in mot17}
            for variant in (before, default)
        }
        mot_rows, mot_details = score_runs(mot17, mot_runs, {"seen": ROW_SETS["seen"]})
        print()
        print(format_table("MOT17 excerpts (4-8 frames each, 30 fps)", HEADERS, mot_rows))
        payload["mot17"] = mot_details
    if args.json:
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
