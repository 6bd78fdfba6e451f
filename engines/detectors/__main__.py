"""``python -m posecast.engines.detectors prepare-yolox DIR``: make a user's official
YOLOX-Nano export in DIR usable by posecast (see ``posecast.engines.detectors.yolox``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from posecast.engines.detectors.yolox import prepare_yolox_nano
from posecast.errors import PosecastError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posecast.engines.detectors")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser(
        "prepare-yolox",
        help="check DIR/yolox_nano.onnx, write DIR/yolox_nano_dynamic.onnx and its manifest entry",
    )
    prepare.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        prepare_yolox_nano(args.model_dir)
    except PosecastError as error:
        logging.getLogger("posecast").error("error: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
