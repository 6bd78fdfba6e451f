"""The synthetic scenes, and identities surviving crossings in them."""

from collections import Counter, defaultdict

import numpy as np

from posecast.tracker.tracker import Tracker
from synthetic.scenes import HIP_JOINTS, SceneConfig, generate_scene


def test_scene_is_deterministic_given_the_seed() -> None:
    config = SceneConfig(num_people=3, duration_s=2.0, seed=7)
    first, second = generate_scene(config), generate_scene(config)
    assert [f.timestamp_s for f in first.frames] == [f.timestamp_s for f in second.frames]
    assert all(
        np.array_equal(a.detections.joints_cam_m, b.detections.joints_cam_m)
        for a, b in zip(first.frames, second.frames, strict=True)
    )


def test_scene_keeps_people_apart_and_walking_speeds_realistic() -> None:
    scene = generate_scene(SceneConfig(num_people=5, min_separation_m=0.5, seed=3))
    assert 0.5 <= scene.min_distance_m < 1.0  # they do come close
    roots: dict[int, list[tuple[float, np.ndarray]]] = defaultdict(list)
    for frame in scene.frames:
        for person_id, root in zip(frame.person_ids, frame.roots_cam_m, strict=True):
            roots[int(person_id)].append((frame.timestamp_s, root))
    for track in roots.values():
        (t0, start), (t1, end) = track[0], track[-1]
        if t1 - t0 > 2.0:
            speed_m_s = np.linalg.norm((end - start)[[0, 2]]) / (t1 - t0)
            assert 0.8 <= speed_m_s <= 1.7  # curved paths: chord speed a bit below 1.0-1.6


def test_scene_detections_are_noisy_truth_with_misses_and_dropped_frames() -> None:
    config = SceneConfig(num_people=4, joint_noise_m=0.03, miss_rate=0.1, drop_rate=0.1, seed=5)
    scene = generate_scene(config)
    assert len(scene.frames) < 300 * 0.95  # about 10 % of 300 frames dropped
    residuals, num_visible, num_detected = [], 0, 0
    for frame in scene.frames:
        truth = dict(zip(frame.person_ids.tolist(), frame.roots_cam_m, strict=True))
        num_visible += len(truth)
        for person_id, joints in zip(
            frame.detection_person_ids, frame.detections.joints_cam_m, strict=True
        ):
            if person_id >= 0:
                num_detected += 1
                residuals.append(joints[list(HIP_JOINTS)].mean(axis=0) - truth[person_id])
    noise_m = np.std(residuals)
    assert 0.03 / np.sqrt(2) * 0.8 < noise_m < 0.03 / np.sqrt(2) * 1.2  # mean of two joints
    assert 0.7 < num_detected / num_visible < 0.92  # 10 % misses plus occlusions


def test_identities_survive_crossings() -> None:
    # Crossings at >= 0.5 m, 10 % misses, occlusions up to 1 s, 3 cm noise, false detections.
    for seed in (11, 12):
        config = SceneConfig(num_people=5, min_separation_m=0.5, close_pass_fraction=1.0, seed=seed)
        scene = generate_scene(config)
        assert scene.min_distance_m < 0.8
        tracker = Tracker()
        ids_per_person: dict[int, Counter] = defaultdict(Counter)
        for frame in scene.frames:
            out = tracker.update(frame.detections, frame.timestamp_s)
            for i, person_id in enumerate(frame.detection_person_ids):
                if out.track_states[i] == "confirmed":
                    ids_per_person[int(person_id)][int(out.track_ids[i])] += 1
        false_tracks = ids_per_person.pop(-1, Counter())
        assert sum(false_tracks.values()) <= 2
        owners: dict[int, int] = {}
        for person_id, counts in ids_per_person.items():
            track_id, count = counts.most_common(1)[0]
            assert count / sum(counts.values()) >= 0.97, (person_id, counts)
            assert owners.setdefault(track_id, person_id) == person_id
