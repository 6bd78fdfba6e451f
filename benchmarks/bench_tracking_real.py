"""Tracking of today's default pipeline on real video, scored against identity labels.

PETS09-S2L1 frames 1-250 (``ROOT/../vtest.avi`` read with OpenCV, 7 fps) and the MOT17
excerpts (4-8 frames each at 30 fps: only ID switches and fragmentations mean much there):
the estimator runs on every frame (its output is cached, see ``--cache``), then
``Tracker(TrackerConfig())`` with the frames' timestamps. Track boxes are drawn from each
row's landmarks and padded (``realdata.boxes.DEFAULT_PADDING``) and scored with py-motmetrics
at IoU 0.5, don't-care regions ignored (``realdata.tracking``), for three sets of the
tracker's rows: every tracked row (tentative, confirmed, searching: a searching track is
reported at its last seen box), without the searching ones, and confirmed only. Untracked
detections and the once-reported terminated tracks are never scored.

    python benchmarks/bench_tracking_real.py --data ../shared/data/real [--json OUT]
        [--cache PATH] [--from-cache] [--threads N]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from realdata.boxes import DEFAULT_PADDING, padded_landmark_boxes_xyxy
from realdata.cache import FrameRecord
from realdata.mot import MotSequence, load_mot17, load_pets09
from realdata.pipeline import mean_ms, mot_frame_key, run_or_load, sequence_items
from realdata.report import (
    benchmark_arguments,
    configure_logging,
    describe_run,
    format_table,
    run_metadata,
    write_json,
)
from realdata.tracking import OVERALL, TrackingFrame, TrackingScores, score_sequences

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.tracker.config import TrackerConfig
from posecast.tracker.tracker import Tracker

DEFAULT_CACHE = "/tmp/posecast-realdata/tracking.npz"
ROW_SETS = {
    "all tracked": ("tentative", "confirmed", "searching"),
    "no searching": ("tentative", "confirmed"),
    "confirmed": ("confirmed",),
}
"""Which of the tracker's rows are scored: name -> track states."""
HEADERS = ["data", "rows", "MOTA", "IDF1", "IDsw", "frag", "recall", "precision", "FP", "miss"]
HEADERS += ["targets", "MT/ids", "ms/frame"]


def track(sequence: MotSequence, records: dict[str, FrameRecord]) -> tuple[list[FramePoses], float]:
    """The tracker's output per frame (default config, timestamps at the native rate) and
    its mean update time in ms."""
    tracker = Tracker(TrackerConfig())
    tracked, elapsed_s = [], 0.0
    for frame in sequence.frames:
        poses = records[mot_frame_key(sequence.name, frame)].poses
        start = time.perf_counter()
        tracked.append(tracker.update(poses, (frame - 1) / sequence.frame_rate_hz))
        elapsed_s += time.perf_counter() - start
    return tracked, elapsed_s / max(len(tracked), 1) * 1e3


def tracking_frames(
    sequence: MotSequence, tracked: Sequence[FramePoses], states: tuple[str, ...]
) -> list[TrackingFrame]:
    """The sequence's labels with the tracker rows in ``states`` as hypotheses."""
    frames = []
    for frame, poses in zip(sequence.frames, tracked, strict=True):
        truth = sequence.truth[frame]
        keep = (poses.track_ids != UNTRACKED_ID) & np.isin(poses.track_states, states)
        boxes = padded_landmark_boxes_xyxy(poses.joints2d_px[keep])
        frames.append(
            TrackingFrame(
                truth.target_ids,
                truth.target_xyxy,
                poses.track_ids[keep],
                boxes,
                truth.dont_care_xyxy,
            )
        )
    return frames


def score_rows(
    sequences: Sequence[MotSequence], records: dict[str, FrameRecord]
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """Table rows and JSON details: per row set, each sequence and (several) overall."""
    runs = {sequence.name: track(sequence, records) for sequence in sequences}
    estimate_ms = {
        s.name: mean_ms(records, [mot_frame_key(s.name, f) for f in s.frames]) for s in sequences
    }
    rows, details = [], []
    for label, states in ROW_SETS.items():
        scores = score_sequences(
            {s.name: tracking_frames(s, runs[s.name][0], states) for s in sequences}
        )
        for name, score in scores.items():
            ms = f"{estimate_ms[name]:.0f}+{runs[name][1]:.1f}" if name in runs else "-"
            rows.append(_row(name, label, score, ms))
            details.append({"data": name, "rows": label, "states": states, **vars(score)})
    for name, (_, track_ms) in runs.items():
        details.append({"data": name, "estimate_ms": estimate_ms[name], "track_ms": track_ms})
    return rows, details


def _row(name: str, label: str, score: TrackingScores, ms: str) -> list[Any]:
    return [
        "MOT17 (all 4)" if name == OVERALL else name,
        label,
        score.mota,
        score.idf1,
        score.num_switches,
        score.num_fragmentations,
        score.recall,
        score.precision,
        score.num_false_positives,
        score.num_misses,
        score.num_targets,
        f"{score.mostly_tracked}/{score.num_unique_targets}",
        ms,
    ]


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    args = parser.parse_args()
    configure_logging()
    pets09 = load_pets09(args.data)
    mot17 = load_mot17(args.data)
    sequences = [pets09, *mot17]

    records, metadata = run_or_load(
        lambda: (item for sequence in sequences for item in sequence_items(sequence)),
        sum(len(sequence.frames) for sequence in sequences),
        args.cache,
        args.from_cache,
        run_metadata(args.threads),
        threads=args.threads,
    )
    pets_rows, pets_details = score_rows([pets09], records)
    mot_rows, mot_details = score_rows(mot17, records)
    print(describe_run(metadata, args.from_cache))
    print(f"TrackerConfig() defaults; boxes: landmark boxes padded {DEFAULT_PADDING}\n")
    title = "Tracking at IoU 0.5, don't-care ignored (ms/frame: estimator + tracker update)"
    print(format_table(f"{title}\nPETS09-S2L1 frames 1-250, 7 fps", HEADERS, pets_rows))
    print()
    print(format_table("MOT17 excerpts (4-8 frames each, 30 fps)", HEADERS, mot_rows))
    if args.json:
        write_json(
            args.json,
            {
                "metadata": metadata,
                "padding": vars(DEFAULT_PADDING),
                "pets09": pets_details,
                "mot17": mot_details,
            },
        )


if __name__ == "__main__":
    main()
