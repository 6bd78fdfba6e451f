"""Runtimes: one small interface ("run this batch") over onnxruntime and native TensorRT.

Backends are chosen by name from a table of lazy imports, so ``tensorrt`` and ``torch`` are
imported only when the TensorRT backend is asked for.

Usage::

    from posecast.engines.runtimes import RuntimeOptions, create_runtime
    with create_runtime(path, RuntimeOptions(provider="cpu", intra_op_threads=2)) as runtime:
        outputs = runtime.infer({"image": batch})
"""

from posecast.engines.runtimes.base import (
    BatchProfile,
    Runtime,
    RuntimeOptions,
    TensorSpec,
    create_runtime,
    warm_up,
)

__all__ = ["BatchProfile", "Runtime", "RuntimeOptions", "TensorSpec", "create_runtime", "warm_up"]
