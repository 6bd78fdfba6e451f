"""``posecast eval3dpw``: score 3DPW predictions with the challenge metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from posecast.clients.threedpw.evaluate import EvaluationResult, evaluate_split
from posecast.clients.threedpw.layout import SPLITS
from posecast.clients.threedpw.metrics import PoseMetrics
from posecast.clients.threedpw.tracking import TrackingConfig, TrackingMetrics


def register(subparsers: Any) -> None:
    """Add the ``eval3dpw`` subparser."""
    parser = subparsers.add_parser(
        "eval3dpw",
        help="evaluate 3DPW predictions (MPJPE, PA-MPJPE, PCK, AUC, identity figures)",
        description=(
            "Evaluate posecast 3DPW prediction pickles ({name}.pkl, in PRED/SPLIT/ or PRED/) "
            "against the ground truth in a 3DPW root, as the official challenge script does."
        ),
    )
    parser.add_argument("--pred", type=Path, required=True, help="prediction directory")
    parser.add_argument("--gt", type=Path, required=True, help="3DPW root (with sequenceFiles/)")
    parser.add_argument("--split", choices=SPLITS, default="test", help="split (default: test)")
    parser.add_argument(
        "--max-normalized-distance",
        type=float,
        default=TrackingConfig.max_normalized_distance,
        help="identity matching gate: mean 2D joint distance / person box size (default: 0.5)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print; errors (missing files, bad shapes) propagate as PosecastError."""
    result = evaluate_split(
        args.pred,
        args.gt,
        args.split,
        tracking_config=TrackingConfig(max_normalized_distance=args.max_normalized_distance),
    )
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(result, sys.stdout)
    return 0


def print_table(result: EvaluationResult, out: TextIO) -> None:
    """One row per sequence and an overall row; identity columns when any are available."""
    has_tracking = result.overall_tracking is not None
    header = f"{'sequence':<28} {'frames':>7} {'MPJPE':>7} {'PA-MPJPE':>8} {'PCK%':>6} {'AUC':>6}"
    if has_tracking:
        header += f" {'IDsw':>5} {'IDrec%':>6}"
    out.write(f"3DPW {result.split}: errors in mm, person-frames evaluated\n{header}\n")
    rows = [(sequence.name, sequence.pose, sequence.tracking) for sequence in result.sequences]
    rows.append(("overall", result.overall, result.overall_tracking))
    for index, (name, pose, tracking) in enumerate(rows):
        if index == len(rows) - 1:
            out.write("-" * len(header) + "\n")
        out.write(_row(name, pose, tracking if has_tracking else None, has_tracking) + "\n")


def _row(name: str, pose: PoseMetrics, tracking: TrackingMetrics | None, has_tracking: bool) -> str:
    row = (
        f"{name:<28} {pose.num_person_frames:>7d} {_number(pose.mpjpe_mm, 1):>7} "
        f"{_number(pose.pa_mpjpe_mm, 1):>8} {_number(pose.pck_percent, 1):>6} "
        f"{_number(pose.auc, 3):>6}"
    )
    if has_tracking:
        if tracking is None:
            row += f" {'-':>5} {'-':>6}"
        else:
            recall = tracking.identity_recall
            recall_percent = None if recall is None else 100.0 * recall
            row += f" {tracking.id_switches:>5d} {_number(recall_percent, 1):>6}"
    return row


def _number(value: float | None, decimals: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{decimals}f}"
