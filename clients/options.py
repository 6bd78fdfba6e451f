"""Command-line options shared by the subcommands, and what they build.

Tracker options are generated from the ``posecast.settings.setting`` declarations of
``TrackerConfig`` and ``SmoothingConfig`` (the same ones the wire schema uses), so every
threshold has one name, one default, one help text and one range everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from posecast.engines.assets import DEFAULT_MODEL_DIR
from posecast.engines.detectors.base import DetectorConfig, parse_input_size_wh
from posecast.engines.detectors.loading import DETECTOR_NAMES
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.engines.geometry.skeletons import BUILTIN_SKELETONS
from posecast.engines.metrabs.estimator import MetrabsConfig, MetrabsEstimator
from posecast.engines.runtimes import RuntimeOptions
from posecast.engines.runtimes.base import PROVIDERS, TritonOptions
from posecast.settings import bounded_fields
from posecast.tracker.config import SmoothingConfig, TrackerConfig

ENGINES = ("blazepose", "metrabs")
"""Pose engines: the shipped BlazePose, or a MeTRAbs model the user converted (docs/metrabs.md)."""


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="blazepose",
        help="pose engine: blazepose (shipped) or metrabs (your converted MeTRAbs model in "
        "--model-dir, see docs/metrabs.md)",
    )
    group.add_argument(
        "--model", choices=("lite", "full", "heavy"), default="full", help="BlazePose variant"
    )
    group.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="cpu",
        help="where the models run (GPU providers: docs/gpu.md)",
    )
    group.add_argument(
        "--fp16",
        action="store_true",
        help="half precision on tensorrt, tensorrt-ep and torch (compare accuracy first)",
    )
    group.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="torch provider: replay CUDA graphs captured per batch size",
    )
    group.add_argument(
        "--engine-cache-dir",
        type=Path,
        metavar="DIR",
        help="where TensorRT engines are kept between runs (default ~/.cache/posecast/engines "
        "or $POSECAST_ENGINE_CACHE_DIR)",
    )
    group.add_argument(
        "--triton-url",
        metavar="HOST:PORT",
        default=TritonOptions.url,
        help="provider triton: gRPC address of the Triton server (docs/deploy.md)",
    )
    group.add_argument(
        "--threads", type=int, default=0, help="threads per model run (0: all cores)"
    )
    group.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="folder of user-supplied models with their manifest (the heavy landmark model, "
        "a prepared YOLOX-Nano, a converted MeTRAbs model); models it does not list come from "
        "the shipped ones",
    )
    group.add_argument(
        "--tta",
        type=int,
        default=1,
        metavar="N",
        help="test-time augmentation: N rotated/scaled/flipped crops per person (1: off)",
    )
    detection = parser.add_argument_group("person detection")
    detection.add_argument(
        "--detector",
        choices=DETECTOR_NAMES,
        default="nanodet",
        help="person detector: nanodet (shipped) or yolox-nano (user-supplied, prepared in "
        "--model-dir with 'posecast models prepare-yolox DIR')",
    )
    detection.add_argument(
        "--min-person-height",
        type=float,
        default=DetectorConfig.min_person_height_px,
        metavar="PX",
        help="height in frame pixels of the smallest person to find; sets the detector's "
        "input size (lower: smaller people, slower; default %(default)s)",
    )
    detection.add_argument(
        "--detector-input",
        type=parse_input_size_wh,
        metavar="WxH",
        help="a fixed detector input size instead of the rule (multiples of 32; needed for "
        "TensorRT), e.g. 960x544",
    )


def add_skeleton_option(parser: argparse.ArgumentParser) -> None:
    builtin = ", ".join(skeleton.name for skeleton in BUILTIN_SKELETONS)
    parser.add_argument(
        "--skeleton",
        metavar="NAME",
        help=f"output joint set: {builtin}, or one a MeTRAbs model offers (metrabs_*); "
        "default: the engine's own (blazepose_33; smpl_24 for MeTRAbs)",
    )


def output_skeleton(args: argparse.Namespace, estimator: Any) -> str:
    """The joint set ``--skeleton`` asks for, else the engine's default."""
    if args.skeleton:
        return str(args.skeleton)
    return str(getattr(estimator, "default_skeleton", "blazepose_33"))


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
        "--camera",
        "--intrinsics",
        dest="intrinsics",
        type=Path,
        metavar="FILE",
        help='JSON camera or scene file (docs/scene.md): {"K": [[fx,0,cx],[0,fy,cy],[0,0,1]], '
        '"distortion": [...], "ground": {...}}, e.g. from posecast calibrate',
    )


