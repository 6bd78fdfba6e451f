"""Identities through the stream pipeline on generated images of differently dressed people:
the pipeline computes appearance descriptors from the pixels, the tracker re-identifies; and
the output policy (people seen by default, predicted rows only when asked)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.scene_config import CalibrationConfig
from posecast.pipeline.stream import StreamConfig, StreamPipeline
from posecast.pipeline.wire import frame_message
from synthetic.people import (
    GREEN_ON_GREY,
    RED_ON_BLUE,
    Outfit,
    draw_people,
    intrinsics,
    project,
    standing_person_m,
)

SIZE_WH = (640, 480)
K = intrinsics(SIZE_WH)
RATE_HZ = 7.0
"""PETS09's frame rate."""


class ScriptedEstimator:
    """Returns the people of the frame the test drew (``FrameEstimator``)."""

    def __init__(self) -> None:
        self.poses: FramePoses | None = None

    def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera | None = None,
        followed_rois: Roi | None = None,
        detect: bool = True,
    ) -> FrameEstimate:
        assert self.poses is not None
        return FrameEstimate(self.poses, {"total": 0.0}, {}, Roi.empty())


def _scene(
    people: list[tuple[float, float, Outfit]], rng: np.random.Generator, depth_noise_m: float
) -> tuple[np.ndarray, FramePoses]:
    """The image of people at ground points (x, z) (drawn in order: later in front) and their
    poses, whose ranges carry monocular noise (same image, other range)."""
    joints_m = [standing_person_m(x, z) for x, z, _ in people]
    joints2d = [project(joints, K) for joints in joints_m]
    image = draw_people(SIZE_WH, joints2d, [outfit for *_, outfit in people], int(rng.integers(99)))
    if not people:
        return image, FramePoses.empty("blazepose_33", 33)
    noisy = [j * (1 + rng.normal(0, depth_noise_m) / j[:, 2].mean()) for j in joints_m]
    poses = FramePoses(
        skeleton="blazepose_33",
        boxes_xyxy=np.array([np.r_[p.min(axis=0), p.max(axis=0)] for p in joints2d]),
        scores=np.full(len(people), 0.95),
        joints2d_px=np.array(joints2d),
        joints_cam_m=np.array(noisy),
        joint_scores=np.ones((len(people), 33)),
    )
    return image, poses


def _pipeline(**config) -> tuple[StreamPipeline, ScriptedEstimator]:
    estimator = ScriptedEstimator()
    stream = StreamConfig(
        camera=Camera(K=K), calibration=CalibrationConfig(is_enabled=False), **config
    )
    return StreamPipeline(estimator, stream), estimator


def _occlusion_walk(k: int) -> list[tuple[float, float, Outfit]]:
    """Red/blue walks left to right at 1.4 m/s, 12 m away, hidden behind a pillar from frame
    10 to 30 (3 s); green/grey stands 2 m to the side the whole time."""
    people = [(2.0, 12.0, GREEN_ON_GREY)]
    if not 10 <= k <= 30:
        people.insert(0, (-3.0 + 1.4 * k / RATE_HZ, 12.0, RED_ON_BLUE))
    return people


def test_re_identification_after_a_full_occlusion() -> None:
    pipeline, estimator = _pipeline()
    rng = np.random.default_rng(0)
    ids_before = ids_after = None
    for k in range(40):
        image, estimator.poses = _scene(_occlusion_walk(k), rng, depth_noise_m=0.4)
        tracked = pipeline.process(image, k / RATE_HZ)
        ids = tracked.poses.track_ids.tolist()
        if k == 9:
            ids_before = ids
        if k == 39:
            ids_after = ids
    assert ids_before is not None and len(set(ids_before)) == 2
    assert ids_after == ids_before  # red/blue came back under its id, green/grey kept its own


def test_output_policy_seen_by_default_predicted_when_asked() -> None:
    for include_predicted in (False, True):
        pipeline, estimator = _pipeline(include_predicted=include_predicted)
        rng = np.random.default_rng(0)
        messages = []
        for k in range(14):
            image, estimator.poses = _scene(_occlusion_walk(k), rng, depth_noise_m=0.1)
            messages.append(frame_message(pipeline.process(image, k / RATE_HZ), "cam"))
        hidden = messages[12]  # red/blue hidden since frame 10: searching
        states = [(p.state, p.predicted) for p in hidden.persons]
        if include_predicted:
            assert states == [("confirmed", False), ("searching", True)]
            assert hidden.persons[1].score == 0.0
        else:
            assert states == [("confirmed", False)]
        assert all(not p.predicted for p in messages[5].persons)


def _owners_of_two_walkers(
    seed: int, offsets_m: Callable[[int], tuple[float, float]], is_hidden: Callable[[int], bool]
) -> dict[str, set[int]]:
    """Track ids each of two walkers (green 12 m away, red 11 m, lateral offsets per frame)
    got over 30 frames, from the fourth on; green, behind red, is left out where hidden."""
    pipeline, estimator = _pipeline()
    rng = np.random.default_rng(seed)
    owners: dict[str, set[int]] = {"red": set(), "green": set()}
    for k in range(30):
        x_green, x_red = offsets_m(k)
        people = [(x_green, 12.0, GREEN_ON_GREY), (x_red, 11.0, RED_ON_BLUE)]
        names = ["green", "red"]
        if is_hidden(k):
            people, names = people[1:], names[1:]
        image, estimator.poses = _scene(people, rng, depth_noise_m=0.5)
        tracked = pipeline.process(image, k / RATE_HZ)
        if k >= 3:
            for name, track_id in zip(names, tracked.poses.track_ids, strict=True):
                owners[name].add(int(track_id))
    return owners


def test_crossing_of_two_differently_dressed_people() -> None:
    # They walk through each other in the image, 11 and 12 m away, with monocular depth noise
    # of 0.5 m; while they overlap the one behind is hidden for three frames.
    def offsets_m(k: int) -> tuple[float, float]:
        return 2.5 - 0.18 * k, -2.5 + 0.18 * k

    def is_hidden(k: int) -> bool:
        x_green, x_red = offsets_m(k)
        return abs(x_red - x_green) < 0.5

    owners = _owners_of_two_walkers(3, offsets_m, is_hidden)
    assert len(owners["red"]) == 1 and len(owners["green"]) == 1
    assert owners["red"] != owners["green"]


def test_two_people_who_meet_and_turn_back_keep_their_identities() -> None:
    # Walking towards each other, they meet (the one behind hidden for three frames) and walk
    # back the way they came: motion alone predicts a crossing, appearance tells who is who.
    def offsets_m(k: int) -> tuple[float, float]:
        offset_m = 2.5 - 0.18 * min(k, 14) + 0.18 * max(k - 14, 0)  # 0 at frame 14
        return offset_m - 0.1, -offset_m

    owners = _owners_of_two_walkers(4, offsets_m, lambda k: 13 <= k <= 15)
    assert len(owners["red"]) == 1 and len(owners["green"]) == 1
    assert owners["red"] != owners["green"]
