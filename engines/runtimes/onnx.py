"""onnxruntime backend: CPU by default, CUDA or the TensorRT execution provider on request."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from posecast.engines.runtimes.base import (
    ClosingContext,
    RuntimeOptions,
    TensorSpec,
    fixed_item_shape,
)
from posecast.errors import ModelError, ProviderUnavailableError

ORT_PROVIDER_NAMES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt-ep": "TensorrtExecutionProvider",
}

ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def provider_chain(options: RuntimeOptions, input_specs: tuple[TensorSpec, ...]) -> list[Any]:
    """The onnxruntime provider list for ``options``: the asked provider first; with the
    TensorRT EP, CUDA runs the nodes TensorRT cannot take."""
    cuda = ("CUDAExecutionProvider", {"device_id": options.device_id})
    if options.provider == "cpu":
        return ["CPUExecutionProvider"]
    if options.provider == "cuda":
        return [cuda]
    return [("TensorrtExecutionProvider", tensorrt_ep_options(options, input_specs)), cuda]


def tensorrt_ep_options(
    options: RuntimeOptions, input_specs: tuple[TensorSpec, ...]
) -> dict[str, str]:
    """TensorRT EP settings: engine and timing caches on disk, FP16, and an explicit profile so
    the engine covers every batch size the batcher sends (no rebuild at run time)."""

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
    if options.engine_cache_dir is not None:
        cache_dir = str(options.engine_cache_dir)
        settings |= {
            "trt_engine_cache_enable": "true",
            "trt_engine_cache_path": cache_dir,
            "trt_timing_cache_enable": "true",
            "trt_timing_cache_path": cache_dir,
        }
    return settings


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
            self._session = ort.InferenceSession(
                str(model_path),
                sess_options=session_options,
                providers=provider_chain(options, input_specs),
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
        self._profile = None if options.provider == "cpu" else options.profile
        self._output_names = [spec.name for spec in self.outputs]

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; see ``Runtime.infer``."""
        for spec in self.inputs:
            if spec.name not in feeds:
                raise ModelError(f"missing input {spec.name!r}")
            spec.check(feeds[spec.name])
        if self._profile is not None:
            self._profile.check_batch(len(feeds[self.inputs[0].name]))
        results = self._session.run(self._output_names, {k: feeds[k] for k in feeds})
        return dict(zip(self._output_names, results, strict=True))

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]
