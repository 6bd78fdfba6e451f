"""Service settings: sources and precedence; the error table."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecast.errors import (
    AuthenticationError,
    InvalidInputError,
    ModelError,
    PayloadTooLargeError,
    QueueFullError,
    TooManyRequestsError,
    TooManyStreamsError,
    UnsupportedMediaTypeError,
)
from posecast.service.errors import ERROR_SPECS, error_spec
from posecast.service.settings import load_settings


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "posecast.toml"
    config.write_text('pose_model = "lite"\nthreads = 3\nmax_streams = 5\n')
    monkeypatch.setenv("POSECAST_THREADS", "2")
    monkeypatch.setenv("POSECAST_CORS_ORIGINS", "http://a, http://b")
    monkeypatch.setenv("POSECAST_API_KEYS", '["k1", "k2"]')
    settings = load_settings(config, max_streams=7)
    assert settings.pose_model == "lite"  # file
    assert settings.threads == 2  # env beats file
    assert settings.max_streams == 7  # keyword beats all
    assert settings.cors_origins == ["http://a", "http://b"]
    assert [key.get_secret_value() for key in settings.api_keys] == ["k1", "k2"]
    assert settings.port == 8000  # default


def test_settings_json_file_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "posecast.json"
    config.write_text('{"provider": "cuda", "max_frame_bytes": 2048}')
    assert load_settings(config).provider == "cuda"
    with pytest.raises(InvalidInputError, match="no such file"):
        load_settings(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("unknown_field = 1\n")
    with pytest.raises(InvalidInputError, match="unknown_field"):
        load_settings(tmp_path / "bad.toml")
    (tmp_path / "x.yaml").write_text("a: 1")
    with pytest.raises(InvalidInputError, match=r"\.toml or \.json"):
        load_settings(tmp_path / "x.yaml")
    for bad in ({"max_streams": 0}, {"provider": "tpu"}, {"default_skeleton": "x"}):
        with pytest.raises(InvalidInputError):
            load_settings(**bad)


@pytest.mark.parametrize(
    ("error", "status", "close_code"),
    [
        (AuthenticationError(), 401, 1008),
        (TooManyStreamsError(), 503, 1008),
        (TooManyRequestsError(), 503, 1013),
        (PayloadTooLargeError(), 413, 1009),
        (UnsupportedMediaTypeError(), 415, 1003),
        (InvalidInputError(), 422, 1008),
        (QueueFullError(), 503, 1013),
        (ModelError(), 500, 1011),
        (RuntimeError(), 500, 1011),
    ],
)
def test_error_table(error: Exception, status: int, close_code: int) -> None:
    spec = error_spec(error)
    assert (spec.http_status, spec.close_code) == (status, close_code)
    assert all(1000 <= s.close_code <= 1015 for s in ERROR_SPECS.values())
