"""``posecast track INPUT -o OUT.jsonl``: track everyone in a video, image folder or camera."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import cv2
from tqdm import tqdm

from posecast.clients.jsonl import frame_message_writer
from posecast.clients.media import FrameSource
from posecast.clients.options import (
    add_camera_options,
    add_model_options,
    add_skeleton_option,
    add_tracker_options,
    camera_for,
    estimator_for,
    tracker_config,
)
from posecast.clients.render import draw_skeletons, plot_trajectories
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame
from posecast.pipeline.wire import frame_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "track",
        help="track the 3D poses of everyone in a video, image folder or camera",
        description="Estimate and track camera-space 3D skeletons frame by frame; write one "
        "per-frame JSON message per line. Ctrl-C stops and keeps everything written so far.",
    )
    parser.add_argument("input", help="video file, folder of images, or camera index (e.g. 0)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSONL output file")
    parser.add_argument("--render", type=Path, help="also write a video with 2D skeletons")
    parser.add_argument("--plot", type=Path, help="also write a top-down plot of trajectories")
    parser.add_argument("--fps", type=float, help="frame rate of an image folder (default 10)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument(
        "--detect-every",
        type=int,
        default=1,
        metavar="K",
        help="speed mode: detect every K-th frame, follow people by their landmarks between",
    )
    parser.add_argument(
        "--no-tracking",
        action="store_true",
        help="write every frame's persons untracked (input for posecast retrack)",
    )
    add_model_options(parser)
    add_skeleton_option(parser)
    add_camera_options(parser)
    add_tracker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tracker = tracker_config(args)
    source = FrameSource(args.input, fps=args.fps)
    estimator = estimator_for(args)
    trajectories: dict[int, list[tuple[float, float]]] = defaultdict(list)
    with ExitStack() as stack:
        stack.enter_context(source)
        writer = stack.enter_context(frame_message_writer(args.output))
        stack.callback(_write_plot, args.plot, trajectories)
        renderer: list[cv2.VideoWriter] = []
        stack.callback(lambda: [video.release() for video in renderer])
        progress = stack.enter_context(
            tqdm(total=source.frame_count, unit="frame", desc="tracking", file=sys.stderr)
        )
        pipeline: StreamPipeline | None = None
        for frame in source.frames():
            if args.max_frames is not None and frame.index >= args.max_frames:
                break
            if pipeline is None:
                height, width = frame.image_rgb.shape[:2]
                camera = camera_for(args, width, height)
                config = StreamConfig(
                    args.skeleton,
                    camera,
                    tracker=tracker,
                    detect_every=args.detect_every,
                    is_tracking_enabled=not args.no_tracking,
                )
                pipeline = StreamPipeline(estimator, config)
            tracked = pipeline.process(frame.image_rgb, frame.timestamp_s)
            writer.write(frame_message(tracked, stream=str(args.input)))
            _collect_trajectories(tracked, trajectories)
            if args.render is not None:
                _render(args.render, renderer, frame.image_rgb, tracked, source.fps)
            progress.update()
            progress.set_postfix(people=len(tracked.poses), refresh=False)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _collect_trajectories(
    tracked: TrackedFrame, trajectories: dict[int, list[tuple[float, float]]]
) -> None:
    poses = tracked.poses
    for index in range(len(poses)):
        if poses.track_states[index] == "confirmed":
            centre = poses.joints_cam_m[index].mean(axis=0)
            trajectories[int(poses.track_ids[index])].append((float(centre[0]), float(centre[2])))


def _render(
    path: Path, renderer: list[cv2.VideoWriter], image_rgb, tracked: TrackedFrame, fps: float
) -> None:
    if not renderer:
        size = (tracked.width, tracked.height)
        renderer.append(cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size))
    overlay = draw_skeletons(image_rgb, tracked.poses)
    renderer[0].write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))


def _write_plot(path: Path | None, trajectories: dict[int, list[tuple[float, float]]]) -> None:
    if path is not None:
        cv2.imwrite(str(path), cv2.cvtColor(plot_trajectories(trajectories), cv2.COLOR_RGB2BGR))