def estimator_for(args: argparse.Namespace) -> PoseEstimator | MetrabsEstimator:
    """The estimator the model options describe."""
    detector = DetectorConfig(
        min_person_height_px=args.min_person_height, input_size_wh=args.detector_input
    )
    options = RuntimeOptions(
        provider=args.provider,
        intra_op_threads=args.threads,
        fp16=args.fp16,
        cuda_graphs=args.cuda_graphs,
        engine_cache_dir=args.engine_cache_dir,
        triton=TritonOptions(url=args.triton_url),
    )
    if getattr(args, "engine", "blazepose") == "metrabs":
        metrabs = MetrabsConfig(
            num_augmentations=args.tta, detector_model=args.detector, detector=detector
        )
        return MetrabsEstimator.from_model_dir(args.model_dir, metrabs, options)
    config = EstimatorConfig(
        pose_model=args.model,
        num_augmentations=args.tta,
        detector_model=args.detector,
        detector=detector,
    )
    return PoseEstimator.from_config(config, options, args.model_dir)


def scene_for(args: argparse.Namespace) -> Scene | None:
    """The scene file of ``--camera``, or None.

    Raises:
        InvalidInputError: an unreadable or malformed file (the message names it).
    """
    return None if args.intrinsics is None else Scene.from_json(args.intrinsics)


def add_scene_options(parser: argparse.ArgumentParser) -> None:
    """Self-calibration and placement settings as options (absent: the default)."""
    _add_settings(
        parser.add_argument_group("scene self-calibration"),
        CalibrationConfig,
        "calibration_",
        "calibration-",
    )
    _add_settings(
        parser.add_argument_group("placement"), PlacementConfig, "placement_", "placement-"
    )


def scene_configs(
    args: argparse.Namespace, **calibration_overrides: Any
) -> tuple[CalibrationConfig, PlacementConfig]:
    """The settings the scene options (``add_scene_options``) ask for.

    Raises:
        InvalidInputError: a value out of its range.
    """
    calibration = _given(args, CalibrationConfig, "calibration_") | calibration_overrides
    placement = _given(args, PlacementConfig, "placement_")
    return CalibrationConfig(**calibration), PlacementConfig(**placement)


def _given(args: argparse.Namespace, config_type: type, prefix: str) -> dict[str, Any]:
    values = {spec.name: getattr(args, prefix + spec.name) for spec in bounded_fields(config_type)}
    return {name: value for name, value in values.items() if value is not None}


def _add_settings(
    group: argparse._ArgumentGroup, config_type: type, prefix: str, option_prefix: str = ""
) -> None:
    """One option per setting; a setting named ``is_enabled`` becomes ``--GROUP/--no-GROUP``."""
    for spec in bounded_fields(config_type):
        default = spec.default if spec.default is not MISSING else None
        dest = prefix + spec.name
        name = "--" + option_prefix + spec.name.replace("_", "-")
        if spec.name == "is_enabled":
            name = "--" + option_prefix.rstrip("-")
        if isinstance(default, bool):
            help_text = f"{spec.metadata['help']} (default {default})"
            action = argparse.BooleanOptionalAction
            group.add_argument(name, dest=dest, action=action, default=None, help=help_text)
            continue
        bounds = spec.metadata["bounds"].describe()
        help_text = f"{spec.metadata['help']} (default {default}; {bounds})"
        metavar = "N" if isinstance(default, int) else "X"
        group.add_argument(
            name, dest=dest, type=type(default), default=None, metavar=metavar, help=help_text
        )


def add_tracker_options(parser: argparse.ArgumentParser) -> None:
    """Every tracker and smoothing threshold as an option (absent: the default)."""
    _add_settings(parser.add_argument_group("tracker"), TrackerConfig, "tracker_")
    smoothing = parser.add_argument_group("smoothing")
    _add_settings(smoothing, SmoothingConfig, "smoothing_", "smoothing-")


def tracker_config(args: argparse.Namespace, **overrides: Any) -> TrackerConfig:
    """The tracker settings the tracker options (``add_tracker_options``) ask for.

    Raises:
        InvalidInputError: a value out of its range, or inconsistent values.
    """

    def given(config_type: type, prefix: str) -> dict[str, Any]:
        values = {
            spec.name: getattr(args, prefix + spec.name) for spec in bounded_fields(config_type)
        }
        return {name: value for name, value in values.items() if value is not None}

    smoothing = SmoothingConfig(**given(SmoothingConfig, "smoothing_"))
    return TrackerConfig(**given(TrackerConfig, "tracker_"), smoothing=smoothing, **overrides)
