"""A real Triton Inference Server on the CPU serving a posecast model repository.

PyTriton (nvidia-pytriton) bundles a tritonserver binary with only the Python backend, so the
repository's ONNX files run in onnxruntime inside the Python models, configured from each
model's ``config.pbtxt`` (written by ``deploy/triton/make_repository.py``): the same
``max_batch_size``, dynamic batcher (preferred batch sizes, queue delay) and instance count
that Triton's own onnxruntime backend would get. Everything in front of the model (gRPC,
Triton's scheduler and dynamic batcher, its metrics) is the real server's.

Runs in its own virtual environment (PyTriton needs numpy < 2; posecast has numpy 2), made
by ``tests/deploy/conftest.py`` or by hand::

    python3 -m venv .venv-pytriton
    .venv-pytriton/bin/pip install nvidia-pytriton onnxruntime 'numpy<2'
    .venv-pytriton/bin/python tests/deploy/pytriton_server.py REPO --grpc-port 8001

Prints ``READY`` (or ``--ready-marker``) once every model is loaded; stops on SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytriton.models.model
from google.protobuf import text_format
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig
from tritonclient.grpc import model_config_pb2

HANDSHAKE_TIMEOUT_S = 60.0

NUMPY_TYPES = {
    model_config_pb2.TYPE_FP32: np.float32,
    model_config_pb2.TYPE_FP16: np.float16,
    model_config_pb2.TYPE_UINT8: np.uint8,
}


def read_config(folder: Path) -> model_config_pb2.ModelConfig:
    config = model_config_pb2.ModelConfig()
    text_format.Parse((folder / "config.pbtxt").read_text(), config)
    return config


def tensors(entries: object) -> list[Tensor]:
    return [
        Tensor(name=entry.name, dtype=NUMPY_TYPES[entry.data_type], shape=tuple(entry.dims))
        for entry in entries  # type: ignore[attr-defined]
    ]


def infer_function(model_path: Path, output_names: list[str]) -> object:
    """One model instance: its own onnxruntime session, one thread per run."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        results = session.run(output_names, inputs)
        return dict(zip(output_names, results, strict=True))

    return infer


def bind_model(triton: Triton, folder: Path) -> None:
    config = read_config(folder)
    model_file = folder / "1" / (config.default_model_filename or "model.onnx")
    output_names = [entry.name for entry in config.output]
    instances = sum(group.count for group in config.instance_group) or 1
    batching = config.dynamic_batching
    triton.bind(
        model_name=config.name,
        infer_func=[infer_function(model_file, output_names) for _ in range(instances)],
        inputs=tensors(config.input),
        outputs=tensors(config.output),
        config=ModelConfig(
            max_batch_size=config.max_batch_size,
            batcher=DynamicBatcher(
                max_queue_delay_microseconds=batching.max_queue_delay_microseconds,
                preferred_batch_size=list(batching.preferred_batch_size),
            ),
        ),
        strict=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--models", help="comma-separated subset of the repository")
    parser.add_argument("--ready-marker", default="READY", help="printed once serving")
    args = parser.parse_args()
    # The Python backend's stub embeds the libpython it finds first; it must be this
    # interpreter's (a system libpython of another patch release breaks multiprocessing).
    libdir = sysconfig.get_config_var("LIBDIR")
    os.environ["LD_LIBRARY_PATH"] = ":".join(
        part for part in (libdir, os.environ.get("LD_LIBRARY_PATH")) if part
    )
    # PyTriton's handshake between a model's stub and this process allows 1 s, too little on
    # a loaded machine: wait longer here, and let the stub skip the shared-memory tensor
    # store (a multiprocessing manager it starts before answering) for plain serialisation.
    os.environ["PYTRITON_NO_TENSORSTORE"] = "1"
    handshake = pytriton.models.model.get_config_from_handshake_server
    pytriton.models.model.get_config_from_handshake_server = functools.partial(
        handshake, timeout_s=HANDSHAKE_TIMEOUT_S
    )
    wanted = set(args.models.split(",")) if args.models else None
    folders = sorted(
        folder
        for folder in args.repository.iterdir()
        if (folder / "config.pbtxt").is_file() and (wanted is None or folder.name in wanted)
    )
    config = TritonConfig(
        grpc_address="127.0.0.1",
        http_address="127.0.0.1",
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        metrics_address="127.0.0.1",
        allow_metrics=True,
        allow_gpu_metrics=False,
        log_verbose=0,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Triton(config=config) as triton:
        for folder in folders:
            bind_model(triton, folder)
        triton.run()
        print(args.ready_marker, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
