"""Native TensorRT backend: builds (or loads from cache) an engine from ONNX and runs it with
device buffers held by torch.

GPU only. Nothing here runs on a machine without CUDA and TensorRT; the pure parts (cache key,
profile, shape checks) live in ``engine_cache`` and ``base`` and are tested everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.assets import file_sha256
from posecast.engines.runtimes.base import (
    ClosingContext,
    RuntimeOptions,
    TensorSpec,
    fixed_item_shape,
)
from posecast.engines.runtimes.engine_cache import EngineCacheKey, timing_cache_path
from posecast.errors import ModelError, ProviderUnavailableError

logger = logging.getLogger(__name__)

WORKSPACE_BYTES = 1 << 30


def _import_gpu_stack() -> tuple[Any, Any]:
    try:
        import tensorrt as trt
        import torch
    except ImportError as error:
        raise ProviderUnavailableError(
            f"provider 'tensorrt' needs the gpu extra (pip install 'posecast[gpu]'): {error}"
        ) from error
    if not torch.cuda.is_available():
        raise ProviderUnavailableError("provider 'tensorrt' needs a CUDA GPU; none is visible")
    return trt, torch


def _check(ok: object, what: str) -> None:
    """Every TensorRT call that reports failure by a falsy result goes through here."""
    if not ok:
        raise ModelError(f"TensorRT failed to {what} (see the TensorRT log above)")


def build_engine(
    trt: Any, onnx_path: Path, options: RuntimeOptions, timing_cache: Path | None
) -> bytes:
    """Parse ONNX and build a serialized engine whose optimization profile covers
    ``options.profile`` batch sizes on dim 0 of every input; other dynamic dims are fixed at
    ``options.item_shapes``."""
    profile = options.profile
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if options.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    optimization_profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        item_shape = fixed_item_shape(tensor.name, tuple(tensor.shape)[1:], options)
        optimization_profile.set_shape(
            tensor.name,
            (profile.min_batch, *item_shape),
            (profile.opt_batch, *item_shape),
            (profile.max_batch, *item_shape),
        )
    config.add_optimization_profile(optimization_profile)
    cached_timings = timing_cache.read_bytes() if timing_cache and timing_cache.exists() else b""
    config.set_timing_cache(config.create_timing_cache(cached_timings), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    _check(serialized, f"build an engine from {onnx_path}")
    if timing_cache is not None:
        timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


class TensorRTRuntime(ClosingContext):
    """A TensorRT engine with input/output buffers allocated once for the profile's max batch."""

    def __init__(self, model_path: Path, options: RuntimeOptions) -> None:
        trt, torch = _import_gpu_stack()
        self._torch = torch
        self._profile = options.profile
        self._device = torch.device("cuda", options.device_id)
        torch.cuda.set_device(self._device)
        engine_bytes = self._load_or_build(trt, torch, model_path, options)
        self._engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(
            engine_bytes
        )
        _check(self._engine, f"deserialize the engine of {model_path}")
        self._context = self._engine.create_execution_context()
        _check(self._context, "create an execution context")
        self._stream = torch.cuda.Stream(device=self._device)
        self.inputs, self.outputs = self._tensor_specs(trt, options)
        self._buffers = {
            spec.name: torch.empty(
                (options.profile.max_batch, *spec.shape[1:]),
                dtype=getattr(torch, spec.dtype.name),
                device=self._device,
            )
            for spec in (*self.inputs, *self.outputs)
        }
        for name, buffer in self._buffers.items():
            _check(self._context.set_tensor_address(name, buffer.data_ptr()), f"bind {name}")

    def _load_or_build(
        self, trt: Any, torch: Any, model_path: Path, options: RuntimeOptions
    ) -> bytes:
        key = EngineCacheKey(
            model_sha256=file_sha256(model_path),
            tensorrt_version=trt.__version__,
            gpu_name=torch.cuda.get_device_name(self._device),
            compute_capability=torch.cuda.get_device_capability(self._device),
            precision="fp16" if options.fp16 else "fp32",
            profile=options.profile,
            item_shapes=options.item_shapes,
        )
        cache_dir = options.engine_cache_dir
        if cache_dir is None:
            return build_engine(trt, model_path, options, None)
        cache_dir.mkdir(parents=True, exist_ok=True)
        engine_path = key.engine_path(cache_dir, model_path.stem)
        if engine_path.exists():
            logger.info("loading cached TensorRT engine %s", engine_path)
            return engine_path.read_bytes()
        logger.info("building TensorRT engine for %s (minutes on first run)", model_path.name)
        timings = timing_cache_path(cache_dir, key.tensorrt_version, key.gpu_name)
        engine_bytes = build_engine(trt, model_path, options, timings)
        engine_path.write_bytes(engine_bytes)
        key.write_sidecar(engine_path)
        return engine_bytes

    def _tensor_specs(
        self, trt: Any, options: RuntimeOptions
    ) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
        """Input shapes as built; output shapes as the context resolves them for those
        (the engine reports -1 for dims that depend on an input's dynamic dims)."""
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        input_names = [
            name for name in names if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        ]
        inputs = []
        for name in input_names:
            item_shape = fixed_item_shape(
                name, tuple(self._engine.get_tensor_shape(name))[1:], options
            )
            shape = (options.profile.max_batch, *item_shape)
            _check(self._context.set_input_shape(name, shape), f"set {name} shape")
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            inputs.append(TensorSpec(name, (None, *item_shape), dtype))
        outputs = [
            TensorSpec(
                name,
                (None, *tuple(self._context.get_tensor_shape(name))[1:]),
                np.dtype(trt.nptype(self._engine.get_tensor_dtype(name))),
            )
            for name in names
            if name not in input_names
        ]
        return tuple(inputs), tuple(outputs)

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, execute, copy out, synchronise; see ``Runtime.infer``."""
        batch_size = len(feeds[self.inputs[0].name])
        self._profile.check_batch(batch_size)
        with self._torch.cuda.stream(self._stream):
            for spec in self.inputs:
                spec.check(feeds[spec.name])
                host = self._torch.from_numpy(np.ascontiguousarray(feeds[spec.name]))
                self._buffers[spec.name][:batch_size].copy_(host, non_blocking=True)
                shape = (batch_size, *spec.shape[1:])
                _check(self._context.set_input_shape(spec.name, shape), f"set {spec.name} shape")
            _check(self._context.execute_async_v3(self._stream.cuda_stream), "execute")
            results = {
                spec.name: self._buffers[spec.name][:batch_size].to("cpu", non_blocking=True)
                for spec in self.outputs
            }
        self._stream.synchronize()
        return {name: tensor.numpy() for name, tensor in results.items()}

    def close(self) -> None:
        self._buffers.clear()
        self._context = None
        self._engine = None
