"""``posecast eval3dpw`` end to end on a synthetic 3DPW root."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from posecast.clients import cli
from posecast.clients.commands import eval3dpw
from posecast.clients.threedpw.layout import load_sequence
from posecast.clients.threedpw.prediction import Prediction3DPW, write_prediction


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="posecast")
    eval3dpw.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


@pytest.fixture
def predictions(threedpw_root: Path, tmp_path: Path) -> Path:
    """seq_a perfect with track ids 1 and 2 (all tracks given); seq_b 40.5 mm off, no tracks."""
    out = tmp_path / "out"
    seq_a = load_sequence(threedpw_root, "test", "seq_a")
    track_ids = np.array([[1] * 12, [2] * 12])
    tracks = {1: seq_a.joints_cam_m[0], 2: seq_a.joints_cam_m[1]}
    write_prediction(out / "test", "seq_a", Prediction3DPW(seq_a.joints_cam_m, track_ids, tracks))
    seq_b = load_sequence(threedpw_root, "test", "seq_b")
    joints = seq_b.joints_cam_m.copy()
    joints[:, :, 1:, 2] += 0.0405
    write_prediction(out / "test", "seq_b", Prediction3DPW(joints))
    return out


def test_table(threedpw_root: Path, predictions: Path, capsys) -> None:
    assert _run(["eval3dpw", "--pred", str(predictions), "--gt", str(threedpw_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3DPW test")
    assert lines[1].split() == [
        "sequence",
        "frames",
        "MPJPE",
        "PA-MPJPE",
        "PCK%",
        "AUC",
        "IDsw",
        "IDrec%",
    ]
    assert lines[2].split() == ["seq_a", "21", "0.0", "0.0", "100.0", "1.000", "0", "100.0"]
    name, frames, mpjpe, _, pck, auc, switches, recall = lines[3].split()
    # 40.5 mm on 23 of 24 joints; AUC: PCK 0 up to 40 mm, 1 from 41 mm: (0.5 + 158) / 199
    assert (name, frames, mpjpe, pck, auc) == ("seq_b", "8", "38.8", "100.0", f"{158.5 / 199:.3f}")
    assert (switches, recall) == ("-", "-")  # no track ids in seq_b's prediction
    assert lines[5].split()[:3] == ["overall", "29", f"{40.5 * 23 / 24 * 8 / 29:.1f}"]


def test_json(threedpw_root: Path, predictions: Path, capsys) -> None:
    argv = [
        "eval3dpw",
        "--pred",
        str(predictions),
        "--gt",
        str(threedpw_root),
        "--split",
        "test",
        "--json",
    ]
    assert _run(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test"
    assert [sequence["name"] for sequence in result["sequences"]] == ["seq_a", "seq_b"]
    assert result["overall"]["num_person_frames"] == 29
    assert result["overall"]["mpjpe_mm"] == pytest.approx(40.5 * 23 / 24 * 8 / 29)
    assert result["sequences"][0]["tracking"]["identity_recall"] == 1.0
    assert result["sequences"][1]["tracking"] is None
    assert result["overall"]["tracking"]["id_switches"] == 0


def test_errors_exit_with_a_message(
    threedpw_root: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("eval3dpw",))
    (tmp_path / "empty").mkdir()
    code = cli.main(["eval3dpw", "--pred", str(tmp_path / "empty"), "--gt", str(threedpw_root)])
    assert code == 2
    assert "posecast eval3dpw: error: no prediction in" in capsys.readouterr().err
