"""Synthetic 3DPW roots written in the real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthetic.threedpw import SyntheticScene, make_walking_scene, write_sequence


@pytest.fixture
def scenes() -> dict[str, SyntheticScene]:
    """Two test sequences: two persons x 12 frames, one person x 8 frames."""
    return {
        "seq_a": make_walking_scene(num_persons=2, num_frames=12, seed=1),
        "seq_b": make_walking_scene(num_persons=1, num_frames=8, seed=2),
    }


@pytest.fixture
def threedpw_root(tmp_path: Path, scenes: dict[str, SyntheticScene]) -> Path:
    """A 3DPW root with split ``test``; seq_a has 3 person-frames that are not evaluated:
    person 0 frame 2 (camera pose invalid) and person 1 frames 5, 6 (2D pose missing)."""
    root = tmp_path / "3DPW"
    campose_valid = np.ones((2, 12), bool)
    campose_valid[0, 2] = False
    is_detected = np.ones((2, 12), bool)
    is_detected[1, 5:7] = False
    write_sequence(
        root, "test", "seq_a", scenes["seq_a"], campose_valid=campose_valid, is_detected=is_detected
    )
    write_sequence(root, "test", "seq_b", scenes["seq_b"])
    return root
