"""Reading a few frames of a video or image folder into memory, for benchmarks."""

from __future__ import annotations

import numpy as np

from posecast.clients.media import FrameSource


def read_frames(spec: str, count: int, every: int = 1) -> list[np.ndarray]:
    """Up to ``count`` RGB frames of a source, taking every ``every``-th."""
    frames: list[np.ndarray] = []
    with FrameSource(spec) as source:
        for frame in source.frames():
            if len(frames) >= count:
                break
            if frame.index % every == 0:
                frames.append(frame.image_rgb)
    return frames
