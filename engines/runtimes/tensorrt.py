"""Native TensorRT backend: builds (or loads from the engine cache) an engine from ONNX and runs
it with device and pinned host buffers held by torch, allocated once for the profile's largest
batch (TensorRT's ``samples/python/common_runtime.py`` pattern: copy in, execute, copy out,
synchronise).

GPU only: nothing here has been executed on a machine with a GPU yet (docs/gpu.md). The pure
parts it relies on (cache key, atomic cache, chunking, profile) live in ``engine_cache``,
``chunking`` and ``base`` and are tested everywhere.

Threads: an execution context must not be used by two threads at once, so ``infer`` holds a
lock (direct mode calls a shared runtime from one thread per stream; the batcher from one
worker). One ``trt.Logger`` for the whole process: TensorRT keeps a single logger pointer.
"""

from __future__ import annotations

import functools
import logging
import threading
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
from posecast.engines.runtimes.chunking import infer_in_chunks
from posecast.engines.runtimes.engine_cache import (
    EngineCache,
    EngineCacheKey,
    engine_cache_dir,
    load_or_build,
    write_atomic,
)
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


@functools.cache
def trt_logger(trt: Any) -> Any:
    """The process's one TensorRT logger (TensorRT holds a single logger pointer, so every
    builder and runtime must share it)."""
    return trt.Logger(trt.Logger.WARNING)


def _check(ok: object, what: str) -> None:
    """Every TensorRT call that reports failure by a falsy result goes through here."""
    if not ok:
        raise ModelError(f"TensorRT failed to {what} (see the TensorRT log above)")


def builder_flags(options: RuntimeOptions) -> tuple[str, ...]:
    """Names of the ``trt.BuilderFlag`` members ``build_engine`` sets (part of the cache key)."""
    return ("FP16",) if options.fp16 else ()


def engine_cache_key(
    model_sha256: str,
    options: RuntimeOptions,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
) -> EngineCacheKey:
    """The cache key of the engine ``build_engine`` makes for ``options``: every setting it
    reads (precision and builder flags, profile, item shapes, workspace) and the code version."""
    return EngineCacheKey(
        model_sha256=model_sha256,
        tensorrt_version=tensorrt_version,
        gpu_name=gpu_name,
        compute_capability=compute_capability,
        precision="fp16" if options.fp16 else "fp32",
        profile=options.profile,
        item_shapes=options.item_shapes,
        workspace_bytes=WORKSPACE_BYTES,
        builder_flags=builder_flags(options),
    )


def build_engine(
    trt: Any, onnx_path: Path, options: RuntimeOptions, timing_cache: Path | None
) -> bytes:
    """Parse ONNX and build a serialized engine whose optimization profile covers
    ``options.profile`` batch sizes on dim 0 of every input; other dynamic dims are fixed at
    ``options.item_shapes``."""
    profile = options.profile
    builder = trt.Builder(trt_logger(trt))
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, trt_logger(trt))
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    for flag in builder_flags(options):
        config.set_flag(getattr(trt.BuilderFlag, flag))
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
        write_atomic(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


class TensorRTRuntime(ClosingContext):
    """A TensorRT engine with device and pinned host buffers for the profile's max batch.

    Batches larger than the profile run in chunks of ``max_batch``; smaller than
    ``min_batch`` are padded. Thread-safe (one lock around each ``infer``).
    """

    def __init__(self, model_path: Path, options: RuntimeOptions) -> None:
        trt, torch = _import_gpu_stack()
        self._torch = torch
        self._profile = options.profile
        self._device = torch.device("cuda", options.device_id)
        self._lock = threading.Lock()
        # The runtime must outlive the engines it deserialised: keep it.
        self._trt_runtime = trt.Runtime(trt_logger(trt))
        with torch.cuda.device(self._device):
            self._engine = self._load_or_build(trt, torch, model_path, options)
            self._context = self._engine.create_execution_context()
            _check(self._context, "create an execution context")
            self._stream = torch.cuda.Stream(device=self._device)
            self.inputs, self.outputs = self._tensor_specs(trt, options)
            self._device_buffers, self._host_buffers = self._allocate(torch, options)
        for name, buffer in self._device_buffers.items():
            _check(self._context.set_tensor_address(name, buffer.data_ptr()), f"bind {name}")

    def _load_or_build(
        self, trt: Any, torch: Any, model_path: Path, options: RuntimeOptions
    ) -> Any:
        gpu_name = torch.cuda.get_device_name(self._device)
        key = engine_cache_key(
            file_sha256(model_path),
            options,
            trt.__version__,
            gpu_name,
            tuple(torch.cuda.get_device_capability(self._device)),
        )
        cache = EngineCache(engine_cache_dir(options))
        timings = cache.timing_cache_path(trt.__version__, gpu_name)
        return load_or_build(
            cache,
            key,
            model_path.stem,
            build=lambda: build_engine(trt, model_path, options, timings),
            deserialize=self._trt_runtime.deserialize_cuda_engine,
        )

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

    def _allocate(self, torch: Any, options: RuntimeOptions) -> tuple[dict, dict]:
        device, host = {}, {}
        for spec in (*self.inputs, *self.outputs):
            shape = (options.profile.max_batch, *spec.shape[1:])
            dtype = getattr(torch, spec.dtype.name)
            device[spec.name] = torch.empty(shape, dtype=dtype, device=self._device)
            host[spec.name] = torch.empty(shape, dtype=dtype, pin_memory=True)
        return device, host

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a batch of any size (chunks within the profile); see ``Runtime.infer``."""
        for spec in self.inputs:
            if spec.name not in feeds:
                raise ModelError(f"missing input {spec.name!r}")
            spec.check(feeds[spec.name])
        with self._lock:
            return infer_in_chunks(
                self._run_chunk, feeds, self._profile.max_batch, self._profile.min_batch
            )

    def _run_chunk(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy in, execute, copy out, synchronise: one chunk inside the profile."""
        torch = self._torch
        batch_size = len(feeds[self.inputs[0].name])
        with torch.cuda.device(self._device), torch.cuda.stream(self._stream):
            for spec in self.inputs:
                host = self._host_buffers[spec.name][:batch_size]
                np.copyto(host.numpy(), feeds[spec.name])
                self._device_buffers[spec.name][:batch_size].copy_(host, non_blocking=True)
                shape = (batch_size, *spec.shape[1:])
                _check(self._context.set_input_shape(spec.name, shape), f"set {spec.name} shape")
            _check(self._context.execute_async_v3(self._stream.cuda_stream), "execute")
            for spec in self.outputs:
                self._host_buffers[spec.name][:batch_size].copy_(
                    self._device_buffers[spec.name][:batch_size], non_blocking=True
                )
        self._stream.synchronize()
        return {
            spec.name: self._host_buffers[spec.name][:batch_size].numpy().copy()
            for spec in self.outputs
        }

    def close(self) -> None:
        with self._lock:
            self._device_buffers = {}
            self._host_buffers = {}
            self._context = None
            self._engine = None
            self._trt_runtime = None
