"""``posecast run3dpw``: track every 3DPW sequence of a split into challenge prediction files."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from posecast.clients.jsonl import read_frame_messages
from posecast.clients.options import add_model_options, estimator_for
from posecast.clients.threedpw.layout import Sequence3DPW, list_sequences, load_sequence
from posecast.clients.threedpw.prediction import read_prediction, write_prediction
from posecast.clients.threedpw.run import track_sequence
from posecast.engines.estimator import PoseEstimator
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.engines.images import read_image
from posecast.errors import InvalidInputError, PosecastError
from posecast.pipeline.wire import poses_from_message
from posecast.tracker.config import AssociationMode

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run3dpw",
        help="track 3DPW sequences into challenge prediction files",
        description="Track every sequence of a 3DPW split and write one prediction pickle per "
        "sequence (jointPositions [P, N, 24, 3], persons in ground-truth order). Finished "
        "sequences are skipped, so an interrupted run resumes.",
    )
    parser.add_argument("--data", type=Path, required=True, help="3DPW root")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("-o", "--output", type=Path, required=True, help="prediction folder")
    parser.add_argument(
        "--association",
        choices=("unknown", "known"),
        default="unknown",
        help="unknown: only first-frame 2D references pick identities; known: every frame's",
    )
    parser.add_argument(
        "--real-intrinsics",
        action="store_true",
        help="use the sequence's calibrated intrinsics instead of a 55 degree field of view",
    )
    parser.add_argument(
        "--detections",
        type=Path,
        help="read per-frame messages from DIR/{sequence}.jsonl instead of running the models",
    )
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    names = list_sequences(args.data, args.split)
    out_dir = args.output / args.split
    estimator = None if args.detections else estimator_for(args)
    association = AssociationMode(args.association)
    for name in names:
        sequence = load_sequence(args.data, args.split, name)
        if _is_finished(out_dir / f"{name}.pkl", sequence):
            logger.info("%s: already done, skipped", name)
            continue
        frames = (
            _frames_from_detections(args.detections / f"{name}.jsonl", sequence)
            if estimator is None
            else _frames_from_images(estimator, sequence, args.real_intrinsics)
        )
        progress = tqdm(frames, total=sequence.num_frames, desc=name, unit="frame", file=sys.stderr)
        prediction, filled = track_sequence(sequence, progress, association)
        write_prediction(out_dir, name, prediction)
        print(
            f"{name}: {sequence.num_persons} persons, {sequence.num_frames} frames, "
            f"filled-in frames per person {filled.tolist()}",
            file=sys.stderr,
        )
    print(f"predictions in {out_dir}", file=sys.stderr)
    return 0


def _is_finished(path: Path, sequence: Sequence3DPW) -> bool:
    if not path.exists():
        return False
    try:
        read_prediction(path, sequence)
    except PosecastError as error:
        logger.warning("%s is incomplete (%s): redoing it", path, error)
        return False
    return True


def _frames_from_images(
    estimator: PoseEstimator, sequence: Sequence3DPW, real_intrinsics: bool
) -> Iterator[FramePoses]:
    for image_path in sequence.image_paths:
        image = read_image(image_path)
        height, width = image.shape[:2]
        camera = (
            Camera(K=sequence.intrinsics)
            if real_intrinsics
            else Camera.from_fov(width, height, DEFAULT_FOV_DEG)
        )
        yield estimator.estimate(image, camera).poses


def _frames_from_detections(path: Path, sequence: Sequence3DPW) -> Iterator[FramePoses]:
    count = 0
    for _, message in read_frame_messages(path):
        count += 1
        yield poses_from_message(message, get_skeleton(message.skeleton).num_joints)
    if count != sequence.num_frames:
        raise InvalidInputError(
            f"{path}: {count} frames, but sequence {sequence.name} has {sequence.num_frames}"
        )
