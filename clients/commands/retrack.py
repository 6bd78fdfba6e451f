"""``posecast retrack``: re-run the tracker over a JSONL file of per-frame messages.

Input track ids and states are ignored; persons whose state is ``searching`` or
``terminated`` (or marked ``predicted``) are tracker output rather than detections, and are
dropped. The output has the input's lines with the tracker's persons: every detection
(``track_id`` null where no track claimed it); with ``--include-predicted`` also the searching
tracks (predicted pose, score 0) and the tracks that terminated in that frame, each reported
once with state ``terminated`` (predicted pose, score 0), all marked ``predicted``.
"""

from __future__ import annotations

import argparse
import logging

from posecast.clients.jsonl import frame_message_writer, read_frame_messages
from posecast.clients.options import add_tracker_options, tracker_config
from posecast.errors import InvalidInputError
from posecast.pipeline.wire import persons_from_poses, poses_from_message
from posecast.tracker.config import AssociationMode, TrackerConfig
from posecast.tracker.references import ReferencePoses, read_reference_file
from posecast.tracker.track import is_predicted
from posecast.tracker.tracker import Tracker
from posecast.wire.messages import FrameMessage

logger = logging.getLogger(__name__)

_NOT_DETECTIONS = ("searching", "terminated")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``retrack`` subcommand."""
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
    parser.add_argument(
        "--include-predicted",
        action="store_true",
        help="also write the tracks searched for (predicted poses, state searching) and those that "
        "terminated, marked predicted: true (default: only the people seen in each frame)",
    )
    add_tracker_options(parser)
    parser.set_defaults(run=run)


def _config(args: argparse.Namespace) -> TrackerConfig:
    if args.association and not args.reference:
        raise InvalidInputError("--association needs --reference")
    mode = AssociationMode(args.association) if args.association else AssociationMode.UNKNOWN
    return tracker_config(args, association=mode if args.reference else AssociationMode.FREE)


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
    tracker: Tracker,
    message: FrameMessage,
    references: ReferencePoses | None,
    include_predicted: bool = False,
) -> FrameMessage:
    detections = message.model_copy(
        update={
            "persons": [
                p for p in message.persons if p.state not in _NOT_DETECTIONS and not p.predicted
            ]
        }
    )
    poses = poses_from_message(detections, num_joints=tracker.num_joints or 0)
    tracked = tracker.update(poses, message.timestamp, references)
    if not include_predicted:
        tracked = tracked[~is_predicted(tracked)]
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
                writer.write(_retracked(tracker, message, frame_references, args.include_predicted))
            except InvalidInputError as error:
                raise InvalidInputError(f"{args.detections}:{line_number}: {error}") from error
            num_frames += 1
    logger.info("retracked %d frames into %s", num_frames, args.output)
    return 0
