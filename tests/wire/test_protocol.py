"""The stream protocol's client messages and framing, and the server messages."""

from __future__ import annotations

import dataclasses

import pytest

from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.errors import InvalidInputError, UnsupportedMediaTypeError
from posecast.settings import bounded_fields
from posecast.tracker.config import SmoothingConfig, TrackerConfig
from posecast.wire.messages import EndMessage, ErrorMessage, decode_message, encode_message
from posecast.wire.protocol import (
    FRAME_MAGIC,
    CalibrationOptions,
    PlacementOptions,
    SmoothingOptions,
    TrackerOptions,
    decode_frame,
    encode_frame,
    parse_control,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"rest"


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
    ("options", "config_type"),
    [
        (TrackerOptions, TrackerConfig),
        (SmoothingOptions, SmoothingConfig),
        (CalibrationOptions, CalibrationConfig),
        (PlacementOptions, PlacementConfig),
    ],
)
def test_options_mirror_every_setting_with_its_bounds(options, config_type) -> None:
    settings = {spec.name: spec for spec in bounded_fields(config_type)}
    assert set(settings) <= set(options.model_fields)
    for name, spec in settings.items():
        bounds = spec.metadata["bounds"]
        limits = {type(m).__name__: m for m in options.model_fields[name].metadata}
        if bounds.le is not None:
            assert limits["Le"].le == bounds.le, name
        if bounds.gt is not None:
            assert limits["Gt"].gt == bounds.gt, name
    plain = {f.name for f in dataclasses.fields(config_type)} - set(settings)
    assert plain <= {"association", "smoothing"}  # the two non-numeric fields


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"type": "config", "tracker": {"confirm_hits": 1000000000000}}', "confirm_hits"),
        ('{"type": "config", "tracker": {"searching_timeout_s": 1e300}}', "searching_timeout_s"),
        ('{"type": "config", "tracker": {"max_tracks": 0}}', "max_tracks"),
        ('{"type": "config", "smoothing": {"min_cutoff_hz": -1}}', "min_cutoff_hz"),
        ('{"type": "config", "detect_every": 100000000000000000000000000000}', "detect_every"),
        ('{"type": "config", "fov_deg": 1e999}', "fov_deg"),
        ('{"type": "config", "calibration": {"stature_prior_m": 17}}', "stature_prior_m"),
        ('{"type": "config", "calibration": {"min_people": 0}}', "min_people"),
        ('{"type": "config", "placement": {"monocular_scale": 1e9}}', "monocular_scale"),
        ('{"type": "config", "placement": {"max_lean_deg": -5}}', "max_lean_deg"),
        ('{"type": "config", "include_predicted": "yes please"}', "include_predicted"),
        ('{"type": "config", "tracker": {"reid_window_s": 1e9}}', "reid_window_s"),
        ('{"type": "config", "tracker": {"appearance_gallery_size": 100000}}', "gallery_size"),
        (
            '{"type": "config", "references": [{"id": 1000000000000000000000000000000,'
            ' "joints2d": [[1, 2]], "confidence": [1]}]}',
            "references.0.id",
        ),
    ],
)
def test_absurd_values_are_invalid_input_naming_the_field(text: str, where: str) -> None:
    with pytest.raises(InvalidInputError, match=where):
        parse_control(text)
