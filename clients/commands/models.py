"""``posecast models prepare-yolox DIR``: make a user-supplied model usable by posecast.

posecast ships NanoDet; YOLOX-Nano (Apache-2.0) finds more people per millisecond but cannot
ship with it. A user puts the official ``yolox_nano.onnx`` in a folder and prepares it once:
its signature and sha256 are checked, its fixed batch and input size made dynamic, and the
result recorded in the folder's manifest; then ``--detector yolox-nano --model-dir DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="prepare user-supplied models (YOLOX-Nano)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    prepare = commands.add_parser(
        "prepare-yolox",
        help="check DIR/yolox_nano.onnx, write DIR/yolox_nano_dynamic.onnx and its manifest",
        description="Needs the 'yolox' extra (pip install 'posecast[yolox]') for the onnx "
        "package; running the prepared model afterwards needs only onnxruntime.",
    )
    prepare.add_argument("model_dir", type=Path, metavar="DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from posecast.engines.detectors.yolox import prepare_yolox_nano

    path = prepare_yolox_nano(args.model_dir)
    print(
        f"prepared {path}; use --detector yolox-nano --model-dir {args.model_dir}", file=sys.stderr
    )
    return 0
