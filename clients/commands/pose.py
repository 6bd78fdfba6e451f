"""``posecast pose IMAGE``: every person of one image as a per-frame message (untracked)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from posecast.clients.options import (
    add_camera_options,
    add_model_options,
    add_scene_options,
    add_skeleton_option,
    estimator_for,
    output_skeleton,
    scene_configs,
    scene_for,
)
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.scene import Scene
from posecast.engines.images import read_image
from posecast.pipeline.scene import place_single_image, scene_status
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
    add_scene_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _, placement = scene_configs(args)
    image = read_image(args.image)
    height, width = image.shape[:2]
    scene = scene_for(args) or Scene(camera=Camera.from_fov(width, height, args.fov))
    scene.check_image_size(width, height)
    estimator = estimator_for(args)
    estimate = estimator.estimate(image, scene.camera)
    poses, placements = place_single_image(estimate.poses, scene, (width, height), placement)
    message = single_image_message(
        poses.to_skeleton(output_skeleton(args, estimator)),
        width,
        height,
        estimate.timing_ms,
        str(args.image),
        placements,
        scene_status(scene),
    )
    text = message.model_dump_json(indent=None) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"{len(message.persons)} persons -> {args.output}", file=sys.stderr)
    return 0
