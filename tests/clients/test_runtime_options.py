"""The command line's runtime options reach the estimator's models."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from posecast.clients import options as options_module
from posecast.engines.runtimes.base import PROVIDERS


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    options_module.add_model_options(parser)
    return parser.parse_args(argv)


@pytest.fixture
def captured(monkeypatch) -> dict:
    seen: dict = {}

    def from_config(config, runtime_options, model_dir):
        seen["options"] = runtime_options
        return "estimator"

    monkeypatch.setattr(options_module.PoseEstimator, "from_config", from_config)
    return seen


def test_gpu_options_reach_the_runtime_options(captured, tmp_path) -> None:
    args = _parse(
        [
            "--provider",
            "torch",
            "--fp16",
            "--cuda-graphs",
            "--engine-cache-dir",
            str(tmp_path),
            "--threads",
            "3",
        ]
    )
    assert options_module.estimator_for(args) == "estimator"
    options = captured["options"]
    assert (options.provider, options.fp16, options.cuda_graphs) == ("torch", True, True)
    assert options.engine_cache_dir == Path(tmp_path) and options.intra_op_threads == 3


def test_without_a_cache_folder_the_default_one_is_used(captured) -> None:
    """None in the options means the default cache (~/.cache/posecast/engines), so a second
    `posecast track --provider tensorrt` loads the engines the first one built."""
    options_module.estimator_for(_parse(["--provider", "tensorrt"]))
    assert captured["options"].engine_cache_dir is None


def test_every_provider_is_a_choice() -> None:
    for provider in PROVIDERS:
        assert _parse(["--provider", provider]).provider == provider
