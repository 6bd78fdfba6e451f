"""``posecast calibrate VIDEO -o camera.json``: a fixed camera's scene from the people it sees.

Runs the pipeline over the video (every ``--every``-th frame, people tracked), keeps the
upright people with their feet and head seen, and solves the scene once at the end: focal
length (unless ``--camera`` gives K), camera height, pitch and roll, with their uncertainty
(docs/scene.md). The file it writes is a scene file that ``track``, ``pose`` and the stream
config take with ``--camera`` / ``intrinsics``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from tqdm import tqdm

from posecast.clients.media import FrameSource
from posecast.clients.options import (
    add_camera_options,
    add_model_options,
    add_scene_options,
    estimator_for,
    scene_configs,
    scene_for,
)
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.scene import Scene, SceneState, SceneUncertainty
from posecast.engines.geometry.scene_calibration import NotEnoughEvidence, SceneEstimate
from posecast.engines.geometry.scene_config import PlacementConfig
from posecast.errors import InvalidInputError
from posecast.pipeline.stream import StreamConfig, StreamPipeline

NO_REFIT_FRAMES = 100000
"""The stream's own periodic solves are switched off: one solve at the end."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="estimate a fixed camera's ground plane (and focal length) from its people",
        description="Self-calibrate a fixed camera from the standing and walking people in a "
        "video: focal length (unless --camera gives K), camera height, pitch and roll, with "
        "their uncertainty. Writes a scene file for --camera.",
    )
    parser.add_argument("input", help="video file, folder of images, or camera index")
    parser.add_argument("-o", "--output", type=Path, required=True, help="scene file to write")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th frame")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 10)")
    parser.add_argument(
        "--allow-uncertain",
        action="store_true",
        help="write the estimate even when its uncertainty is above the calibration bounds",
    )
    add_model_options(parser)
    add_camera_options(parser)
    add_scene_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.every < 1:
        raise InvalidInputError(f"--every must be at least 1, got {args.every}")
    if args.engine != "blazepose":
        raise InvalidInputError("calibrate reads BlazePose's feet and face: use --engine blazepose")
    given = scene_for(args)
    if given is not None and given.state is SceneState.GIVEN:
        raise InvalidInputError(
            f"{args.intrinsics} already gives the ground (or extrinsics): nothing to calibrate"
        )
    calibration, _ = scene_configs(args, is_enabled=True, refit_every_frames=NO_REFIT_FRAMES)
    config = StreamConfig(
        scene=given,
        fov_deg=args.fov,
        calibration=calibration,
        placement=PlacementConfig(is_enabled=False),
    )
    pipeline = StreamPipeline(estimator_for(args), config)
    size: tuple[int, int] | None = None
    frames_used = 0
    with FrameSource(args.input, fps=args.fps) as source:
        progress = tqdm(total=source.frame_count, unit="frame", desc="calibrating", file=sys.stderr)
        with progress:
            for frame in source.frames():
                if args.max_frames is not None and frame.index >= args.max_frames:
                    break
                progress.update()
                if frame.index % args.every:
                    continue
                height, width = frame.image_rgb.shape[:2]
                size = (width, height)
                pipeline.process(frame.image_rgb, frame.timestamp_s)
                frames_used += 1
    if size is None:
        raise InvalidInputError(f"{args.input}: no frames")
    pipeline.scene.refit(*size)
    estimate = pipeline.scene.estimate
    if isinstance(estimate, NotEnoughEvidence) or estimate is None:
        reason = "no frames with people" if estimate is None else estimate.reason
        raise InvalidInputError(f"not enough evidence to calibrate: {reason}")
    print(describe(estimate), file=sys.stderr)
    if not estimate.is_converged and not args.allow_uncertain:
        raise InvalidInputError(
            "the estimate is still too uncertain (bounds: --calibration-max-*-sd options); "
            "use more frames, or --allow-uncertain to write it anyway"
        )
    distortion = given.camera.distortion if given is not None else None
    scene = Scene(
        camera=Camera(K=estimate.K, distortion=distortion),
        ground=estimate.ground,
        state=SceneState.CALIBRATED if estimate.is_converged else SceneState.CALIBRATING,
        uncertainty=SceneUncertainty(
            focal_px_sd=estimate.focal_px_sd,
            camera_height_m_sd=estimate.camera_height_m_sd,
            pitch_deg_sd=estimate.pitch_deg_sd,
            roll_deg_sd=estimate.roll_deg_sd,
            people=estimate.num_people,
            observations=estimate.num_observations,
        ),
        image_size_wh=size,
        source=f"posecast calibrate {args.input} ({frames_used} frames)",
    )
    scene.to_json(args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def describe(estimate: SceneEstimate) -> str:
    """One line per figure of a calibration, with its standard deviation."""
    width = 2.0 * estimate.K[0, 2] + 1.0
    height = 2.0 * estimate.K[1, 2] + 1.0
    fov = 2.0 * math.degrees(math.atan(max(width, height) / 2.0 / estimate.focal_px))
    ground = estimate.ground
    given = "" if estimate.is_focal_estimated else " (given)"
    return "\n".join(
        [
            f"focal length   {estimate.focal_px:8.1f} px +- {estimate.focal_px_sd:.1f}{given} "
            f"(field of view {fov:.1f} deg)",
            f"camera height  {ground.camera_height_m:8.3f} m  +- {estimate.camera_height_m_sd:.3f}",
            f"pitch          {math.degrees(ground.pitch_rad):8.2f} deg +- "
            f"{estimate.pitch_deg_sd:.2f}",
            f"roll           {math.degrees(ground.roll_rad):8.2f} deg +- "
            f"{estimate.roll_deg_sd:.2f}",
            f"evidence       {estimate.num_people} people, {estimate.num_observations} "
            f"observations, {estimate.num_inliers} fit",
            f"state          {'calibrated' if estimate.is_converged else 'calibrating'}",
        ]
    )
