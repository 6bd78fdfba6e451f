"""onnxruntime backend: CPU by default, CUDA or the TensorRT execution provider on request.

Only the TensorRT EP builds engines for an optimization profile; its batches run in chunks
of the profile's ``max_batch`` (``chunking``). The CPU and CUDA providers take any batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from posecast.engines.assets import file_sha256
from posecast.engines.runtimes.base import (
    PROFILE_PROVIDERS,
    ClosingContext,
    RuntimeOptions,
    TensorSpec,
    fixed_item_shape,
)
from posecast.engines.runtimes.chunking import infer_in_chunks
from posecast.engines.runtimes.engine_cache import CODE_VERSION, engine_cache_dir
from posecast.errors import ModelError, ProviderUnavailableError

ORT_PROVIDER_NAMES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt-ep": "TensorrtExecutionProvider",
}

ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def provider_chain(
    options: RuntimeOptions, input_specs: tuple[TensorSpec, ...], model_sha256: str = ""
) -> list[Any]:
    """The onnxruntime provider list for ``options``: the asked provider first; with the
    TensorRT EP, CUDA runs the nodes TensorRT cannot take."""
    cuda = ("CUDAExecutionProvider", {"device_id": options.device_id})
    if options.provider == "cpu":
        return ["CPUExecutionProvider"]
    if options.provider == "cuda":
        return [cuda]
    tensorrt = (
        "TensorrtExecutionProvider",
        tensorrt_ep_options(options, input_specs, model_sha256),
    )
    return [tensorrt, cuda]


def tensorrt_ep_options(
    options: RuntimeOptions,
    input_specs: tuple[TensorSpec, ...],
    model_sha256: str = "",
) -> dict[str, str]:
    """TensorRT EP settings: engine and timing caches on disk, FP16, and an explicit profile so
    the engine covers every batch size the batcher sends (no rebuild at run time).

    The EP names its cached engines by the model alone, so each combination of model, build
    settings and onnxruntime version gets its own cache folder (``tensorrt_ep_cache_dir``):
    a changed setting builds a new engine instead of loading a stale one.
    """

    item_shapes = {
        spec.name: fixed_item_shape(spec.name, spec.shape[1:], options) for spec in input_specs
    }

    def shapes(batch: int) -> str:
        return ",".join(
            f"{name}:" + "x".join(str(dim) for dim in (batch, *item_shape))
            for name, item_shape in item_shapes.items()
        )

    profile = options.profile
    settings = {
        "device_id": str(options.device_id),
        "trt_fp16_enable": str(options.fp16).lower(),
        "trt_profile_min_shapes": shapes(profile.min_batch),
        "trt_profile_opt_shapes": shapes(profile.opt_batch),
        "trt_profile_max_shapes": shapes(profile.max_batch),
    }
    cache_dir = str(tensorrt_ep_cache_dir(options, settings, model_sha256))
    settings |= {
        "trt_engine_cache_enable": "true",
        "trt_engine_cache_path": cache_dir,
        "trt_timing_cache_enable": "true",
        "trt_timing_cache_path": cache_dir,
    }
    return settings


def tensorrt_ep_cache_dir(
    options: RuntimeOptions, build_settings: Mapping[str, str], model_sha256: str
) -> Path:
    """``{engine cache}/onnxruntime-trt/{digest}``: one folder per model, EP build settings
    (precision, profile shapes, device), onnxruntime version and posecast code version."""
    key = {
        "model_sha256": model_sha256,
        "onnxruntime": ort.__version__,
        "code_version": CODE_VERSION,
        "settings": dict(build_settings),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return engine_cache_dir(options) / "onnxruntime-trt" / digest


def _specs(values: list[Any]) -> tuple[TensorSpec, ...]:
    specs = []
    for value in values:
        if value.type not in ORT_DTYPES:
            raise ModelError(f"tensor {value.name} has unsupported type {value.type}")
        shape = tuple(dim if isinstance(dim, int) else None for dim in value.shape)
        specs.append(TensorSpec(value.name, shape, np.dtype(ORT_DTYPES[value.type])))
    return tuple(specs)


def _cpu_session(model_path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])


class OnnxRuntime(ClosingContext):
    """An ONNX model in an onnxruntime session."""

    def __init__(self, model_path: Path, options: RuntimeOptions) -> None:
        wanted = ORT_PROVIDER_NAMES[options.provider]
        available = ort.get_available_providers()
        if wanted not in available:
            raise ProviderUnavailableError(
                f"provider {options.provider!r} ({wanted}) is not available; this onnxruntime "
                f"offers {available} (for GPUs install onnxruntime-gpu instead of onnxruntime)"
            )
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.intra_op_threads
        session_options.inter_op_num_threads = options.inter_op_threads
        session_options.log_severity_level = 3
        # Idle intra-op threads spin by default; with several models taking turns on a few
        # cores, the spinning threads of one steal the cores the next one runs on.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            # The TensorRT EP needs the input shapes for its profile before the session exists.
            input_specs = (
                _specs(_cpu_session(model_path).get_inputs())
                if options.provider == ("tensorrt-ep")
                else ()
            )
            model_sha256 = file_sha256(model_path) if options.provider == "tensorrt-ep" else ""
            providers = provider_chain(options, input_specs, model_sha256)
            for _, provider_options in providers[:-1]:  # the TensorRT EP's cache folder
                Path(provider_options["trt_engine_cache_path"]).mkdir(parents=True, exist_ok=True)
            self._session = ort.InferenceSession(
                str(model_path), sess_options=session_options, providers=providers
            )
        except ort.capi.onnxruntime_pybind11_state.Fail as error:  # type: ignore[attr-defined]
            raise ModelError(f"cannot load {model_path}: {error}") from error
        active = self._session.get_providers()
        if active[0] != wanted:
            # onnxruntime falls back silently when e.g. CUDA libraries fail to load.
            raise ProviderUnavailableError(
                f"asked for {wanted} but onnxruntime activated {active}; check CUDA/TensorRT "
                "libraries"
            )
        self.inputs = _specs(self._session.get_inputs())
        self.outputs = _specs(self._session.get_outputs())
        # Only engines built for a profile limit the batch size (not onnxruntime's CUDA EP).
        self._profile = options.profile if options.provider in PROFILE_PROVIDERS else None
        self._output_names = [spec.name for spec in self.outputs]

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; see ``Runtime.infer``."""
        for spec in self.inputs:
            if spec.name not in feeds:
                raise ModelError(f"missing input {spec.name!r}")
            spec.check(feeds[spec.name])
        if self._profile is None:
            return self._run(feeds)
        return infer_in_chunks(self._run, feeds, self._profile.max_batch, self._profile.min_batch)

    def _run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self._session.run(self._output_names, {name: feeds[name] for name in feeds})
        return dict(zip(self._output_names, results, strict=True))

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]
