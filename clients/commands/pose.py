"""``posecast pose IMAGE``: every person of one image as a per-frame message (untracked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from posecast.clients.options import (
    add_camera_options,
    add_model_options,
    add_skeleton_option,
    camera_for,
    estimator_for,
)
from posecast.engines.images import read_image
from posecast.pipeline.stream import with_world_joints
from posecast.pipeline.wire import single_image_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pose",
        help="estimate the 3D poses of every person in one image",
        description="Detect every person in IMAGE and write their camera-space 3D skeletons "
        "as one per-frame message (JSON).",
    )
    parser.add_argument("image", type=Path, help="image file (JPEG, PNG, ...)")
    parser.add_argument(
        "-o", "--output", type=Path, help="write the JSON message here (default: stdout)"
    )
    add_model_options(parser)
    add_skeleton_option(parser)
    add_camera_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    image = read_image(args.image)
    height, width = image.shape[:2]
    camera = camera_for(args, width, height)
    estimate = estimator_for(args).estimate(image, camera)
    poses = with_world_joints(estimate.poses, camera).to_skeleton(args.skeleton)
    message = single_image_message(poses, width, height, estimate.timing_ms, str(args.image))
    text = message.model_dump_json(indent=None) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"{len(message.persons)} persons -> {args.output}", file=sys.stderr)
    return 0
