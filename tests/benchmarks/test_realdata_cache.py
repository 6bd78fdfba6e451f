"""The estimator cache and the report helpers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from realdata.cache import FrameRecord, load_records, save_records
from realdata.report import format_cell, format_table, write_json

from posecast.engines.frames import FramePoses


def poses(count: int) -> FramePoses:
    rng = np.random.default_rng(count)
    return FramePoses(
        skeleton="blazepose_33",
        boxes_xyxy=rng.random((count, 4)).astype(np.float32),
        scores=rng.random(count).astype(np.float32),
        joints2d_px=rng.random((count, 33, 2)).astype(np.float32),
        joints_cam_m=rng.random((count, 33, 3)).astype(np.float32),
        joint_scores=rng.random((count, 33)).astype(np.float32),
    )


def test_records_round_trip(tmp_path: Path) -> None:
    records = {
        "a": FrameRecord(poses(2), {"total": 12.5}, np.ones((3, 4)), np.ones(3), 4.0),
        "b": FrameRecord(poses(0), {"total": 3.0}, np.zeros((0, 4)), np.zeros(0)),
    }
    save_records(tmp_path / "cache.npz", records, {"commit": "abc"})
    loaded, metadata = load_records(tmp_path / "cache.npz")
    assert metadata == {"commit": "abc"}
    assert list(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["a"].poses.joints2d_px, records["a"].poses.joints2d_px)
    assert len(loaded["b"].poses) == 0 and loaded["b"].poses.num_joints == 33
    assert loaded["a"].timing_ms == {"total": 12.5}
    assert loaded["a"].detector_ms == 4.0 and math.isnan(loaded["b"].detector_ms)
    assert loaded["a"].detector_xyxy.shape == (3, 4)


def test_format_table() -> None:
    table = format_table("T", ["name", "value"], [["a", 0.5], ["bb", float("nan")], ["c", 3]])
    assert table.splitlines() == [
        "T",
        "name  value",
        "----  -----",
        "a     0.500",
        "bb        -",
        "c         3",
    ]
    assert format_cell(None) == "-" and format_cell(1.23456, 1) == "1.2"


def test_write_json_turns_nan_into_null(tmp_path: Path) -> None:
    write_json(tmp_path / "out.json", {"x": float("nan"), "y": np.float32(2), "z": np.arange(2)})
    assert json.loads((tmp_path / "out.json").read_text()) == {"x": None, "y": 2.0, "z": [0, 1]}
