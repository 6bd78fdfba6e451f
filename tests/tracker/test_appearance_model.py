"""A track's appearance model: average, capped gallery, distances."""

import numpy as np
import pytest

from posecast.tracker.appearance import AppearanceModel, cosine_distance_matrix


def _model(size: int = 4, interval_s: float = 0.5, time_constant_s: float = 1.0):
    return AppearanceModel(
        time_constant_s=time_constant_s, gallery_size=size, gallery_interval_s=interval_s
    )


def test_gallery_is_capped_whatever_the_track_length() -> None:
    model = _model(size=4, interval_s=0.0)
    rng = np.random.default_rng(0)
    for k in range(1000):
        model.update(rng.random(32), k / 30)
    assert len(model.gallery) == 4  # the bound on a track's memory
    assert model.mean is not None and model.mean.shape == (32,)


def test_gallery_keeps_one_descriptor_per_interval() -> None:
    model = _model(size=100, interval_s=0.5)
    for k in range(60):  # 2 s at 30 Hz
        model.update(np.eye(8)[k % 8] + 1.0, k / 30)
    assert len(model.gallery) == 4  # at 0, 0.5, 1.0 and 1.5 s


def test_average_follows_a_change_with_its_time_constant() -> None:
    model = _model(time_constant_s=1.0)
    before, after = np.eye(4)[0], np.eye(4)[1]
    model.update(before, 0.0)
    for k in range(1, 16):  # half a time constant at 30 Hz: still closer to the old look
        model.update(after, k / 30)
    assert model.distances(before[None])[0] < model.distances(after[None])[0]
    for k in range(16, 151):  # five time constants: the new look
        model.update(after, k / 30)
    assert model.distances(after[None])[0] < 0.01


def test_zero_descriptors_are_ignored() -> None:
    model = _model()
    model.update(np.zeros(8), 0.0)
    assert not model.is_known
    model.update(np.ones(8), 0.1)
    model.update(np.zeros(8), 0.2)
    assert model.mean == pytest.approx(np.ones(8) / np.sqrt(8))


def test_nearest_distance_uses_the_gallery() -> None:
    model = _model(size=8, interval_s=0.0, time_constant_s=0.01)
    old, new = np.eye(4)[0], np.eye(4)[1]
    model.update(old, 0.0)
    model.update(new, 1.0)  # the average has moved on to the new look
    assert model.distances(old[None])[0] == pytest.approx(1.0, abs=1e-3)
    assert model.nearest_distances(old[None])[0] == pytest.approx(0.0, abs=1e-9)
    unknown = _model()
    assert np.isnan(unknown.distances(np.ones((2, 4)))).all()


def test_cosine_distance_is_nan_for_zero_rows() -> None:
    distances = cosine_distance_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]), np.eye(2))
    assert distances[0] == pytest.approx([0.0, 1.0])
    assert np.isnan(distances[1]).all()
