"""A track's appearance: an exponential average of its descriptors and a capped gallery.

Descriptors (``posecast.engines.appearance``) are vectors whose cosine similarity measures how
alike two people's clothes look; a zero vector means nothing was visible. The average follows
slow changes (lighting, turning round) and is what frame-to-frame association compares; the
gallery keeps up to ``size`` past descriptors, at least ``interval_s`` apart, so a lost person
is recognised by how they looked at any time in their recent past (DeepSORT's gallery, with a
bound on memory).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """(N, D) rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def cosine_distance_matrix(tracks: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """(T, D) x (N, D) -> (T, N) cosine distances in [0, 2]; NaN where either row is zero."""
    a, b = unit_rows(tracks), unit_rows(detections)
    distances = 1.0 - a @ b.T
    is_known = (np.abs(a).sum(axis=1) > 0)[:, None] & (np.abs(b).sum(axis=1) > 0)[None, :]
    return np.where(is_known, distances, np.nan)


@dataclass
class AppearanceModel:
    """One track's appearance.

    Attributes:
        time_constant_s: time constant of the average.
        gallery_size: most descriptors kept in the gallery.
        gallery_interval_s: least time between two gallery descriptors.
        mean: (D,) unit-length average, None before the first descriptor.
        gallery: up to ``gallery_size`` unit-length descriptors, oldest first.
    """

    time_constant_s: float
    gallery_size: int
    gallery_interval_s: float
    mean: np.ndarray | None = None
    gallery: deque[np.ndarray] = field(default_factory=deque)
    _last_update_s: float | None = None
    _last_gallery_s: float | None = None

    def __post_init__(self) -> None:
        self.gallery = deque(self.gallery, maxlen=self.gallery_size)

    @property
    def is_known(self) -> bool:
        return self.mean is not None

    def update(self, descriptor: np.ndarray, timestamp_s: float) -> None:
        """Fold in a clean descriptor (a zero one is ignored)."""
        norm = float(np.linalg.norm(descriptor))
        if norm == 0 or not np.isfinite(norm):
            return
        unit = np.asarray(descriptor, np.float64) / norm
        if self.mean is None or self._last_update_s is None:
            self.mean = unit
        else:
            elapsed_s = max(timestamp_s - self._last_update_s, 0.0)
            weight = 1.0 - np.exp(-elapsed_s / self.time_constant_s)
            mixed = (1.0 - weight) * self.mean + weight * unit
            self.mean = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        self._last_update_s = timestamp_s
        if (
            self._last_gallery_s is None
            or timestamp_s - self._last_gallery_s >= self.gallery_interval_s
        ):
            self.gallery.append(unit)
            self._last_gallery_s = timestamp_s

    def distances(self, descriptors: np.ndarray) -> np.ndarray:
        """(N,) cosine distance of each descriptor to the average; NaN where unknown."""
        if self.mean is None:
            return np.full(len(descriptors), np.nan)
        return cosine_distance_matrix(self.mean[None], descriptors)[0]

    def nearest_distances(self, descriptors: np.ndarray) -> np.ndarray:
        """(N,) smallest cosine distance of each descriptor to the average and the gallery;
        NaN where unknown."""
        if self.mean is None:
            return np.full(len(descriptors), np.nan)
        stored = np.stack([self.mean, *self.gallery])
        return np.min(cosine_distance_matrix(stored, descriptors), axis=0)
