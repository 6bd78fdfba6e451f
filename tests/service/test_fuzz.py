"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis), against a
real server with fake engines: no input may cause a server error or break the schema."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def fuzz_server(serve: Any) -> Iterator[Any]:
    with serve(max_frame_bytes=1_000_000, max_frame_pixels=1000 * 1000) as server:
        yield server


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_api_never_fails_from_its_schema(fuzz_server: Any, images: SimpleNamespace) -> None:
    """Every operation, MAX_EXAMPLES generated requests each (schemathesis' pytest plugin does
    not support this pytest, so hypothesis drives the strategies directly); the checks are
    schemathesis' defaults (no 5xx, documented status codes and content types, responses
    matching the schema, schema-invalid requests rejected) except positive data acceptance.
    /v1/poses runs twice: with generated bodies, and with a valid PNG so that the generated
    query parameters (fov_deg, intrinsics, skeleton) reach the camera and model code."""
    operations = _operations(fuzz_server.http_url)
    assert {operation.path for operation in operations} >= {"/v1/poses", "/v1/skeletons"}
    valid_png = images.png()
    runs = [(operation, False) for operation in operations]
    runs += [(operation, True) for operation in operations if operation.path == "/v1/poses"]
    for operation, is_valid_image in runs:
        _fuzz(operation, fuzz_server.http_url, valid_png if is_valid_image else None)


def _fuzz(operation: Any, base_url: str, image: bytes | None) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        # Semantic checks (decodable image, valid K, fov xor intrinsics) are not in the
        # schema, so schema-valid requests may rightly get 4xx.
        excluded = [positive_data_acceptance]
        if image is not None:
            case.media_type = "image/png"
            case.body = image
            excluded.append(negative_data_rejection)  # the body no longer is what was generated
        case.call_and_validate(base_url=base_url, timeout=10, excluded_checks=excluded)

    run()


def test_server_still_ready_after_fuzzing(fuzz_server: Any) -> None:
    assert httpx.get(fuzz_server.http_url + "/v2/health/ready").status_code == 200
