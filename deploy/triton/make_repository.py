"""Write a Triton Inference Server model repository from posecast's models.

    python deploy/triton/make_repository.py OUT                       # onnxruntime, GPU
    python deploy/triton/make_repository.py OUT --kind cpu --instances 2
    python deploy/triton/make_repository.py OUT --backend tensorrt --detector-input 960x544 \\
        --build-plans                                                 # on the Triton GPU host

One folder per model, named as the ``triton`` runtime looks it up (the ONNX file's stem):
``OUT/<model>/config.pbtxt`` and ``OUT/<model>/1/model.onnx`` (``model.plan`` with
``--backend tensorrt``). Every config has

- ``max_batch_size`` and dynamic batching whose preferred batch sizes are the engine profile's
  (``BatchProfile.for_batcher(max_batch_size)``, the profile posecast's own TensorRT engines
  are built for: optimum and maximum), and ``max_queue_delay_microseconds``;
- an instance group (``--instances`` per GPU, or on the CPU with ``--kind cpu``);
- the model's sha256 as parameter ``posecast_model_sha256``: front ends refuse a server whose
  weights differ from their own;
- inputs and outputs read from the ONNX file (dynamic dims as -1; with the TensorRT backend the
  detector's image dims are fixed by ``--detector-input``, as its engine is built for one size).

``--backend tensorrt`` writes configs for the ``tensorrt_plan`` platform; a plan is specific to
the GPU model and TensorRT version, so ``--build-plans`` builds them with posecast's own builder
(``posecast.engines.runtimes.tensorrt.build_engine``) and must run on the Triton host's GPU
type with Triton's TensorRT version. ``--tensorrt-accelerator`` keeps the onnxruntime backend
and lets its TensorRT execution provider build engines at load time instead.

Needs posecast installed (the images have it at /opt/posecast/bin/make_repository.py); the
standard library otherwise (``--build-plans``: tensorrt and torch with CUDA).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.assets import (
    DEFAULT_MODEL_DIR,
    file_sha256,
    read_manifest,
    resolve_model_path,
)
from posecast.engines.detectors.base import parse_input_size_wh
from posecast.engines.runtimes.base import BatchProfile, RuntimeOptions
from posecast.engines.runtimes.onnx_graph import read_onnx
from posecast.engines.runtimes.triton import SHA256_PARAMETER, TRITON_DTYPES, triton_model_name

logger = logging.getLogger("make_repository")

TRITON_TYPES = {np.dtype(dtype): f"TYPE_{name}" for name, dtype in TRITON_DTYPES.items()}


class Enum(str):
    """A protobuf enum value: written bare (``KIND_GPU``), not quoted."""


@dataclass(frozen=True)
class RepositoryConfig:
    """How every model of the repository is served.

    Attributes:
        backend: ``onnxruntime`` (the ONNX files as they are) or ``tensorrt`` (plans).
        max_batch_size: the largest batch Triton forms or accepts; front ends with a larger
            ``POSECAST_MAX_BATCH_SIZE`` split their batches into requests of at most this.
        opt_batch_size: the batch size the engines are tuned for (TensorRT profile optimum);
            preferred by the dynamic batcher together with ``max_batch_size``.
        max_queue_delay_us: longest wait of a request for its batch to fill; raising it gives
            fuller batches at light load for up to that much latency.
        instances: model instances per GPU (or on the CPU); two let one GPU overlap copies
            and runs of consecutive batches, at the cost of memory.
        kind: ``gpu`` or ``cpu`` instances.
        gpus: GPU indices for the instances (empty: every GPU Triton sees).
        fp16: TensorRT precision (plans and the accelerator).
        tensorrt_accelerator: onnxruntime backend only: run through its TensorRT EP.
        detector_input_wh: fixed detector input (width, height); required by TensorRT.
    """

    backend: str = "onnxruntime"
    max_batch_size: int = 8
    opt_batch_size: int | None = None
    max_queue_delay_us: int = 2000
    instances: int = 1
    kind: str = "gpu"
    gpus: tuple[int, ...] = ()
    fp16: bool = False
    tensorrt_accelerator: bool = False
    detector_input_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("onnxruntime", "tensorrt"):
            raise ValueError(f"backend must be onnxruntime or tensorrt, got {self.backend!r}")
        if self.kind not in ("gpu", "cpu"):
            raise ValueError(f"kind must be gpu or cpu, got {self.kind!r}")
        if self.backend == "tensorrt" and self.kind != "gpu":
            raise ValueError("the TensorRT backend runs on GPUs only (--kind gpu)")
        if self.instances < 1 or self.max_queue_delay_us < 0:
            raise ValueError("instances must be >= 1 and the queue delay >= 0")
        self.profile  # noqa: B018 - validates the batch sizes

    @property
    def profile(self) -> BatchProfile:
        """The engine profile, as the service derives it from ``POSECAST_MAX_BATCH_SIZE``."""
        profile = BatchProfile.for_batcher(self.max_batch_size)
        if self.opt_batch_size is None:
            return profile
        return BatchProfile(1, self.opt_batch_size, self.max_batch_size)

    @property
    def preferred_batch_sizes(self) -> list[int]:
        return sorted({self.profile.opt_batch, self.profile.max_batch})


def model_dims(shape: tuple[int | str | None, ...], fixed: tuple[int, ...] | None) -> list[int]:
    """Triton ``dims`` (without the batch dim): -1 for symbolic dims, or ``fixed`` when the
    backend needs them fixed (TensorRT: the detector's input size)."""
    if fixed is not None:
        return list(fixed)
    return [dim if isinstance(dim, int) and dim > 0 else -1 for dim in shape[1:]]


def tensor_entries(values: Any, fixed: dict[str, tuple[int, ...]]) -> list[dict[str, Any]]:
    entries = []
    for value in values:
        if np.dtype(value.dtype) not in TRITON_TYPES:
            raise ValueError(f"tensor {value.name}: dtype {value.dtype} has no Triton type")
        dims = model_dims(value.shape, fixed.get(value.name))
        entries.append(
            {
                "name": value.name,
                "data_type": Enum(TRITON_TYPES[np.dtype(value.dtype)]),
                "dims": dims,
            }
        )
    return entries


def fixed_input_dims(inputs: Any, config: RepositoryConfig) -> dict[str, tuple[int, ...]]:
    """Inputs whose dims the TensorRT backend must fix: a (N, H, W, 3) image with symbolic
    height and width is a detector's and takes ``detector_input_wh``."""
    if config.backend != "tensorrt":
        return {}
    fixed = {}
    for value in inputs:
        dynamic = [not isinstance(dim, int) or dim <= 0 for dim in value.shape[1:]]
        if not any(dynamic):
            continue
        if config.detector_input_wh is None or len(value.shape) != 4:
            raise ValueError(
                f"input {value.name} {value.shape} has dynamic dims; the TensorRT backend "
                "builds for one size: give --detector-input WIDTHxHEIGHT (the front ends' "
                "POSECAST_DETECTOR_INPUT)"
            )
        width, height = config.detector_input_wh
        fixed[value.name] = (height, width, int(value.shape[3]))  # type: ignore[arg-type]
    return fixed


def model_config(name: str, onnx_path: Path, config: RepositoryConfig) -> dict[str, Any]:
    """The ``config.pbtxt`` of one model, as nested dicts and lists (``to_pbtxt``)."""
    graph = read_onnx(onnx_path)
    fixed = fixed_input_dims(graph.inputs, config)
    instance: dict[str, Any] = {
        "count": config.instances,
        "kind": Enum(f"KIND_{config.kind.upper()}"),
    }
    if config.gpus and config.kind == "gpu":
        instance["gpus"] = list(config.gpus)
    entry: dict[str, Any] = {"name": name}
    if config.backend == "onnxruntime":
        entry |= {"backend": "onnxruntime", "default_model_filename": "model.onnx"}
    else:
        entry |= {"platform": "tensorrt_plan", "default_model_filename": "model.plan"}
    entry |= {
        "max_batch_size": config.max_batch_size,
        "input": tensor_entries(graph.inputs, fixed),
        "output": tensor_entries(graph.outputs, {}),
        "dynamic_batching": {
            "preferred_batch_size": config.preferred_batch_sizes,
            "max_queue_delay_microseconds": config.max_queue_delay_us,
        },
        "instance_group": [instance],
        "version_policy": {"latest": {"num_versions": 1}},
        "parameters": [
            {"key": SHA256_PARAMETER, "value": {"string_value": file_sha256(onnx_path)}}
        ],
    }
    if config.backend == "onnxruntime" and config.tensorrt_accelerator:
        precision = "FP16" if config.fp16 else "FP32"
        accelerator = {
            "name": "tensorrt",
            "parameters": [
                {"key": "precision_mode", "value": precision},
                {"key": "max_workspace_size_bytes", "value": str(1 << 30)},
                {"key": "trt_engine_cache_enable", "value": "true"},
            ],
        }
        entry["optimization"] = {
            "execution_accelerators": {"gpu_execution_accelerator": [accelerator]}
        }
    return entry


def to_pbtxt(message: dict[str, Any], indent: int = 0) -> str:
    """Protobuf text format of nested dicts: lists of dicts become repeated messages, lists
    of scalars ``[a, b]``, ``Enum`` values bare, strings quoted (JSON escaping)."""
    pad = "  " * indent
    lines = []
    for key, value in message.items():
        if isinstance(value, dict):
            lines += [f"{pad}{key} {{", to_pbtxt(value, indent + 1), f"{pad}}}"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += [f"{pad}{key} {{", to_pbtxt(item, indent + 1), f"{pad}}}"]
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(item) for item in value)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(line for line in lines if line)


def _scalar(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def model_names(model_dir: Path) -> list[str]:
    """Every model the shipped manifest and ``model_dir``'s list (user models replace
    shipped ones of the same name)."""
    names = set(read_manifest(DEFAULT_MODEL_DIR))
    if Path(model_dir) != DEFAULT_MODEL_DIR and (Path(model_dir) / "manifest.json").is_file():
        names |= set(read_manifest(model_dir))
    return sorted(names)


def write_model(
    out: Path, model: str, model_dir: Path, config: RepositoryConfig, build_plans: bool
) -> Path:
    """Write ``out/<name>/config.pbtxt`` and its version folder; returns the model folder."""
    onnx_path = resolve_model_path(model, model_dir)
    name = triton_model_name(onnx_path)
    folder = out / name
    version = folder / "1"
    version.mkdir(parents=True, exist_ok=True)
    entry = model_config(name, onnx_path, config)
    (folder / "config.pbtxt").write_text(to_pbtxt(entry) + "\n")
    if config.backend == "onnxruntime":
        _copy(onnx_path, version / "model.onnx")
    elif build_plans:
        (version / "model.plan").write_bytes(build_plan(onnx_path, entry, config))
    return folder


def _copy(source: Path, target: Path) -> None:
    """A copy (not a link: nothing done to the repository may reach the installed models)."""
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)


def build_plan(onnx_path: Path, entry: dict[str, Any], config: RepositoryConfig) -> bytes:
    """A TensorRT plan for the config's profile, by posecast's own builder (GPU host only)."""
    from posecast.engines.runtimes.tensorrt import _import_gpu_stack, build_engine

    trt, _ = _import_gpu_stack()
    item_shapes = tuple(
        (tensor["name"], tuple(tensor["dims"]))
        for tensor in entry["input"]
        if all(dim > 0 for dim in tensor["dims"])
    )
    options = RuntimeOptions(
        provider="tensorrt", fp16=config.fp16, profile=config.profile, item_shapes=item_shapes
    )
    return build_engine(trt, onnx_path, options, timing_cache=None)


def make_repository(
    out: Path,
    config: RepositoryConfig,
    models: list[str] | None = None,
    model_dir: Path = DEFAULT_MODEL_DIR,
    build_plans: bool = False,
) -> list[Path]:
    """Write the repository; returns the model folders.

    Raises:
        ModelError: an unknown model, or a file that does not match its manifest.
        ValueError: a config the backend cannot serve (see ``RepositoryConfig``).
    """
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_model(out, model, model_dir, config, build_plans)
        for model in (models or model_names(model_dir))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="repository folder (created)")
    parser.add_argument("--backend", choices=("onnxruntime", "tensorrt"), default="onnxruntime")
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--max-batch-size", type=int, default=8, help="as POSECAST_MAX_BATCH_SIZE")
    parser.add_argument("--opt-batch-size", type=int, help="TensorRT profile optimum (default max)")
    parser.add_argument("--max-queue-delay-us", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=1, help="model instances per GPU")
    parser.add_argument("--kind", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--gpus", help="comma-separated GPU indices (default: all)")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--tensorrt-accelerator", action="store_true")
    parser.add_argument("--detector-input", help="WIDTHxHEIGHT, required by --backend tensorrt")
    parser.add_argument("--build-plans", action="store_true", help="build TensorRT plans here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = RepositoryConfig(
        backend=args.backend,
        max_batch_size=args.max_batch_size,
        opt_batch_size=args.opt_batch_size,
        max_queue_delay_us=args.max_queue_delay_us,
        instances=args.instances,
        kind=args.kind,
        gpus=tuple(int(gpu) for gpu in args.gpus.split(",")) if args.gpus else (),
        fp16=args.fp16,
        tensorrt_accelerator=args.tensorrt_accelerator,
        detector_input_wh=parse_input_size_wh(args.detector_input) if args.detector_input else None,
    )
    models = args.models.split(",") if args.models else None
    folders = make_repository(args.out, config, models, args.model_dir, args.build_plans)
    for folder in folders:
        logger.info("%s", folder)
    if config.backend == "tensorrt" and not args.build_plans:
        logger.info(
            "configs only: build each model's 1/model.plan on the Triton host's GPU type with "
            "--build-plans (same arguments)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
