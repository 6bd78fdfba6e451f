"""Moved: person detectors live in ``posecast.engines.detectors`` (NanoDet in
``detectors.nanodet``, the records and config in ``detectors.base``). These names stay
importable from here until every importer has moved."""

from __future__ import annotations

from posecast.engines.detectors.base import DetectorConfig, PersonBoxes
from posecast.engines.detectors.nanodet import NanoDetPersonDetector

__all__ = ["DetectorConfig", "NanoDetPersonDetector", "PersonBoxes"]
