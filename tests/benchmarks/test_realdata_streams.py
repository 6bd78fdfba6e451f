"""The stream runner's cache (decoded poses, placed for any camera) and the cue noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from realdata.cues import cue_samples
from realdata.streams import CachedFrame, CachingEstimator, load_frames, save_frames

from posecast.engines.geometry.camera import Camera
from synthetic.scenes import SceneConfig, generate_scene
from testdata import read_rgb


@pytest.fixture(scope="module")
def cached(estimator, tmp_path_factory) -> tuple[Path, np.ndarray, Camera]:
    """A cache of one real frame, made by the caching estimator around the real models."""
    image = read_rgb("vtest_frame000.jpg")
    height, width = image.shape[:2]
    camera = Camera.from_fov(width, height)
    path = tmp_path_factory.mktemp("cache") / "frames.npz"
    caching = CachingEstimator(path)
    caching._estimator = estimator  # the session's models instead of loading new ones
    caching.frame_key = "vtest/000000"
    direct = estimator.estimate(image, camera).poses
    via_cache = caching.estimate(image, camera).poses
    np.testing.assert_allclose(via_cache.joints_cam_m, direct.joints_cam_m, atol=1e-5)
    caching.save({"test": True})
    return path, image, camera


def test_a_cached_frame_is_placed_for_any_camera(cached) -> None:
    path, image, camera = cached
    reader = CachingEstimator(path, is_read_only=True)
    reader.frame_key = "vtest/000000"
    default = reader.estimate(image, camera).poses
    longer = Camera(K=camera.K * np.array([[1.5, 1, 1], [1, 1.5, 1], [1, 1, 1]]))
    zoomed = reader.estimate(image, longer).poses
    assert len(default) >= 3 and len(zoomed) == len(default)
    np.testing.assert_allclose(zoomed.joints2d_px, default.joints2d_px)
    # a longer focal length puts the same image 1.5 x farther away
    ratio = zoomed.joints_cam_m[..., 2].mean(axis=1) / default.joints_cam_m[..., 2].mean(axis=1)
    assert ratio == pytest.approx(np.full(len(default), 1.5), rel=0.1)
    reader.frame_key = "vtest/000001"
    with pytest.raises(KeyError, match="not in"):
        reader.estimate(image, camera)


def test_frames_round_trip(cached, tmp_path: Path) -> None:
    path, _, _ = cached
    frames, metadata = load_frames(path)
    assert metadata == {"test": True} and list(frames) == ["vtest/000000#default"]
    (frame,) = frames.values()
    empty = CachedFrame(frame.blazeposes.select(np.zeros(0, int)), (64, 48), {"total": 1.0})
    save_frames(tmp_path / "two.npz", {"a": frame, "b": empty}, {})
    again, _ = load_frames(tmp_path / "two.npz")
    np.testing.assert_array_equal(again["a"].blazeposes.landmarks_px, frame.blazeposes.landmarks_px)
    np.testing.assert_array_equal(
        again["a"].blazeposes.rois.centers_px, frame.blazeposes.rois.centers_px
    )
    assert len(again["b"].blazeposes) == 0 and again["b"].image_size_wh == (64, 48)


def test_cue_noise_tells_the_same_person_from_others() -> None:
    scene = generate_scene(SceneConfig(num_people=3, duration_s=3.0, miss_rate=0.0, seed=5))
    frames = list(scene.frames)
    samples = cue_samples(
        [frame.detections for frame in frames],
        [frame.timestamp_s for frame in frames],
        [frame.detection_person_ids for frame in frames],
    )
    recent = samples.unseen_s < 0.1
    for cue in ("position_m", "image"):
        same = samples.values[cue][recent & samples.is_same]
        others = samples.values[cue][recent & ~samples.is_same]
        assert np.median(same) < 0.2 * np.median(others[np.isfinite(others)])
    assert np.isnan(samples.values["appearance"]).all()  # the scene has no appearance
