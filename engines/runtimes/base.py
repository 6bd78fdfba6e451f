"""The runtime interface, its options, and the backend table."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self, get_args

import numpy as np

from posecast.errors import InvalidInputError, ModelError

Provider = Literal["cpu", "cuda", "tensorrt-ep", "tensorrt", "torch", "torch-cpu", "triton"]
"""``cpu``/``cuda``/``tensorrt-ep`` run through onnxruntime; ``tensorrt`` is native TensorRT;
``torch`` runs the ONNX graph as a PyTorch module on a CUDA GPU, ``torch-cpu`` the same on
the CPU (the torch path's reference and tests); ``triton`` sends every batch to a Triton
Inference Server over gRPC (``RuntimeOptions.triton``; docs/deploy.md)."""

PROVIDERS: tuple[str, ...] = get_args(Provider)

BACKENDS: dict[str, str] = {
    "cpu": "posecast.engines.runtimes.onnx:OnnxRuntime",
    "cuda": "posecast.engines.runtimes.onnx:OnnxRuntime",
    "tensorrt-ep": "posecast.engines.runtimes.onnx:OnnxRuntime",
    "tensorrt": "posecast.engines.runtimes.tensorrt:TensorRTRuntime",
    "torch": "posecast.engines.runtimes.torch:TorchRuntime",
    "torch-cpu": "posecast.engines.runtimes.torch:TorchRuntime",
    "triton": "posecast.engines.runtimes.triton:TritonRuntime",
}
"""Provider -> ``module:class``, imported only when that provider is chosen."""

PROFILE_PROVIDERS = ("tensorrt", "tensorrt-ep")
"""Providers whose engines are built for an optimization profile: only its batch sizes, and one
shape of the other dimensions (a detector's input size)."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None for a dynamic dimension) and dtype of a model input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    def check(self, array: np.ndarray) -> None:
        """Raise InvalidInputError unless ``array`` fits this spec (dynamic dims match anything)."""
        if array.dtype != self.dtype:
            raise InvalidInputError(f"{self.name}: expected dtype {self.dtype}, got {array.dtype}")
        fits = len(array.shape) == len(self.shape) and all(
            want is None or want == got for want, got in zip(self.shape, array.shape, strict=True)
        )
        if not fits:
            raise InvalidInputError(f"{self.name}: expected shape {self.shape}, got {array.shape}")


@dataclass(frozen=True)
class BatchProfile:
    """The batch sizes an engine is built for (TensorRT optimization profile: min/opt/max).

    Raising ``max_batch`` allows bigger batches at the cost of engine memory and build time;
    ``opt_batch`` is the size TensorRT tunes its kernels for (the batcher's usual batch).
    """

    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(
                f"batch profile needs 1 <= min <= opt <= max, got "
                f"{self.min_batch}/{self.opt_batch}/{self.max_batch}"
            )

    @classmethod
    def for_batcher(cls, max_batch_size: int) -> BatchProfile:
        """The profile for models behind a dynamic batcher of ``max_batch_size``: every size
        from 1 to it, tuned for full batches (the batcher's batches under load, where
        throughput matters)."""
        return cls(1, max_batch_size, max_batch_size)

    def check_batch(self, batch_size: int) -> None:
        if not self.min_batch <= batch_size <= self.max_batch:
            raise InvalidInputError(
                f"batch of {batch_size} is outside the engine profile "
                f"[{self.min_batch}, {self.max_batch}]; split it (the batcher does)"
            )


@dataclass(frozen=True)
class TritonOptions:
    """Where the ``triton`` provider finds its models, and how long it waits.

    Attributes:
        url: gRPC address ``host:port`` of the Triton server, or of a load balancer in front
            of a pool of them, or ``dns:///name:port`` of a name resolving to every server of
            a pool (requests go round-robin over them).
        timeout_s: deadline of one inference request; a server that does not answer in time
            fails that batch with ``ModelError`` (never a hang). Raise it above the slowest
            batch including Triton's queueing.
        startup_timeout_s: how long loading a model waits for the server and the model to be
            ready before ``ProviderUnavailableError``.
    """

    url: str = "127.0.0.1:8001"
    timeout_s: float = 10.0
    startup_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.startup_timeout_s < 0:
            raise InvalidInputError("Triton timeouts must be positive")


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model.

    Attributes:
        provider: where to run (see ``Provider``); an unavailable one is an error, never a
            silent CPU fallback.
        intra_op_threads: threads inside one operator (0: onnxruntime's default, all cores).
        inter_op_threads: threads across independent operators (0: default).
        fp16: TensorRT and torch precision; FP16 is faster but can cost pose accuracy
            (compare first: ``benchmarks/gpu_check.py``).
        engine_cache_dir: where TensorRT engines and timing caches are kept between runs;
            None: ``engine_cache.default_engine_cache_dir()`` (``~/.cache/posecast/engines``,
            or ``$POSECAST_ENGINE_CACHE_DIR``).
        device_id: CUDA device index.
        profile: batch sizes the engine is built for (TensorRT) or captured at (torch with
            CUDA graphs). Batches of any size still run: bigger ones in chunks of
            ``max_batch``, smaller ones padded up to ``min_batch``.
        cuda_graphs: torch provider: replay CUDA graphs captured per batch size (padded up to
            powers of two within the profile) instead of launching every kernel from Python.
        item_shapes: ``(input name, shape without the batch axis)`` pairs for inputs whose
            other dimensions the model leaves dynamic (a detector's height and width):
            TensorRT builds its engine for exactly these shapes. onnxruntime's CPU and CUDA
            providers ignore them. The detectors set them from ``input_size_wh``.
        triton: the server of the ``triton`` provider (ignored by the others).
    """

    provider: Provider = "cpu"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    fp16: bool = False
    engine_cache_dir: Path | None = None
    device_id: int = 0
    profile: BatchProfile = BatchProfile()
    item_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    cuda_graphs: bool = False
    triton: TritonOptions = TritonOptions()

    def __post_init__(self) -> None:
        if self.provider not in BACKENDS:
            raise InvalidInputError(
                f"unknown provider {self.provider!r}; choose one of {sorted(BACKENDS)}"
            )
        if self.intra_op_threads < 0 or self.inter_op_threads < 0:
            raise InvalidInputError("thread counts must be >= 0")


def fixed_item_shape(
    name: str, model_item_shape: tuple[int | None, ...], options: RuntimeOptions
) -> tuple[int, ...]:
    """The shape without the batch axis that an engine of fixed input dims is built for: the
    model's own, or ``options.item_shapes``' where the model leaves dims dynamic (None or
    negative).

    Raises:
        ModelError: a dynamic dim and no shape for it in ``options.item_shapes``, or a given
            shape that contradicts the model's fixed dims.
    """
    given = dict(options.item_shapes).get(name)
    is_dynamic = [dim is None or dim < 0 for dim in model_item_shape]
    if given is None:
        if any(is_dynamic):
            raise ModelError(
                f"input {name} has dynamic dims besides the batch ({model_item_shape}); "
                f"provider {options.provider!r} builds for one shape: give "
                "RuntimeOptions.item_shapes (for a detector: set DetectorConfig.input_size_wh)"
            )
        return tuple(int(dim) for dim in model_item_shape)  # type: ignore[arg-type]
    fits = len(given) == len(model_item_shape) and all(
        dynamic or dim == size
        for dynamic, dim, size in zip(is_dynamic, model_item_shape, given, strict=True)
    )
    if not fits:
        raise ModelError(f"item_shapes gives {name} {given}; the model has {model_item_shape}")
    return tuple(given)


class Runtime(Protocol):
    """A loaded model that runs whole batches: named arrays in, named arrays out."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; every output has the batch size of the inputs."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class ClosingContext:
    """``with runtime:`` support for classes that define ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def create_runtime(model_path: Path, options: RuntimeOptions | None = None) -> Runtime:
    """Load ``model_path`` (ONNX) with the backend that ``options.provider`` names.

    Raises:
        ModelError: the file is missing or cannot be loaded.
        ProviderUnavailableError: the provider is not available on this machine.
    """
    options = options or RuntimeOptions()
    if not Path(model_path).is_file():
        raise ModelError(f"model file not found: {model_path}")
    module_name, class_name = BACKENDS[options.provider].split(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    return backend(Path(model_path), options)


def warm_up(runtime: Runtime, batch_sizes: Iterable[int]) -> None:
    """Run every batch size once, since the first use of a new shape is slow (allocations,
    kernel selection, TensorRT shape specialisation)."""
    for batch_size in batch_sizes:
        feeds = {
            spec.name: np.zeros(
                (batch_size, *(dim or 1 for dim in spec.shape[1:])), dtype=spec.dtype
            )
            for spec in runtime.inputs
        }
        runtime.infer(feeds)
