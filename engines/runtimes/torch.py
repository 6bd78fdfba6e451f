"""PyTorch backend: the ONNX models as torch modules, on a CUDA GPU (``torch``) or the CPU
(``torch-cpu``, the reference of its tests).

The graph is translated by ``torch_graph`` (no ``onnx`` or ``onnx2torch`` needed: a GPU host
with PyTorch alone runs it). FP32 or FP16 (``RuntimeOptions.fp16``: weights and activations
in half precision, inputs cast on the device, outputs returned as float32). Batches of any
size run in chunks of the profile's ``max_batch``. With ``RuntimeOptions.cuda_graphs``, each
chunk is padded up to a power of two (or ``max_batch``) and replayed from a CUDA graph
captured at that size on first use (``warm_up`` captures them ahead), which removes the
Python and kernel-launch overhead of small batches.

Threads: one lock around each ``infer`` (captured graphs own static input and output
buffers; one GPU serialises the work anyway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.runtimes.base import ClosingContext, RuntimeOptions, TensorSpec
from posecast.engines.runtimes.chunking import infer_in_chunks
from posecast.engines.runtimes.onnx_graph import ValueInfo, read_onnx
from posecast.errors import ModelError, ProviderUnavailableError

logger = logging.getLogger(__name__)

MAX_CAPTURED_GRAPHS = 32
"""Most CUDA graphs kept per runtime (one per input shape; a detector at many input sizes
would otherwise keep capturing); shapes beyond run eagerly."""


def _import_torch(provider: str) -> Any:
    try:
        import torch
    except ImportError as error:
        raise ProviderUnavailableError(
            f"provider {provider!r} needs PyTorch (pip install torch): {error}"
        ) from error
    if provider == "torch" and not torch.cuda.is_available():
        raise ProviderUnavailableError(
            "provider 'torch' runs on a CUDA GPU and none is visible to this PyTorch "
            f"({torch.__version__}); 'torch-cpu' runs the same modules on the CPU"
        )
    return torch


def graph_batch_sizes(max_batch: int) -> tuple[int, ...]:
    """The batch sizes CUDA graphs are captured at: powers of two below ``max_batch``, and
    ``max_batch`` (few graphs; a chunk pads at most to twice its size)."""
    sizes = {max_batch}
    size = 1
    while size < max_batch:
        sizes.add(size)
        size *= 2
    return tuple(sorted(sizes))


def _spec(info: ValueInfo) -> TensorSpec:
    shape = tuple(dim if isinstance(dim, int) and dim >= 0 else None for dim in info.shape)
    return TensorSpec(info.name, shape, info.dtype)


class TorchRuntime(ClosingContext):
    """An ONNX model run as a torch module; see the module docstring."""

    def __init__(self, model_path: Path, options: RuntimeOptions) -> None:
        torch = _import_torch(options.provider)
        from posecast.engines.runtimes.torch_graph import OnnxModule  # imports torch

        self._torch = torch
        is_cuda = options.provider == "torch"
        if options.cuda_graphs and not is_cuda:
            raise ModelError("cuda_graphs needs provider 'torch' (a CUDA GPU)")
        self._device = torch.device("cuda", options.device_id) if is_cuda else torch.device("cpu")
        self._dtype = torch.float16 if options.fp16 else torch.float32
        graph = read_onnx(model_path)
        self.inputs = tuple(_spec(info) for info in graph.inputs)
        self.outputs = tuple(_spec(info) for info in graph.outputs)
        if any(spec.dtype != np.float32 for spec in (*self.inputs, *self.outputs)):
            raise ModelError(f"{model_path.name}: the torch provider runs float32 models only")
        module = OnnxModule(graph).eval().to(device=self._device, dtype=self._dtype)
        # Channels-last weights: the models take NHWC images, whose NCHW view is already
        # channels-last, and cuDNN and oneDNN run those convolutions fastest.
        self._module = module.to(memory_format=torch.channels_last)
        if not is_cuda and options.intra_op_threads > 0:
            torch.set_num_threads(options.intra_op_threads)  # process-wide in torch
        self._profile = options.profile
        self._graph_sizes = graph_batch_sizes(options.profile.max_batch)
        self._use_graphs = options.cuda_graphs
        self._graphs: dict[tuple[tuple[int, ...], ...], _CapturedGraph] = {}
        self._stream = torch.cuda.Stream(self._device) if is_cuda else None
        self._lock = threading.Lock()

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a batch of any size; see ``Runtime.infer``."""
        for spec in self.inputs:
            if spec.name not in feeds:
                raise ModelError(f"missing input {spec.name!r}")
            spec.check(feeds[spec.name])
        with self._lock:
            return infer_in_chunks(
                self._run_chunk,
                {spec.name: feeds[spec.name] for spec in self.inputs},
                self._profile.max_batch,
                allowed_sizes=self._graph_sizes if self._use_graphs else None,
            )

    def _forward(self, *inputs: Any) -> tuple[Any, ...]:
        """Cast to the compute dtype, run, cast the outputs back to float32."""
        results = self._module(*(tensor.to(self._dtype) for tensor in inputs))
        return tuple(result.float() for result in results)

    def _run_chunk(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        arrays = [np.ascontiguousarray(feeds[spec.name]) for spec in self.inputs]
        with torch.inference_mode():
            if self._stream is None:
                results = self._forward(*(torch.from_numpy(array) for array in arrays))
                return self._to_numpy(results)
            with torch.cuda.device(self._device), torch.cuda.stream(self._stream):
                captured = self._captured_graph(arrays) if self._use_graphs else None
                if captured is not None:
                    results = captured.replay(arrays)
                else:
                    tensors = [
                        torch.from_numpy(array).to(self._device, non_blocking=True)
                        for array in arrays
                    ]
                    results = self._forward(*tensors)
                host = self._to_numpy(results)
            return host

    def _to_numpy(self, results: tuple[Any, ...]) -> dict[str, np.ndarray]:
        # .cpu() waits for the stream's work; copies, so captured buffers can be reused.
        return {
            spec.name: result.cpu().numpy().copy()
            for spec, result in zip(self.outputs, results, strict=True)
        }

    def _captured_graph(self, arrays: list[np.ndarray]) -> _CapturedGraph | None:
        shapes = tuple(array.shape for array in arrays)
        captured = self._graphs.get(shapes)
        if captured is None and len(self._graphs) < MAX_CAPTURED_GRAPHS:
            logger.info("capturing a CUDA graph for input shapes %s", shapes)
            captured = _CapturedGraph(
                self._torch, self._forward, arrays, self._device, self._stream
            )
            self._graphs[shapes] = captured
        return captured

    def close(self) -> None:
        with self._lock:
            self._graphs.clear()
            self._module = None


class _CapturedGraph:
    """One CUDA graph of ``forward`` at fixed input shapes, with its static buffers."""

    def __init__(
        self, torch: Any, forward: Any, arrays: list[np.ndarray], device: Any, stream: Any
    ) -> None:
        self._torch = torch
        self._static_inputs = [torch.from_numpy(array).to(device) for array in arrays]
        # Warm-up runs on the capture stream itself, so that lazily created library handles
        # (cuDNN, cuBLAS) exist before capture starts.
        for _ in range(2):
            forward(*self._static_inputs)
        stream.synchronize()
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph, stream=stream, capture_error_mode="thread_local"):
            self._static_outputs = forward(*self._static_inputs)

    def replay(self, arrays: list[np.ndarray]) -> tuple[Any, ...]:
        for static, array in zip(self._static_inputs, arrays, strict=True):
            static.copy_(self._torch.from_numpy(array), non_blocking=True)
        self._graph.replay()
        return self._static_outputs
