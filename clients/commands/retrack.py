"""``posecast retrack``: re-run the tracker over a JSONL file of per-frame messages.

Input track ids and states are ignored; persons whose state is ``searching`` or
``terminated`` are tracker output rather than detections, and are dropped. The output has the
input's lines with the tracker's persons: every detection (``track_id`` null where no track
claimed it), then searching tracks (predicted pose, score 0), then tracks that terminated in
that frame, each reported once with state ``terminated`` (predicted pose, score 0).
"""

from __future__ import annotations

import argparse
import logging

from posecast.clients.jsonl import frame_message_writer, read_frame_messages
from posecast.errors import InvalidInputError
from posecast.service.messages import FrameMessage, persons_from_poses, poses_from_message
from posecast.tracker.config import AssociationMode, SmoothingConfig, TrackerConfig
from posecast.tracker.references import ReferencePoses, read_reference_file
from posecast.tracker.tracker import Tracker

logger = logging.getLogger(__name__)

_NOT_DETECTIONS = ("searching", "terminated")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``retrack`` subcommand."""
    defaults = TrackerConfig()
    smoothing = defaults.smoothing
    parser = subparsers.add_parser(
        "retrack",
        help="track the persons of a JSONL file of frame messages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("detections", metavar="DETECTIONS.jsonl", help="per-frame messages")
    parser.add_argument("-o", "--output", required=True, metavar="TRACKS.jsonl")
    parser.add_argument(
        "--reference",
        metavar="FILE",
        help="JSONL reference 2D poses with ids (format in docs/tracker.md); "
        "implies --association unknown unless given",
    )
    parser.add_argument(
        "--association",
        choices=[AssociationMode.UNKNOWN.value, AssociationMode.KNOWN.value],
        help="unknown: the reference file's first line picks the identities in the first "
        "frame; known: references of each frame (matched by frame number) decide",
    )
    group = parser.add_argument_group("tracker options")
    group.add_argument("--max-pose-distance-m", type=float, default=defaults.max_pose_distance_m)
    group.add_argument("--gate-growth-m-per-s", type=float, default=defaults.gate_growth_m_per_s)
    group.add_argument("--max-gate-m", type=float, default=defaults.max_gate_m)
    group.add_argument("--high-score", type=float, default=defaults.high_score_threshold)
    group.add_argument("--low-score", type=float, default=defaults.low_score_threshold)
    group.add_argument("--confirm-hits", type=int, default=defaults.confirm_hits)
    group.add_argument("--searching-timeout-s", type=float, default=defaults.searching_timeout_s)
    group.add_argument(
        "--full-depth-range-m",
        type=float,
        default=defaults.full_depth_range_m,
        help="beyond this range depth differences count less (monocular depth is noisy)",
    )
    group.add_argument(
        "--depth-velocity-time-constant-s",
        type=float,
        default=defaults.depth_velocity_time_constant_s,
    )
    group.add_argument("--no-smoothing", action="store_true", help="report raw joints")
    group.add_argument("--min-cutoff-hz", type=float, default=smoothing.min_cutoff_hz)
    group.add_argument("--beta-per-m", type=float, default=smoothing.beta_per_m)
    group.add_argument("--d-cutoff-hz", type=float, default=smoothing.d_cutoff_hz)
    parser.set_defaults(run=run)


def _config(args: argparse.Namespace) -> TrackerConfig:
    if args.association and not args.reference:
        raise InvalidInputError("--association needs --reference")
    mode = AssociationMode(args.association) if args.association else AssociationMode.UNKNOWN
    return TrackerConfig(
        max_pose_distance_m=args.max_pose_distance_m,
        gate_growth_m_per_s=args.gate_growth_m_per_s,
        max_gate_m=args.max_gate_m,
        high_score_threshold=args.high_score,
        low_score_threshold=args.low_score,
        confirm_hits=args.confirm_hits,
        searching_timeout_s=args.searching_timeout_s,
        full_depth_range_m=args.full_depth_range_m,
        depth_velocity_time_constant_s=args.depth_velocity_time_constant_s,
        association=mode if args.reference else AssociationMode.FREE,
        smoothing=SmoothingConfig(
            is_enabled=not args.no_smoothing,
            min_cutoff_hz=args.min_cutoff_hz,
            beta_per_m=args.beta_per_m,
            d_cutoff_hz=args.d_cutoff_hz,
        ),
    )


def _references_for(
    config: TrackerConfig,
    references: dict[int, ReferencePoses],
    message: FrameMessage,
    is_first: bool,
) -> ReferencePoses | None:
    if config.association is AssociationMode.KNOWN:
        return references.get(message.frame)
    if config.association is AssociationMode.UNKNOWN and is_first:
        if not references:
            raise InvalidInputError("the reference file holds no references")
        return next(iter(references.values()))
    return None


def _retracked(
    tracker: Tracker, message: FrameMessage, references: ReferencePoses | None
) -> FrameMessage:
    detections = message.model_copy(
        update={"persons": [p for p in message.persons if p.state not in _NOT_DETECTIONS]}
    )
    poses = poses_from_message(detections, num_joints=tracker.num_joints or 0)
    tracked = tracker.update(poses, message.timestamp, references)
    return message.model_copy(update={"persons": persons_from_poses(tracked)})


def run(args: argparse.Namespace) -> int:
    """Re-track ``args.detections`` into ``args.output``; returns the exit code."""
    config = _config(args)
    references = read_reference_file(args.reference) if args.reference else {}
    tracker = Tracker(config)
    num_frames = 0
    with frame_message_writer(args.output) as writer:
        for line_number, message in read_frame_messages(args.detections):
            frame_references = _references_for(config, references, message, num_frames == 0)
            try:
                writer.write(_retracked(tracker, message, frame_references))
            except InvalidInputError as error:
                raise InvalidInputError(f"{args.detections}:{line_number}: {error}") from error
            num_frames += 1
    logger.info("retracked %d frames into %s", num_frames, args.output)
    return 0
