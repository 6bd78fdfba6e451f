"""Settings sources and precedence, the frame header, config messages and the error table."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecast.errors import InvalidInputError, ModelError, QueueFullError
from posecast.pipeline.wire import stream_config_from_message
from posecast.service.errors import (
    ERROR_SPECS,
    AuthenticationError,
    PayloadTooLargeError,
    TooManyStreamsError,
    UnsupportedMediaTypeError,
    error_spec,
)
from posecast.service.settings import load_settings
from posecast.tracker.config import AssociationMode
from posecast.wire.messages import EndMessage, ErrorMessage, decode_message, encode_message
from posecast.wire.protocol import (
    FRAME_MAGIC,
    ConfigMessage,
    decode_frame,
    encode_frame,
    parse_control,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"rest"


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


def test_frame_header_round_trip() -> None:
    header, image = decode_frame(encode_frame(PNG, frame_id=5, timestamp_s=1.25))
    assert (header.frame_id, header.timestamp_s, image) == (5, 1.25, PNG)
    header, image = decode_frame(encode_frame(PNG))
    assert (header.frame_id, header.timestamp_s, image) == (None, None, PNG)
    assert encode_frame(PNG, frame_id=1).startswith(FRAME_MAGIC)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (FRAME_MAGIC + b"\x01", InvalidInputError),  # truncated length
        (FRAME_MAGIC + (5).to_bytes(4, "little") + b"{}", InvalidInputError),  # beyond message
        (FRAME_MAGIC + (2).to_bytes(4, "little") + b"[]" + PNG, InvalidInputError),  # not object
        (FRAME_MAGIC + (16).to_bytes(4, "little") + b'{"frame_id": -1}' + PNG, InvalidInputError),
        (b"", InvalidInputError),
        (b"BM bitmap", UnsupportedMediaTypeError),
    ],
)
def test_bad_frames(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_frame(data)


def test_config_message_builds_the_stream_config() -> None:
    control = parse_control(
        '{"type": "config", "stream": "c", "skeleton": "smpl_24", "fov_deg": 70,'
        ' "tracker": {"confirm_hits": 2}, "smoothing": {"is_enabled": false},'
        ' "references": [{"id": 4, "joints2d": [[1, 2], [3, 4]], "confidence": [1, 0.5]}]}'
    )
    assert isinstance(control, ConfigMessage)
    config = stream_config_from_message(control, "blazepose_33")
    assert config.skeleton == "smpl_24" and config.fov_deg == 70
    assert config.tracker.confirm_hits == 2 and not config.tracker.smoothing.is_enabled
    assert config.tracker.association is AssociationMode.UNKNOWN  # implied by references
    assert config.references is not None and config.references[0].ids.tolist() == [4]


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "config", "extra": 1}',
        '{"type": "config", "tracker": {"gate": 1}}',
        '{"type": "config", "references": [{"id": 1, "joints2d": [[1]], "confidence": [1]}]}',
        '{"type": "end", "now": true}',
    ],
)
def test_malformed_control_messages(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_control(text)


def test_server_messages_round_trip_in_both_formats() -> None:
    for message in (
        ErrorMessage(code="x", message="y", client_frame_id=3),
        EndMessage(stream="s", frames_processed=2),
    ):
        for output in ("json", "msgpack"):
            assert decode_message(encode_message(message, output)) == message


@pytest.mark.parametrize(
    ("error", "status", "close_code"),
    [
        (AuthenticationError(), 401, 1008),
        (TooManyStreamsError(), 503, 1008),
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
