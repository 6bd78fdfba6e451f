"""Service settings: environment variables with the ``POSECAST_`` prefix and an optional file.

Built by the CLI (``posecast serve``) or by whoever calls ``create_app``, never at import time.
Precedence, highest first: explicit keyword arguments, environment variables, the config file
(TOML or JSON, keys are the field names), the defaults below.

Usage::

    settings = load_settings(Path("posecast.toml"), port=9000)
    app = create_app(settings)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from posecast.engines.assets import DEFAULT_MODEL_DIR
from posecast.engines.detectors.base import DetectorConfig, parse_input_size_wh
from posecast.engines.detectors.loading import DetectorName
from posecast.engines.geometry.skeletons import SKELETONS
from posecast.engines.runtimes.base import Provider, TritonOptions
from posecast.errors import InvalidInputError
from posecast.settings import MIN_PERSON_HEIGHT_PX_RANGE
from posecast.wire.protocol import FRAME_HEADER_ALLOWANCE_BYTES


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string (handy in environment variables)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class ServiceSettings(BaseSettings):
    """Everything ``posecast serve`` can be told; env var ``POSECAST_<FIELD>`` sets a field.

    Lists (``api_keys``, ``cors_origins``) take a JSON list or a comma-separated string.
    """

    model_config = SettingsConfigDict(
        env_prefix="POSECAST_", extra="forbid", validate_default=True, frozen=True
    )

    # Network.
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port)")

    # Models.
    engine: Literal["blazepose", "metrabs"] = Field(
        "blazepose",
        description="pose engine: blazepose (shipped) or metrabs (a MeTRAbs model converted "
        "into model_dir by tools/convert_metrabs.py, docs/metrabs.md)",
    )
    pose_model: Literal["lite", "full", "heavy"] = Field("full", description="BlazePose variant")
    model_dir: Path = Field(
        DEFAULT_MODEL_DIR,
        description="folder of user-supplied models with their manifest (heavy landmark "
        "model, prepared YOLOX-Nano); models it does not list come from the shipped ones",
    )
    detector: DetectorName = Field(
        "nanodet", description="person detector (yolox-nano: prepared in model_dir)"
    )
    min_person_height_px: float = Field(
        DetectorConfig.min_person_height_px,
        ge=MIN_PERSON_HEIGHT_PX_RANGE[0],
        le=MIN_PERSON_HEIGHT_PX_RANGE[1],
        description="default height in frame pixels of the smallest person to find (sets the "
        "detector's input size; a stream's config may ask for another)",
    )
    detector_input: str | None = Field(
        None,
        description="fixed detector input WIDTHxHEIGHT (multiples of 32) instead of the "
        "rule; needed for TensorRT, e.g. 960x544",
    )
    provider: Provider = Field("cpu", description="where the models run (docs/gpu.md)")
    threads: int = Field(0, ge=0, description="threads per model run (0: all cores)")
    fp16: bool = Field(
        False, description="TensorRT and torch precision (compare accuracy before using)"
    )
    cuda_graphs: bool = Field(
        False, description="torch provider: replay CUDA graphs captured per batch size"
    )
    engine_cache_dir: Path | None = Field(
        None,
        description="where TensorRT engines and timing caches are kept between runs "
        "(default ~/.cache/posecast/engines)",
    )
    # Provider triton: the models run on a Triton Inference Server (docs/deploy.md).
    triton_url: str = Field(
        TritonOptions.url, description="provider triton: gRPC address host:port of the server"
    )
    triton_timeout_s: float = Field(
        TritonOptions.timeout_s,
        gt=0.0,
        le=600.0,
        description="provider triton: deadline of one model request",
    )
    triton_startup_timeout_s: float = Field(
        TritonOptions.startup_timeout_s,
        ge=0.0,
        le=3600.0,
        description="provider triton: how long startup waits for the server and its models",
    )
    default_skeleton: str = Field(
        "blazepose_33",
        description="joint set when none is asked (with engine metrabs: smpl_24 unless set; "
        "a MeTRAbs model's own formats are checked when it is loaded)",
    )

    # Dynamic batching: one batcher per model, shared by all streams.
    max_batch_size: int = Field(
        8,
        ge=1,
        le=1024,
        description="largest batch of model inputs; TensorRT engines are built for 1 to this "
        "(raising it costs engine memory and build time)",
    )
    max_batch_delay_s: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="longest wait of a batch's oldest request; 0 batches what queued up "
        "while the model was busy (best measured on CPU), a few ms fills GPU batches",
    )
    max_queue_size: int = Field(64, ge=1, description="requests waiting for the batcher")

    # Limits.
    max_streams: int = Field(16, ge=1, description="concurrent WebSocket streams")
    max_image_requests: int = Field(
        4,
        ge=1,
        le=1024,
        description="POST /v1/poses requests handled at once; more are answered 503 with "
        "Retry-After before their body is read (memory: at most this many bodies and decoded "
        "images at a time)",
    )
    max_frame_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="largest encoded image (HTTP body or WebSocket)"
    )
    max_frame_pixels: int = Field(
        4096 * 4096, ge=64 * 64, description="largest decoded image (width x height)"
    )

    # WebSocket streams.
    stream_queue_size: int = Field(
        2, ge=1, le=64, description="frames waiting per stream; when full the oldest is dropped"
    )
    send_queue_size: int = Field(
        8, ge=1, le=1024, description="outgoing messages waiting per stream"
    )
    send_timeout_s: float = Field(
        10.0, gt=0.0, description="a stream whose reader stalls this long is closed (1008)"
    )
    ws_ping_interval_s: float = Field(20.0, gt=0.0, description="keepalive ping period")
    ws_ping_timeout_s: float = Field(20.0, gt=0.0, description="close if no pong within this")

    # Shutdown.
    drain_timeout_s: float = Field(
        10.0, ge=0.0, description="at shutdown, how long in-flight frames may take to finish"
    )

    # Security.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="bearer keys; empty: no auth"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS; empty: CORS off"
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _lists_from_strings(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_keys")
    @classmethod
    def _non_empty_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if any(not key.get_secret_value() for key in keys):
            raise ValueError("API keys must not be empty")
        return keys

    @field_validator("detector_input")
    @classmethod
    def _input_size(cls, text: str | None) -> str | None:
        if text is not None:
            parse_input_size_wh(text)
        return text

    @model_validator(mode="before")
    @classmethod
    def _engine_default_skeleton(cls, data: Any) -> Any:
        """MeTRAbs models have no BlazePose joints: their default is SMPL's 24."""
        if isinstance(data, dict) and data.get("engine") == "metrabs":
            return {"default_skeleton": "smpl_24", **data}
        return data

    @field_validator("default_skeleton")
    @classmethod
    def _known_skeleton(cls, name: str, info: ValidationInfo) -> str:
        is_model_format = info.data.get("engine") == "metrabs" and name.startswith("metrabs_")
        if name not in SKELETONS and not is_model_format:
            raise ValueError(f"unknown skeleton {name!r}; valid: {', '.join(sorted(SKELETONS))}")
        return name

    @property
    def is_auth_enabled(self) -> bool:
        return bool(self.api_keys)

    @property
    def ws_max_message_bytes(self) -> int:
        """uvicorn's ``ws_max_size``: one frame with its header, never more."""
        return self.max_frame_bytes + FRAME_HEADER_ALLOWANCE_BYTES


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if path.suffix == ".toml":
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    if path.suffix == ".json":
        return JsonConfigSettingsSource(settings_cls, json_file=path)
    raise InvalidInputError(f"config file {path}: expected a .toml or .json file")


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> ServiceSettings:
    """Settings from keyword overrides, ``POSECAST_*`` variables, the config file, defaults.

    Raises:
        InvalidInputError: missing or unreadable config file, or invalid values (the message
            names the fields).
    """
    overrides = {name: value for name, value in overrides.items() if value is not None}
    path = None if config_file is None else Path(config_file)
    if path is not None and not path.is_file():
        raise InvalidInputError(f"config file {path}: no such file")
    try:
        if path is None:
            return ServiceSettings(**overrides)

        class _FileSettings(ServiceSettings):
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, env_settings, _file_source(settings_cls, path))

        merged = _FileSettings(**overrides)
        return ServiceSettings.model_validate(
            {name: getattr(merged, name) for name in ServiceSettings.model_fields}
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg']}"
            for item in error.errors()
        )
        raise InvalidInputError(f"invalid settings: {problems}") from None
    except (ValueError, OSError) as error:  # unreadable or malformed file
        raise InvalidInputError(f"invalid settings: {error}") from None
