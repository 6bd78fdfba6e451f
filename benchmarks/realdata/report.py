"""What every real-data benchmark shares: its command line, run metadata, tables, JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.estimator import EstimatorConfig
from posecast.tracker.config import TrackerConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
Cell = str | int | float | None


def benchmark_arguments(description: str, default_cache: str) -> argparse.ArgumentParser:
    """The shared options: --data, --json, --cache, --from-cache, --threads."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="real data root, e.g. ../shared/data/real"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(default_cache),
        help="the estimator's per-frame output is written here (default: %(default)s)",
    )
    parser.add_argument(
        "--from-cache",
        action="store_true",
        help="re-score the output stored in --cache instead of running the models",
    )
    parser.add_argument("--threads", type=int, default=1, help="operator threads (default 1)")
    return parser


def configure_logging() -> None:
    """The kit's INFO messages on stderr; others' (py-motmetrics logs its timings at INFO on
    the root logger) only from WARNING up."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("realdata").setLevel(logging.INFO)


def _git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def run_metadata(threads: int) -> dict[str, Any]:
    """Date, commit, uncommitted changes under engines/ and tracker/, threads, config."""
    changed = _git("status", "--porcelain", "--", "engines", "tracker")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_pipeline_files": len(changed.splitlines()) if changed != "unknown" else None,
        "threads": threads,
        "estimator_config": repr(EstimatorConfig()),
        "tracker_config": repr(TrackerConfig()),
    }


def describe_run(metadata: dict[str, Any], from_cache: bool) -> str:
    """One line naming the run the figures come from."""
    source = "cached run" if from_cache else "run"
    changed = metadata.get("uncommitted_pipeline_files")
    dirty = f", {changed} uncommitted files in engines/ tracker/" if changed else ""
    return (
        f"{source} of {metadata.get('date')} at commit {metadata.get('commit')}{dirty}, "
        f"CPU, {metadata.get('threads')} thread(s)"
    )


def format_cell(value: Cell, digits: int = 3) -> str:
    """Numbers for a table: NaN and None as '-', floats with ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.{digits}f}"
    return str(value)


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A plain-text table: the title, then left-aligned first column, right-aligned others."""
    cells = [[format_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    return "\n".join([title, line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (dataclasses, numpy values, NaN as null) as indented JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(_jsonable(payload), indent=2) + "\n")
