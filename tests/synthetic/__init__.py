"""Synthetic test data generators (not shipped in the wheel).

``scenes``: people walking, crossing, occluded and missed, as per-frame detections with known
identities (tracker tests and ``benchmarks/bench_tracker.py``). ``threedpw``: small sequences
in the real 3DPW layout from known 3D joints (3DPW tooling tests).
"""
