"""Command-line options shared by the subcommands that run models, and what they build."""

from __future__ import annotations

import argparse
from pathlib import Path

from posecast.engines.assets import DEFAULT_MODEL_DIR
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.skeletons import SKELETONS
from posecast.engines.runtimes import RuntimeOptions


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument(
        "--model", choices=("lite", "full", "heavy"), default="full", help="BlazePose variant"
    )
    group.add_argument(
        "--skeleton", choices=sorted(SKELETONS), default="blazepose_33", help="output joint set"
    )
    group.add_argument(
        "--provider",
        choices=("cpu", "cuda", "tensorrt-ep", "tensorrt"),
        default="cpu",
        help="where the models run (GPU providers need the gpu extra)",
    )
    group.add_argument(
        "--threads", type=int, default=0, help="threads per model run (0: all cores)"
    )
    group.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="folder with the ONNX models and their manifest (default: the shipped ones)",
    )
    group.add_argument(
        "--tta",
        type=int,
        default=1,
        metavar="N",
        help="test-time augmentation: N rotated/scaled/flipped crops per person (1: off)",
    )


def add_camera_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("camera")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--fov",
        type=float,
        default=DEFAULT_FOV_DEG,
        metavar="DEG",
        help=f"field of view of the longer image side, if the intrinsics are unknown "
        f"(default {DEFAULT_FOV_DEG})",
    )
    exclusive.add_argument(
        "--intrinsics",
        type=Path,
        metavar="FILE",
        help='JSON camera file: {"K": [[fx,0,cx],[0,fy,cy],[0,0,1]], "distortion": [...]}',
    )


def estimator_for(args: argparse.Namespace) -> PoseEstimator:
    """The estimator the model options describe."""
    config = EstimatorConfig(pose_model=args.model, num_augmentations=args.tta)
    options = RuntimeOptions(provider=args.provider, intra_op_threads=args.threads)
    return PoseEstimator.from_config(config, options, args.model_dir)


def camera_for(args: argparse.Namespace, width: int, height: int) -> Camera:
    """The camera the camera options describe, for an image of this size."""
    if args.intrinsics is not None:
        return Camera.from_json(args.intrinsics)
    return Camera.from_fov(width, height, args.fov)
