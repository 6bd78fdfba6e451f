"""``posecast track INPUT -o OUT.jsonl``: track everyone in a video, image folder or camera."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from posecast.clients.jsonl import frame_message_writer
from posecast.clients.media import FrameSource
from posecast.clients.options import (
    add_camera_options,
    add_model_options,
    add_scene_options,
    add_skeleton_option,
    add_tracker_options,
    estimator_for,
    output_skeleton,
    scene_configs,
    scene_for,
    tracker_config,
)
from posecast.clients.render import (
    GroundGrid,
    draw_ground_grid,
    draw_skeletons,
    ground_grid,
    plot_trajectories,
)
from posecast.engines.geometry.scene import Scene, SceneState
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
    parser.add_argument(
        "--render",
        type=Path,
        help="also write a video with 2D skeletons (and the ground grid and horizon once the "
        "scene is known)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        help="also write a top-down plot of trajectories (on the ground plane once the scene "
        "is known, else camera x and depth)",
    )
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
    parser.add_argument(
        "--include-predicted",
        action="store_true",
        help="also write the tracks searched for (predicted poses, state searching) and those that "
        "terminated, marked predicted: true (default: only the people seen in each frame)",
    )
    add_model_options(parser)
    add_skeleton_option(parser)
    add_camera_options(parser)
    add_scene_options(parser)
    add_tracker_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tracker = tracker_config(args)
    scene = scene_for(args)
    calibration, placement = scene_configs(args)
    source = FrameSource(args.input, fps=args.fps)
    estimator = estimator_for(args)
    trajectories = _Trajectories()
    with ExitStack() as stack:
        stack.enter_context(source)
        writer = stack.enter_context(frame_message_writer(args.output))
        stack.callback(trajectories.write_plot, args.plot)
        renderer = _VideoRenderer(args.render, source.fps) if args.render is not None else None
        if renderer is not None:
            stack.callback(renderer.close)
        progress = stack.enter_context(
            tqdm(total=source.frame_count, unit="frame", desc="tracking", file=sys.stderr)
        )
        pipeline: StreamPipeline | None = None
        for frame in source.frames():
            if args.max_frames is not None and frame.index >= args.max_frames:
                break
            if pipeline is None:
                config = StreamConfig(
                    output_skeleton(args, estimator),
                    scene=scene,
                    fov_deg=args.fov,
                    tracker=tracker,
                    detect_every=args.detect_every,
                    is_tracking_enabled=not args.no_tracking,
                    calibration=calibration,
                    placement=placement,
                    include_predicted=args.include_predicted,
                )
                pipeline = StreamPipeline(estimator, config)
            tracked = pipeline.process(frame.image_rgb, frame.timestamp_s)
            writer.write(frame_message(tracked, stream=str(args.input)))
            current = pipeline.scene.current(tracked.width, tracked.height)
            trajectories.add(tracked, current)
            if renderer is not None:
                renderer.write(frame.image_rgb, tracked, current)
            progress.update()
            progress.set_postfix(people=len(tracked.poses), refresh=False)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


class _Trajectories:
    """Each confirmed track's ground positions: on the ground plane's world frame once the
    scene is known (plotted right = -y, forward = x, the camera at the origin), in the user's
    world frame with extrinsics (x, y), else camera x and depth z (the mean of the joints)."""

    def __init__(self) -> None:
        self.camera: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.world: dict[int, list[tuple[float, float]]] = defaultdict(list)
        self.is_user_world = False

    def add(self, tracked: TrackedFrame, scene: Scene) -> None:
        poses = tracked.poses
        self.is_user_world = scene.camera.world_from_camera is not None
        for index in range(len(poses)):
            if poses.track_states[index] != "confirmed":
                continue
            track_id = int(poses.track_ids[index])
            centre = poses.joints_cam_m[index].mean(axis=0)
            self.camera[track_id].append((float(centre[0]), float(centre[2])))
            if poses.joints_world_m is not None:
                x, y = poses.joints_world_m[index].mean(axis=0)[:2]
                point = (float(x), float(y)) if self.is_user_world else (-float(y), float(x))
                self.world[track_id].append(point)

    def write_plot(self, path: Path | None) -> None:
        if path is None:
            return
        if self.world and self.is_user_world:
            picture = plot_trajectories(self.world, axis_names=("world x (m)", "world y (m)"))
        elif self.world:
            names = ("right, -y (m)", "forward on the ground, x (m)")
            picture = plot_trajectories(self.world, axis_names=names, camera_m=(0.0, 0.0))
        else:
            picture = plot_trajectories(self.camera)
        cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


class _VideoRenderer:
    """``--render``: the video with the skeletons and, once the scene is known, its ground
    grid (computed once per scene: the camera is fixed)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self._video: cv2.VideoWriter | None = None
        self._grid_scene: Scene | None = None
        self._grid: GroundGrid | None = None

    def write(self, image_rgb: np.ndarray, tracked: TrackedFrame, scene: Scene) -> None:
        if self._video is None:
            size = (tracked.width, tracked.height)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._video = cv2.VideoWriter(str(self.path), fourcc, self.fps, size)
        if scene.state in (SceneState.GIVEN, SceneState.CALIBRATED):
            if scene is not self._grid_scene:
                self._grid_scene = scene
                self._grid = ground_grid(scene, (tracked.width, tracked.height))
            image_rgb = draw_ground_grid(image_rgb, self._grid)
        overlay = draw_skeletons(image_rgb, tracked.poses)
        self._video.write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
